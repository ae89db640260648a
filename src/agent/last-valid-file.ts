/**
 * The last valid value of every configuration key, in a file of the agent's state directory
 * (`<label>.last-valid.json`), for one case: a value that became invalid while the agent was down.
 * At run time the engine keeps an item's previous valid value applied when a new one is refused;
 * after a restart that previous value is known only from here. Without it the item would have no
 * valid value at all, and what the kernel holds for it (a VETH pair, the routes through it) would be
 * removed at the start for an edit that was never applied.
 *
 * - Values are kept as the text the store held; no values, no file. The file is read only when a
 *   start meets an invalid value (most starts never read it).
 * - Each change is appended at once, off the event loop's thread, to a journal beside it
 *   (`<label>.last-valid.journal`, one JSON line per change, numbered), so that an agent killed
 *   right after a change still knows it. The whole file is written (atomically, synced) at most
 *   every 5 s, and the journal then cut to the changes it does not hold. A power cut may lose the
 *   journal's last seconds (it is not synced); a crash of the agent does not.
 * - The same rules as the book of originals: used only when this user owns it and no one else can
 *   write it; one that does not parse is set aside (`.bad`).
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { appendFile, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  checkStateFile,
  readStateFile,
  removeDurablyAsync,
  setAside,
  writeAtomicallyAsync,
} from './state-file.js';
import { makeDirectories } from '../util/make-directories.js';

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
    this.changed(key);
  }

  delete(key: string): void {
    if (this.values.delete(key)) this.changed(key);
  }

  replaceAll(values: Map<string, LastValid>): void {
    this.values = values;
    this.changed(undefined);
  }

  async close(): Promise<void> {}

  /** `key` changed (undefined: every key, a full read). */
  protected changed(_key: string | undefined): void {}
}

/** A journal line: one key set (`v`) or deleted (neither), or every value (`all`), numbered. */
interface JournalLine {
  s: number;
  k?: string;
  v?: LastValid;
  all?: Record<string, LastValid>;
}

/** 3: with `seq`, the number of the last journal line the file holds (2: no journal). */
const FORMAT = 3;
/**
 * Writes the whole file at most this often: each is ~1 MB for 4000 items and a sync, which competes
 * with the store's own syncs (pair rounds measured ~1 ms slower at p50 with a write every second).
 * The journal holds the changes meanwhile.
 */
const WRITE_DELAY_MS = 5000;

export class FileLastValid extends MemoryLastValid {
  readonly journal: string;
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
  /** The number of the last change (journal line). */
  private seq = 0;
  /** Lines made this tick, appended together. */
  private lines: string[] = [];
  /** Journal work (appends, cuts), one at a time and in order. */
  private journalWork: Promise<void> = Promise.resolve();
  /** The number of the last line appended to the journal. */
  private appendedSeq = 0;
  /** The journal ends in a line cut short (a crash while appending). */
  private lineCut = false;
  private journalDirectoryMade = false;

