/**
 * The embedded store: one SQLite file in WAL mode (better-sqlite3), shared by the daemon and netnsctl.
 * Persistent and crash-safe (every write is one transaction), with etcd-like revisions and watches
 * that also see writes made by other processes on the same file.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { chmodSync, existsSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { AgentError, ClosedError } from '../../errors.js';
import { checkKey, DatastoreError, DatastoreUnavailableError } from '../errors.js';
import type {
  Datastore,
  KeyValue,
  ListResult,
  PutEntry,
  Watcher,
  WatchOptions,
  WriteChange,
  WriteResult,
} from '../types.js';
import { checkWriteChange } from '../write-change.js';
import { Checkpointer } from './checkpointer.js';
import { compact, type CompactionLimits } from './compaction.js';
import { prepareDatabase, type Synchronous } from './schema.js';
import { Statements, type ChangesRead } from './statements.js';
import { SqliteWatcher, type ChangeSource } from './watcher.js';
import { makeDirectories } from '../../util/make-directories.js';

import { DEFAULT_STORE_FILE } from './default-file.js';

export { DEFAULT_STORE_FILE };

export interface SqliteStoreOptions {
  /** Default /var/lib/netns-agent/store.db; a missing directory is created with mode 0700. */
  file?: string;
  /** How often watchers look for writes of other processes (a cheap PRAGMA); default 10 ms. */
  pollIntervalMs?: number;
  /** How long a write waits for another process's write transaction; default 5000 ms. */
  busyTimeoutMs?: number;
  /** Default 'full': a resolved put is on disk. */
  synchronous?: Synchronous;
  /** Change-log retention; defaults 1000 revisions, at most 200 000 rows. */
  retainRevisions?: number;
  maxChangeRows?: number;
  /**
   * Checkpoint the WAL from a worker thread instead of inside commits (checkpointer.ts): for the
   * long-running agent, whose event loop should not wait for the disk. Default false.
   */
  backgroundCheckpoints?: boolean;
}

/** Compact the change log after this many revisions or rows written by this process. */
const COMPACT_EVERY_REVISIONS = 200;
const COMPACT_EVERY_ROWS = 20_000;

const BUSY_CODES = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_RECOVERY']);

/** How long SQLite itself waits for another writer's lock in one attempt (it blocks the thread). */
const BUSY_SLICE_MS = 5;
/** Between two attempts of a write that found the store locked (the event loop runs meanwhile). */
const BUSY_RETRY_MS = 10;

function storeError(what: string, error: unknown): Error {
  if (error instanceof AgentError) return error;
  const code = error instanceof Database.SqliteError ? error.code : undefined;
  const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
  if (code !== undefined && BUSY_CODES.has(code)) {
    return new DatastoreUnavailableError(message, { cause: error });
  }
  return new DatastoreError(message, { cause: error });
}

/** How long after a file event the store keeps checking for a commit every millisecond. */
const BURST_MS = 50;

export class SqliteStore implements Datastore {
  readonly kind = 'sqlite';
  readonly file: string;
  readonly #db: Database.Database;
  readonly #sql: Statements;
  readonly #pollIntervalMs: number;
  readonly #synchronous: Synchronous;
  readonly #limits: CompactionLimits;
  readonly #watchers = new Set<SqliteWatcher>();
  readonly #allWatchers = new Set<SqliteWatcher>();
  #pollTimer: NodeJS.Timeout | undefined;
  #pollSoon: NodeJS.Immediate | undefined;
  /** inotify on the store's directory: another process's commit is seen at once, not at the next poll. */
  #fileWatch: FSWatcher | undefined;
  /** After a file event: checks every millisecond for a while (see #watchFiles). */
  #burstTimer: NodeJS.Timeout | undefined;
  #burstUntil = 0;
  #dataVersion: number;
  #writtenRevisions = 0;
  #writtenRows = 0;
  #closing: Promise<void> | undefined;
  readonly #backgroundCheckpoints: boolean;
  #checkpointer: Checkpointer | undefined;
  #busyTimeoutMs = 5000;

