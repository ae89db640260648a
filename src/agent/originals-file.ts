/**
 * The book of originals (src/descriptors/originals.ts) in a file of the agent's state directory,
 * `<label>.originals.json`, so that a restarted agent can still undo what it set on the links of
 * others. Written whole on each change (they are few: one per EXISTING, LOOPBACK or AUTO_TAP item
 * configured or removed), to a temporary file renamed over the old one, so a crash leaves the old
 * book or the new one; removed when the book is empty. A book that cannot be read is set aside
 * (`.bad`) and the agent starts with an empty one: that costs what the book is for, not the start.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MemoryOriginals, originalKey, type RecordedOriginal } from '../descriptors/originals.js';

interface OriginalsFileOptions {
  /** Told what went wrong with the file (the book goes on in memory). */
  onError?: (message: string, error: unknown) => void;
}

const FORMAT = 1;
const TYPES = new Set(['EXISTING', 'LOOPBACK', 'AUTO_TAP']);

export class FileOriginals extends MemoryOriginals {
  constructor(
    readonly file: string,
    private readonly options: OriginalsFileOptions = {},
  ) {
    super();
    this.load();
  }

  static fileFor(stateDir: string, label: string): string {
    return path.join(stateDir, `${label}.originals.json`);
  }

  protected override changed(): void {
    try {
      if (this.entries.size === 0) {
        rmSync(this.file, { force: true });
        return;
      }
      mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      const temporary = `${this.file}.${process.pid}.tmp`;
      const text = JSON.stringify({ format: FORMAT, links: this.all() }, null, 2) + '\n';
      writeFileSync(temporary, text, { mode: 0o600 });
      renameSync(temporary, this.file);
    } catch (error) {
      this.options.onError?.(`cannot write ${this.file}`, error);
    }
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        this.options.onError?.(`cannot read ${this.file}`, error);
      return;
    }
    try {
      const parsed = JSON.parse(text) as { format?: unknown; links?: unknown };
      if (parsed.format !== FORMAT || !Array.isArray(parsed.links))
        throw new Error('not a book of originals');
      for (const entry of parsed.links as unknown[]) {
        if (!isRecordedOriginal(entry)) throw new Error(`bad entry ${JSON.stringify(entry)}`);
        this.entries.set(originalKey(entry.namespaceIdentity, entry.ifindex), entry);
      }
    } catch (error) {
      this.entries.clear();
      this.options.onError?.(`${this.file} cannot be used; set aside as ${this.file}.bad`, error);
      try {
        renameSync(this.file, `${this.file}.bad`);
      } catch {
        // left where it is: it is read again (and set aside again) at the next start
      }
    }
  }
}

function isRecordedOriginal(value: unknown): value is RecordedOriginal {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Partial<RecordedOriginal>;
  const o = e.original;
  return (
    typeof e.key === 'string' &&
    typeof e.type === 'string' &&
    TYPES.has(e.type) &&
    typeof e.namespaceId === 'string' &&
    typeof e.namespaceIdentity === 'string' &&
    Number.isInteger(e.ifindex) &&
    typeof e.hostIfName === 'string' &&
    typeof o === 'object' &&
    o !== null &&
    typeof o.mtu === 'number' &&
    typeof o.up === 'boolean' &&
    typeof o.name === 'string' &&
    (o.mac === undefined || typeof o.mac === 'string') &&
    (e.addresses === undefined ||
      (Array.isArray(e.addresses) && e.addresses.every((a) => typeof a === 'string')))
  );
}
