/**
 * The last valid value of every configuration key, in a file of the agent's state directory
 * (`<label>.last-valid.json`), for one case: a value that became invalid while the agent was down.
 * At run time the engine keeps an item's previous valid value applied when a new one is refused;
 * after a restart that previous value is known only from here. Without it the item would have no
 * valid value at all, and what the kernel holds for it (a VETH pair, the routes through it) would be
 * removed at the start for an edit that was never applied.
 *
 * - Values are kept as the text the store held; no values, no file. The file is read only when a start meets an invalid
 *   value (most starts never read it), and written whole, atomically, at most every 5 s and off
 *   the event loop's thread: a crash within that time leaves the values before it.
 * - The same rules as the book of originals: used only when this user owns it and no one else can
 *   write it; one that does not parse is set aside (`.bad`).
 */
import path from 'node:path';
import {
  checkStateFile,
  readStateFile,
  removeDurablyAsync,
  setAside,
  writeAtomicallyAsync,
} from './state-file.js';

/** A value the engine accepted, as the store held it, and the revision that created its key. */
export interface LastValid {
  text: string;
  /** The key's create revision then: a key deleted and put again since is another item. */
  created: number;
}

export interface LastValidValues {
  /** The last valid value stored under `key`, if one is known. */
  get(key: string): LastValid | undefined;
  set(key: string, value: LastValid): void;
  delete(key: string): void;
  /** A full read of the store: exactly these are the valid values now. */
  replaceAll(values: Map<string, LastValid>): void;
  /** Writes what is pending; idempotent. */
  close(): Promise<void>;
}

/** In memory only (tests, or no state directory). */
export class MemoryLastValid implements LastValidValues {
  protected values = new Map<string, LastValid>();

  get(key: string): LastValid | undefined {
    return this.values.get(key);
  }

  set(key: string, value: LastValid): void {
    const now = this.values.get(key);
    if (now?.text === value.text && now.created === value.created) return;
    this.values.set(key, value);
    this.changed();
  }

  delete(key: string): void {
    if (this.values.delete(key)) this.changed();
  }

  replaceAll(values: Map<string, LastValid>): void {
    this.values = values;
    this.changed();
  }

  async close(): Promise<void> {}

  protected changed(): void {}
}

const FORMAT = 2;
/**
 * Writes at most this often: each is the whole file (~1 MB for 4000 items) and a sync, which
 * competes with the store's own syncs (pair rounds measured ~1 ms slower at p50 with a write every
 * second). A crash within this time leaves the values before it.
 */
const WRITE_DELAY_MS = 5000;

export class FileLastValid extends MemoryLastValid {
  /** The file was read (or replaced by a full read): the map is the whole truth. */
  private loaded = false;
  /** False once the file must not be written (it could not be read, or is not to be trusted). */
  private persist = true;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Why the last write failed, once said (undefined after a write that succeeded). */
  private writeError: string | undefined;

  constructor(
    readonly file: string,
    private readonly onError?: (message: string, error?: unknown) => void,
    private readonly writeDelayMs = WRITE_DELAY_MS,
  ) {
    super();
  }

  static fileFor(stateDir: string, label: string): string {
    return path.join(stateDir, `${label}.last-valid.json`);
  }

  override get(key: string): LastValid | undefined {
    this.load();
    return super.get(key);
  }

  override set(key: string, value: LastValid): void {
    this.load();
    super.set(key, value);
  }

  override delete(key: string): void {
    this.load();
    super.delete(key);
  }

  override replaceAll(values: Map<string, LastValid>): void {
    if (!this.loaded) {
      // Not read, but looked at: a file this user does not own, or that others can write, is
      // neither used nor overwritten.
      this.loaded = true;
      this.persist = checkStateFile(this.file, 'the last valid values stay in memory', this.onError);
    }
    super.replaceAll(values);
  }

  override close(): Promise<void> {
    return (this.closing ??= (async () => {
      this.closed = true;
      clearTimeout(this.timer);
      this.timer = undefined;
      await this.writing;
      if (this.dirty) await this.write();
    })());
  }

  protected override changed(): void {
    this.dirty = true;
    if (!this.persist || this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.writing) {
        this.changed(); // one write at a time: the next one after this one
        return;
      }
      this.writing = this.write().finally(() => (this.writing = undefined));
    }, this.writeDelayMs);
    this.timer.unref();
  }

  private async write(): Promise<void> {
    if (!this.persist) return;
    this.dirty = false;
    try {
      // No configuration, no file (as the book of originals: removed when empty).
      if (this.values.size === 0) return await removeDurablyAsync(this.file);
      const text = JSON.stringify({ format: FORMAT, values: Object.fromEntries(this.values) });
      await writeAtomicallyAsync(this.file, text);
      this.writeError = undefined;
    } catch (error) {
      // Said once, not at every attempt (every few seconds while the cause lasts).
      const why = error instanceof Error ? error.message : String(error);
      if (why !== this.writeError) this.onError?.(`cannot write ${this.file} (tried again quietly)`, error);
      this.writeError = why;
      // Tried again a second later (or at close), not left stale until the next change.
      if (!this.closed) {
        this.dirty = true;
        queueMicrotask(() => this.changed());
      }
    }
  }

  private load(): void {
    if (this.loaded) return;
    this.loaded = true;
    const { text, usable } = readStateFile(this.file, 'the last valid values stay in memory', this.onError);
    this.persist = usable;
    if (text === undefined) return;
    try {
      const parsed = JSON.parse(text) as { format?: unknown; values?: unknown };
      const values = parsed.values;
      if (parsed.format !== FORMAT || typeof values !== 'object' || values === null || Array.isArray(values))
        throw new Error('not a file of last valid values');
      for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
        const { text, created } = (value ?? {}) as Partial<LastValid>;
        if (typeof text === 'string' && Number.isInteger(created))
          this.values.set(key, { text, created: created! });
      }
    } catch (error) {
      // Not overwritten when it cannot be set aside: looked at again at the next start.
      if (!setAside(this.file, error, this.onError)) this.persist = false;
    }
  }
}