  constructor(
    readonly file: string,
    private readonly onError?: (message: string, error?: unknown) => void,
    private readonly writeDelayMs = WRITE_DELAY_MS,
  ) {
    super();
    this.journal = file.replace(/\.json$/, '') + '.journal';
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
      // neither used nor overwritten. The journal's numbers go on from the file's.
      this.loaded = true;
      this.persist = checkStateFile(this.file, 'the last valid values stay in memory', this.onError);
      if (this.persist) this.persist = this.readJournal(seqOfFile(this.file), new Map(), true);
    }
    super.replaceAll(values);
  }

  override close(): Promise<void> {
    return (this.closing ??= (async () => {
      this.closed = true;
      clearTimeout(this.timer);
      this.timer = undefined;
      this.flushLines();
      await this.writing;
      if (this.dirty) await this.write();
      await this.journalWork;
    })());
  }

  protected override changed(key: string | undefined): void {
    this.dirty = true;
    if (!this.persist) return;
    const line: JournalLine =
      key === undefined
        ? { s: ++this.seq, all: Object.fromEntries(this.values) }
        : { s: ++this.seq, k: key, ...(this.values.has(key) ? { v: this.values.get(key)! } : {}) };
    this.lines.push(JSON.stringify(line));
    if (this.lines.length === 1) queueMicrotask(() => this.flushLines());
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.writing) return this.changedLater(); // one write at a time: the next one after it
      this.writing = this.write().finally(() => (this.writing = undefined));
    }, this.writeDelayMs);
    this.timer.unref();
  }

  /** Appends this tick's lines to the journal (after the journal work before it). */
  private flushLines(): void {
    if (this.lines.length === 0) return;
    const text = (this.lineCut ? '\n' : '') + this.lines.join('\n') + '\n';
    this.lineCut = false;
    const last = this.seq;
    this.lines = [];
    this.queueJournal(async () => {
      // The state directory may not exist yet: the whole file's first write makes it, a while later.
      if (!this.journalDirectoryMade) makeDirectories(path.dirname(this.journal), 0o700);
      this.journalDirectoryMade = true;
      await appendFile(this.journal, text, { mode: 0o600 });
      this.appendedSeq = last;
    });
  }

  private queueJournal(work: () => Promise<void>): Promise<void> {
    const done = this.journalWork.then(work).catch((error: unknown) => {
      const why = error instanceof Error ? error.message : String(error);
      if (why !== this.writeError) this.onError?.(`cannot write ${this.journal}`, error);
      this.writeError = why;
    });
    this.journalWork = done;
    return done;
  }

  private async write(): Promise<void> {
    if (!this.persist) return;
    this.dirty = false;
    this.flushLines();
    const seq = this.seq;
    try {
      // No configuration, no file (as the book of originals: removed when empty), at close. Until
      // then an empty one keeps the journal's numbers.
      if (this.values.size === 0 && this.closed) {
        await this.queueJournal(() => rm(this.journal, { force: true }));
        return await removeDurablyAsync(this.file);
      }
      const text = JSON.stringify({ format: FORMAT, seq, values: Object.fromEntries(this.values) });
      await writeAtomicallyAsync(this.file, text);
      this.writeError = undefined;
      await this.queueJournal(() => this.cutJournal(seq));
    } catch (error) {
      // Said once, not at every attempt (every few seconds while the cause lasts).
      const why = error instanceof Error ? error.message : String(error);
      if (why !== this.writeError) this.onError?.(`cannot write ${this.file} (tried again quietly)`, error);
      this.writeError = why;
      // Tried again a while later (or at close), not left stale until the next change.
      if (!this.closed) {
        this.dirty = true;
        queueMicrotask(() => this.changedLater());
      }
    }
  }

  /** The whole file holds every change up to `seq`: the journal keeps only those after it. */
  private async cutJournal(seq: number): Promise<void> {
    // Nothing after it: no journal (the next start takes the numbers on from the file's).
    if (this.appendedSeq <= seq) return await rm(this.journal, { force: true });
    let text: string;
    try {
      text = await readFile(this.journal, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    // By each line's number only (a full read's line holds every value: not parsed again). Not
    // synced, as appends are not: the whole file was, just now.
    const later = text.split('\n').filter((line) => Number(LINE_NUMBER.exec(line)?.[1] ?? 0) > seq);
    await writeAtomicallyAsync(this.journal, later.length ? later.join('\n') + '\n' : '', { sync: false });
  }

  /** A whole-file write that failed: tried again after the usual delay, without a new line. */
  private changedLater(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.writing) return this.changedLater();
      this.writing = this.write().finally(() => (this.writing = undefined));
    }, this.writeDelayMs);
    this.timer.unref();
  }

  private load(): void {
    if (this.loaded) return;
    this.loaded = true;
    const { text, usable } = readStateFile(this.file, 'the last valid values stay in memory', this.onError);
    this.persist = usable;
    let fileSeq = 0;
    if (text !== undefined) {
      try {
        const parsed = JSON.parse(text) as { format?: unknown; seq?: unknown; values?: unknown };
        const values = parsed.values;
        if (
          (parsed.format !== FORMAT && parsed.format !== 2) ||
          typeof values !== 'object' ||
          values === null ||
          Array.isArray(values)
        )
          throw new Error('not a file of last valid values');
        if (typeof parsed.seq === 'number' && Number.isSafeInteger(parsed.seq)) fileSeq = parsed.seq;
        for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
          const entry = asLastValid(value);
          if (entry) this.values.set(key, entry);
        }
      } catch (error) {
        // Not overwritten when it cannot be set aside: looked at again at the next start.
        if (!setAside(this.file, error, this.onError)) this.persist = false;
        return;
      }
    }
    if (this.persist) this.persist = this.readJournal(fileSeq, this.values, false);
    else this.seq = fileSeq;
  }

  /**
   * Replays the journal's changes after `fileSeq` into `values` (`numbersOnly`: only its numbers
   * are taken, a full read replacing the values). False when it must not be used nor written.
   */
  private readJournal(fileSeq: number, values: Map<string, LastValid>, numbersOnly: boolean): boolean {
    this.seq = fileSeq;
    const { text, usable } = readStateFile(
      this.journal,
      'the last valid values stay in memory',
      this.onError,
    );
    if (!usable) return false;
    // A line cut short by a crash: the next line appended starts on a line of its own.
    this.lineCut = text !== undefined && text !== '' && !text.endsWith('\n');
    for (const raw of (text ?? '').split('\n')) {
      // A line cut short by a crash (the last one) is left out.
      const line = parseLine(raw);
      if (!line) continue;
      this.seq = Math.max(this.seq, line.s);
      this.appendedSeq = this.seq;
      if (numbersOnly || line.s <= fileSeq) continue;
      // Changes the file does not hold: written into it at the next whole write (or close).
      this.dirty = true;
      if (line.all) {
        values.clear();
        for (const [key, value] of Object.entries(line.all)) {
          const entry = asLastValid(value);
          if (entry) values.set(key, entry);
        }
      } else if (line.k !== undefined) {
        const entry = asLastValid(line.v);
        if (entry) values.set(line.k, entry);
        else values.delete(line.k);
      }
    }
    return true;
  }
}

/**
 * The number of the last change the file holds, read from its head (`seq` is written second), not
 * by parsing the whole file: a start that never needs the values still numbers its changes after it.
 */
function seqOfFile(file: string): number {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    const head = Buffer.alloc(64);
    const length = readSync(fd, head, 0, head.length, 0);
    const seq = /^\{"format":3,"seq":(\d+),/.exec(head.toString('utf8', 0, length))?.[1];
    return seq === undefined ? 0 : Number(seq);
  } catch {
    return 0;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function asLastValid(value: unknown): LastValid | undefined {
  const { text, created } = (value ?? {}) as Partial<LastValid>;
  return typeof text === 'string' && Number.isInteger(created) ? { text, created: created! } : undefined;
}

/** A journal line's number, as JSON.stringify writes it first. */
const LINE_NUMBER = /^\{"s":(\d+)[,}]/;

function parseLine(raw: string): JournalLine | undefined {
  if (raw === '') return undefined;
  try {
    const line = JSON.parse(raw) as Partial<JournalLine>;
    return typeof line.s === 'number' && Number.isSafeInteger(line.s) ? (line as JournalLine) : undefined;
  } catch {
    return undefined;
  }
}
