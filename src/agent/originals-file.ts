/**
 * The book of originals (src/descriptors/originals.ts) in a file of the agent's state directory,
 * `<label>.originals.json`, so that a restarted agent can still undo what it set on the links of
 * others.
 *
 * - Written whole on each change (they are few: one per EXISTING, LOOPBACK or AUTO_TAP item
 *   configured or removed, and per address added to one): to a new temporary file, synced, renamed
 *   over the old one, and the directory synced, so a crash or a power cut leaves the old book or the
 *   new one. Removed when the book is empty.
 * - Valid for one boot only (it names the kernel's boot id): after a reboot the links are not the
 *   ones it describes, and namespace inode numbers are handed out again.
 * - Used only when this user owns it and no one else can write it (nor the directory, unless that
 *   is sticky, as /tmp): the book tells a root agent which links to reconfigure.
 * - A book that cannot be used is set aside (`.bad`) and the agent starts with an empty one: that
 *   costs what the book is for, not the start. One that cannot even be read (or set aside) is left
 *   alone, and the agent keeps its book in memory only, so as not to overwrite it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MemoryOriginals, originalKey, type RecordedOriginal } from '../descriptors/originals.js';
import { readStateFile, removeDurably, setAside, writeAtomically } from './state-file.js';

interface OriginalsFileOptions {
  /** Told what went wrong with the file (the book goes on in memory). */
  onError?: (message: string, error?: unknown) => void;
  /** The kernel's boot id (default: /proc/sys/kernel/random/boot_id). */
  bootId?: string;
}

const FORMAT = 2;
const TYPES = new Set(['EXISTING', 'LOOPBACK', 'AUTO_TAP']);

export class FileOriginals extends MemoryOriginals {
  private readonly bootId: string;
  /** False once the file must not be written (it could not be read, or is not to be trusted). */
  private persist = true;
  private writeQueued = false;

  constructor(
    readonly file: string,
    private readonly options: OriginalsFileOptions = {},
  ) {
    super();
    this.bootId = options.bootId ?? readBootId();
    this.load();
  }

  static fileFor(stateDir: string, label: string): string {
    return path.join(stateDir, `${label}.originals.json`);
  }

  /** Several changes of one turn of the event loop are one write (queued before any request of it). */
  protected override changed(): void {
    if (!this.persist || this.writeQueued) return;
    this.writeQueued = true;
    queueMicrotask(() => {
      this.writeQueued = false;
      this.write();
    });
  }

  private write(): void {
    try {
      if (this.entries.size === 0) {
        removeDurably(this.file);
        return;
      }
      const text = JSON.stringify({ format: FORMAT, bootId: this.bootId, links: this.all() }, null, 2) + '\n';
      writeAtomically(this.file, text);
    } catch (error) {
      this.options.onError?.(`cannot write ${this.file}`, error);
    }
  }

  private load(): void {
    const { text, usable } = readStateFile(
      this.file,
      'the book of originals stays in memory',
      this.options.onError,
    );
    this.persist = usable;
    if (text === undefined) return;
    let parsed: { format?: unknown; bootId?: unknown; links?: unknown };
    try {
      parsed = JSON.parse(text) as typeof parsed;
      if (parsed.format !== FORMAT || !Array.isArray(parsed.links))
        throw new Error('not a book of originals');
    } catch (error) {
      this.setAside(error);
      return;
    }
    if (parsed.bootId !== this.bootId) {
      // Another boot's links: nothing it says is true now. Dropped with the first write.
      this.options.onError?.(`${this.file} is from another boot: not used`);
      return;
    }
    let bad = 0;
    for (const entry of parsed.links as unknown[]) {
      if (isRecordedOriginal(entry))
        this.entries.set(originalKey(entry.namespaceIdentity, entry.ifindex), entry);
      else bad++;
    }
    if (bad > 0) this.options.onError?.(`${this.file}: ${bad} entries that cannot be used were left out`);
  }

  private setAside(error: unknown): void {
    // Not overwritten when it cannot be set aside: looked at again at the next start.
    if (!setAside(this.file, error, this.options.onError)) this.persist = false;
  }
}

function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

function isRecordedOriginal(value: unknown): value is RecordedOriginal {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Partial<RecordedOriginal>;
  const o = e.original;
  const settings = (set: RecordedOriginal['set']): boolean =>
    set === undefined ||
    (typeof set === 'object' &&
      set !== null &&
      (set.mtu === undefined || typeof set.mtu === 'number') &&
      (set.up === undefined || typeof set.up === 'boolean') &&
      (set.mac === undefined || typeof set.mac === 'string'));
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
    settings(e.set) &&
    settings(e.setBefore) &&
    (e.addresses === undefined ||
      (Array.isArray(e.addresses) && e.addresses.every((a) => typeof a === 'string')))
  );
}
