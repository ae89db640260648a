/**
 * The namespaces the agent made something in (src/descriptors/used-namespaces.ts), in the state
 * directory: `<label>.namespaces.json`, written whole and atomically off the event loop when the
 * set changes, removed when it is empty; the same file rules as the other state files.
 */
import path from 'node:path';
import { MemoryUsedNamespaces } from '../descriptors/used-namespaces.js';
import { LatestStateWrite, readStateFile, setAside } from './state-file.js';

const FORMAT = 1;

export class FileUsedNamespaces extends MemoryUsedNamespaces {
  private persist = true;
  private closed = false;
  private readonly writes: LatestStateWrite;

  constructor(
    readonly file: string,
    private readonly onError?: (message: string, error?: unknown) => void,
  ) {
    super();
    this.writes = new LatestStateWrite(
      file,
      () =>
        this.current.length === 0
          ? undefined
          : JSON.stringify({
              format: FORMAT,
              namespaces: this.current,
              // Added later; a reader of the same format without it ignores it.
              ...(this.starts.size > 0 ? { processStarts: Object.fromEntries(this.starts) } : {}),
            }),
      onError,
    );
    this.load();
  }

  static fileFor(stateDir: string, label: string): string {
    return path.join(stateDir, `${label}.namespaces.json`);
  }

  override async recorded(): Promise<void> {
    await this.writes.settled();
  }

  override async close(): Promise<void> {
    this.closed = true;
    await this.writes.settled();
  }

  protected override changed(): void {
    if (this.persist && !this.closed) this.writes.request();
  }
  private load(): void {
    const { text, usable } = readStateFile(this.file, 'the namespaces used are not remembered', this.onError);
    this.persist = usable;
    if (text === undefined) return;
    try {
      const parsed = JSON.parse(text) as { format?: unknown; namespaces?: unknown; processStarts?: unknown };
      if (parsed.format !== FORMAT || !Array.isArray(parsed.namespaces))
        throw new Error('not a file of namespaces');
      this.current = [
        ...new Set(parsed.namespaces.filter((id): id is string => typeof id === 'string')),
      ].sort();
      const starts = parsed.processStarts;
      if (typeof starts === 'object' && starts !== null && !Array.isArray(starts))
        for (const [id, start] of Object.entries(starts))
          if (this.current.includes(id) && Number.isSafeInteger(start) && (start as number) >= 0)
            this.starts.set(id, start as number);
    } catch (error) {
      if (!setAside(this.file, error, this.onError)) this.persist = false;
    }
  }
}