  constructor(options: SqliteStoreOptions = {}) {
    this.file = options.file ?? DEFAULT_STORE_FILE;
    this.#pollIntervalMs = Math.max(1, options.pollIntervalMs ?? 10);
    this.#synchronous = options.synchronous ?? 'full';
    this.#limits = {
      retainRevisions: options.retainRevisions ?? 1000,
      maxRows: options.maxChangeRows ?? 200_000,
    };
    const isNew = !existsSync(this.file);
    makeDirectories(dirname(this.file), 0o700);
    try {
      this.#db = new Database(this.file, { timeout: options.busyTimeoutMs ?? 5000 });
    } catch (error) {
      throw storeError(`opening store ${this.file}`, error);
    }
    try {
      // The configuration is nobody else's business: the file (and its -wal, -shm) stay private.
      if (isNew) chmodSync(this.file, 0o600);
      prepareDatabase(this.#db, {
        busyTimeoutMs: options.busyTimeoutMs ?? 5000,
        synchronous: this.#synchronous,
      });
      // Opening waited for another process's write as long as it takes (above); from now on a write
      // waits only a moment inside SQLite, the rest of busyTimeoutMs between attempts (#writeSoon),
      // so that the event loop is not held while another program keeps the store locked.
      this.#busyTimeoutMs = options.busyTimeoutMs ?? 5000;
      this.#db.pragma(`busy_timeout = ${Math.min(BUSY_SLICE_MS, this.#busyTimeoutMs)}`);
      this.#sql = new Statements(this.#db);
      this.#dataVersion = this.#sql.dataVersion();
      this.#backgroundCheckpoints = options.backgroundCheckpoints === true;
    } catch (error) {
      this.#db.close();
      throw storeError(`opening store ${this.file}`, error);
    }
  }

  async get(key: string): Promise<KeyValue | undefined> {
    return this.#soon(() => this.#run('get', () => this.#sql.get(checkKey(key))));
  }

  async list(prefix: string): Promise<ListResult> {
    return this.#soon(() => this.#run('list', () => this.#sql.list(prefix)));
  }

  /** The store's current revision. */
  async revision(): Promise<number> {
    return this.#soon(() => this.#run('revision', () => this.#sql.revision()));
  }

  async put(key: string, value: string): Promise<number> {
    return this.putMany([{ key, value }]);
  }

  async putMany(entries: readonly PutEntry[], options: { durable?: boolean } = {}): Promise<number> {
    return this.#writeSoon('put', () => {
      for (const entry of entries) {
        checkKey(entry.key);
        if (typeof entry.value !== 'string') {
          throw new DatastoreError(`value of ${entry.key} is not a string`, { key: entry.key });
        }
      }
      if (entries.length === 0) return this.#sql.revision();
      const revision =
        options.durable === false
          ? this.#withoutSync(() => this.#sql.putMany(entries))
          : this.#sql.putMany(entries);
      this.#afterWrite(entries.length);
      return revision;
    });
  }

  async delete(key: string): Promise<boolean> {
    return this.#writeSoon('delete', () => {
      const deleted = this.#sql.deleteKeys(() => this.#sql.existingKey(checkKey(key)));
      if (deleted > 0) this.#afterWrite(deleted);
      return deleted > 0;
    });
  }

  async deleteMany(keys: readonly string[], options: { durable?: boolean } = {}): Promise<string[]> {
    return this.#writeSoon('deleteMany', () => {
      for (const key of keys) checkKey(key);
      if (keys.length === 0) return [];
      // Read inside the write's transaction: the keys deleted are those that existed then.
      let existed: string[] = [];
      const existing = (): string[] =>
        (existed = [...new Set(keys)].filter((key) => this.#sql.existingKey(key).length > 0));
      const deleted =
        options.durable === false
          ? this.#withoutSync(() => this.#sql.deleteKeys(existing))
          : this.#sql.deleteKeys(existing);
      if (deleted > 0) this.#afterWrite(deleted);
      return existed;
    });
  }

  async write(change: WriteChange): Promise<WriteResult> {
    return this.#writeSoon('write', () => {
      checkWriteChange(change);
      const result = this.#sql.write(change.puts, () =>
        change.deletes.filter((key) => this.#sql.existingKey(key).length > 0),
      );
      const changed = change.puts.length + result.deleted.length;
      if (changed > 0) this.#afterWrite(changed);
      return result;
    });
  }

  async deletePrefix(prefix: string): Promise<number> {
    return this.#writeSoon('deletePrefix', () => {
      const deleted = this.#sql.deleteKeys(() => this.#sql.keysUnder(prefix));
      if (deleted > 0) this.#afterWrite(deleted);
      return deleted;
    });
  }

  /** Removes old change-log entries now (it also happens by itself every few hundred writes). */
  async compact(): Promise<number> {
    return this.#write('compact', () => compact(this.#db, this.#limits));
  }

  watch(prefix: string, options: WatchOptions): Watcher {
    this.#checkOpen();
    const watcher = new SqliteWatcher(prefix, options, this.#source);
    this.#allWatchers.add(watcher);
    return watcher;
  }

  /**
   * With background checkpoints, the worker starts at this connection's first write, and only then
   * do its commits stop checkpointing: a connection that only reads (an agent restarting with
   * nothing to change) never needs the worker, whose start costs ~120 ms of CPU that the agent's
   * start-up competes for on a small machine.
   */
  #startCheckpointer(): void {
    if (!this.#backgroundCheckpoints || this.#checkpointer !== undefined || this.#closing) return;
    this.#db.pragma('wal_autocheckpoint = 0');
    this.#checkpointer = new Checkpointer(this.file);
  }

  /** Whether the checkpoint worker runs (tests). */
  get checkpointing(): boolean {
    return this.#checkpointer !== undefined;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#allWatchers].map((watcher) => watcher.close()));
      this.#stopPolling();
      await this.#checkpointer?.close();
      this.#db.close();
    })();
    return this.#closing;
  }

  /** What watchers see of the store: reads, and registration with the poller. */
  readonly #source: ChangeSource = {
    list: (prefix) => this.#sql.list(prefix),
    forget: (watcher) => this.#allWatchers.delete(watcher),
    changesAfter: (prefix, afterRevision): ChangesRead => this.#sql.changesAfter(prefix, afterRevision),
    attach: (watcher) => {
      this.#watchers.add(watcher);
      this.#pollTimer ??= setInterval(() => this.#checkForeignWrites(), this.#pollIntervalMs);
      this.#fileWatch ??= this.#watchFiles();
    },
    detach: (watcher) => {
      this.#watchers.delete(watcher);
      if (this.#watchers.size === 0) this.#stopPolling();
    },
  };

  /**
   * Runs a write without waiting for the disk (synchronous=OFF): still atomic and consistent. No
   * checkpoint may happen meanwhile: one that copies the WAL into the database file without syncing
   * it could lose earlier durable writes on power loss once the WAL is reused. A later durable
   * commit, or the background checkpointer, checkpoints (and syncs) as usual.
   */
  #withoutSync<T>(write: () => T): T {
    const autoCheckpoint = this.#db.pragma('wal_autocheckpoint', { simple: true }) as number;
    this.#db.pragma('wal_autocheckpoint = 0');
    this.#db.pragma('synchronous = OFF');
    try {
      return write();
    } finally {
      this.#db.pragma(`synchronous = ${this.#synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      this.#db.pragma(`wal_autocheckpoint = ${autoCheckpoint}`);
    }
  }

  #afterWrite(rows: number): void {
    this.#writtenRevisions++;
    this.#writtenRows += rows;
    if (this.#writtenRevisions >= COMPACT_EVERY_REVISIONS || this.#writtenRows >= COMPACT_EVERY_ROWS) {
      this.#writtenRevisions = 0;
      this.#writtenRows = 0;
      try {
        compact(this.#db, this.#limits);
      } catch {
        // Compaction is housekeeping: a busy file just means it happens next time.
      }
    }
    // Our own commits do not change data_version: tell the watchers directly, after this call.
    if (this.#watchers.size > 0) this.#pollSoon ??= setImmediate(() => this.#pollWatchers());
  }

  /**
   * A commit of another process writes the -wal file (WAL mode), and inotify tells us at once; but
   * the commit becomes visible only when the writer has synced the file and updated the shared index
   * (memory-mapped: no event), a few milliseconds later. So a file event starts a short burst of the
   * same cheap check the timer makes, every millisecond: a `netnsctl put` reaches the agent in about
   * the time of its own fsync instead of up to a poll interval later. The timer stays: inotify may
   * not see everything (e.g. on some network filesystems).
   */
  #watchFiles(): FSWatcher | undefined {
    // Commits write the -wal file; checkpoints (ours, every 100 ms) write the database file itself,
    // which tells watchers nothing new.
    const wal = `${basename(this.file)}-wal`;
    try {
      const watcher = watch(dirname(this.file), { persistent: false }, (_event, file) => {
        if (file === wal) this.#startBurst();
      });
      watcher.on('error', () => {
        watcher.close();
        if (this.#fileWatch === watcher) this.#fileWatch = undefined;
      });
      return watcher;
    } catch {
      return undefined; // the timer alone
    }
  }

  #startBurst(): void {
    this.#burstUntil = performance.now() + BURST_MS;
    if (this.#burstTimer !== undefined || this.#watchers.size === 0) return;
    this.#burstTimer = setInterval(() => {
      this.#checkForeignWrites();
      if (performance.now() > this.#burstUntil || this.#watchers.size === 0) this.#stopBurst();
    }, 1);
    this.#burstTimer.unref();
  }

  #stopBurst(): void {
    clearInterval(this.#burstTimer);
    this.#burstTimer = undefined;
  }

  #checkForeignWrites(): void {
    let version: number;
    try {
      version = this.#sql.dataVersion();
    } catch {
      this.#pollWatchers(); // the watchers' own reads will report the failure
      return;
    }
    if (version === this.#dataVersion) return;
    this.#dataVersion = version;
    this.#pollWatchers();
  }

  #pollWatchers(): void {
    this.#pollSoon = undefined;
    for (const watcher of [...this.#watchers]) watcher.poll();
  }

  #stopPolling(): void {
    clearInterval(this.#pollTimer);
    this.#pollTimer = undefined;
    this.#fileWatch?.close();
    this.#fileWatch = undefined;
    this.#stopBurst();
    if (this.#pollSoon !== undefined) clearImmediate(this.#pollSoon);
    this.#pollSoon = undefined;
  }

  #checkOpen(): void {
    if (this.#closing) throw new ClosedError(`store ${this.file}`);
  }

  /**
   * A write that finds the store locked by another process (SQLITE_BUSY) is tried again after a
   * pause, until busyTimeoutMs has passed: the wait is not spent inside SQLite, where it would hold
   * the event loop (the API, drift healing). Each attempt is a whole transaction, rolled back on
   * failure, so trying again is safe.
   */
  #writeSoon<T>(what: string, operation: () => T): Promise<T> {
    return this.#soon(() => this.#write(what, operation));
  }

  /** An attempt made again while the store is locked (above), up to busyTimeoutMs; reads too. */
  async #soon<T>(attempt: () => T): Promise<T> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    for (;;) {
      try {
        return attempt();
      } catch (error) {
        if (!(error instanceof DatastoreUnavailableError) || Date.now() >= deadline) throw error;
      }
      await sleep(BUSY_RETRY_MS);
    }
  }

  /** #run for an operation that writes: the checkpoint worker starts first (#startCheckpointer). */
  #write<T>(what: string, operation: () => T): T {
    return this.#run(what, () => {
      this.#startCheckpointer();
      return operation();
    });
  }

  #run<T>(what: string, operation: () => T): T {
    this.#checkOpen();
    try {
      return operation();
    } catch (error) {
      throw storeError(`${what} in store ${this.file}`, error);
    }
  }
}
