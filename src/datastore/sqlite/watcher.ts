/**
 * A watcher on the embedded store. Changes come from the change log; the store's poller calls
 * poll() whenever the file may have changed (this process wrote, or PRAGMA data_version says another
 * connection committed). A watcher that fell behind the compacted part of the log resyncs from a
 * full read; a read error makes it `lost` and it reconnects like an etcd watcher would.
 */
import { WatcherBase } from '../watcher-base.js';
import type { ListResult, ResyncReason, WatchOptions } from '../types.js';
import type { ChangesRead } from './statements.js';

/** What a watcher needs from its store. */
export interface ChangeSource {
  list(prefix: string): ListResult;
  changesAfter(prefix: string, afterRevision: number): ChangesRead;
  /** Start / stop calling poll() on this watcher. */
  attach(watcher: SqliteWatcher): void;
  detach(watcher: SqliteWatcher): void;
  /** The watcher is closed: the store no longer needs to close it. */
  forget(watcher: SqliteWatcher): void;
}

export class SqliteWatcher extends WatcherBase {
  readonly #source: ChangeSource;
  #generation = -1;

  constructor(prefix: string, options: WatchOptions, source: ChangeSource) {
    super(prefix, options);
    this.#source = source;
    this.start();
  }

  protected connect(generation: number, resync: ResyncReason | null): void {
    this.#generation = generation;
    if (resync !== null) this.deliverResync(generation, resync, this.#source.list(this.prefix));
    this.#source.attach(this);
    this.markInSync(generation);
    this.poll(); // catch up with what was written before we attached
  }

  override async close(): Promise<void> {
    await super.close();
    this.#source.forget(this);
  }

  protected disconnect(): void {
    this.#source.detach(this);
  }

  /** Delivers the changes after the last delivered revision. */
  poll(): void {
    const generation = this.#generation;
    if (!this.isCurrent(generation) || this.state !== 'in-sync') return;
    try {
      const read = this.#source.changesAfter(this.prefix, this.revision);
      if (this.revision < read.compacted) {
        this.deliverResync(generation, 'compacted', this.#source.list(this.prefix));
        return;
      }
      this.deliverChanges(generation, read.changes);
    } catch (error) {
      // Another program holding the store a moment (its WAL recovery, a checkpoint): read again
      // soon rather than call the watch lost.
      if (isBusy(error)) {
        setTimeout(() => this.poll(), BUSY_POLL_RETRY_MS).unref();
        return;
      }
      this.fail(generation, error instanceof Error ? error : new Error(String(error)));
    }
  }
}

const BUSY_POLL_RETRY_MS = 10;

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}
