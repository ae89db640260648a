/**
 * The state machine both store watchers share (STYLE.md lesson 11): guarded transitions
 *   idle -> connecting -> in-sync -> lost -> connecting -> ...; any state -> closed,
 * ordered event delivery, and reconnects with an injected backoff. A store subclass only says how to
 * connect (read and/or start following changes) and how to let go of a connection; it reports back
 * through deliverResync / deliverChanges / markInSync / fail, each tagged with the generation of
 * the connection attempt, so late reports from an abandoned connection are ignored.
 */
import { exponentialBackoff } from './backoff.js';
import { CompactedError } from './errors.js';
import type {
  Backoff,
  Change,
  ListResult,
  ResyncReason,
  WatchEvent,
  Watcher,
  WatcherState,
  WatchListener,
  WatchOptions,
} from './types.js';

const TRANSITIONS: Readonly<Record<WatcherState, readonly WatcherState[]>> = {
  idle: ['connecting', 'closed'],
  connecting: ['in-sync', 'lost', 'closed'],
  'in-sync': ['lost', 'closed'],
  lost: ['connecting', 'closed'],
  closed: [],
};

/**
 * A connection counts as recovered (the backoff starts again from its first delay) only after it
 * stayed in sync this long: a watch that connects and then fails at once, again and again, backs off.
 */
const STABLE_MS = 5000;

export function canTransition(from: WatcherState, to: WatcherState): boolean {
  return TRANSITIONS[from].includes(to);
}

export abstract class WatcherBase implements Watcher {
  readonly prefix: string;
  #state: WatcherState = 'idle';
  #revision: number;
  /** Bumped by every connection attempt, failure and close: reports tagged otherwise are stale. */
  #generation = 0;
  #attempt = 0;
  #inSyncSince: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** What the next connection must start with: a full read (and why), or changes from `revision + 1`. */
  #nextResync: ResyncReason | null;
  /** No read delivered yet of a watch opened without `fromRevision`: the next read is the initial one. */
  #initialPending: boolean;
  #closing: Promise<void> | undefined;
  readonly #listener: WatchListener;
  readonly #onListenerError: ((error: unknown, event: WatchEvent) => void) | undefined;
  readonly #backoff: Backoff;

  constructor(prefix: string, options: WatchOptions) {
    this.prefix = prefix;
    this.#listener = options.onEvent;
    this.#onListenerError = options.onListenerError;
    this.#backoff = options.backoff ?? exponentialBackoff();
    this.#nextResync = options.fromRevision === undefined ? 'initial' : null;
    this.#initialPending = options.fromRevision === undefined;
    this.#revision = options.fromRevision === undefined ? 0 : Math.max(0, options.fromRevision - 1);
  }

  get state(): WatcherState {
    return this.#state;
  }

  get revision(): number {
    return this.#revision;
  }

  /**
   * Connects on the next turn of the event loop, so the caller holds the watcher before the first
   * event arrives.
   */
  protected start(): void {
    this.#timer = setTimeout(() => this.#connectNow(), 0);
  }

  /**
   * Starts connection attempt `generation`: when `resync` is set, begin with a full read delivered
   * through deliverResync; otherwise follow changes after `this.revision`.
   */
  protected abstract connect(generation: number, resync: ResyncReason | null): void;

  /** Lets go of the current connection (if any); called on failure and on close. */
  protected abstract disconnect(): Promise<void> | void;

  protected isCurrent(generation: number): boolean {
    return generation === this.#generation && this.#state !== 'closed';
  }

  protected deliverResync(generation: number, reason: ResyncReason, read: ListResult): void {
    if (!this.isCurrent(generation)) return;
    this.#revision = read.revision;
    this.#initialPending = false;
    this.#emit({ type: 'resync', reason, items: read.items, revision: read.revision });
  }

  protected deliverChanges(generation: number, changes: readonly Change[]): void {
    if (!this.isCurrent(generation) || changes.length === 0) return;
    const last = changes[changes.length - 1];
    if (last === undefined) return;
    this.#revision = Math.max(this.#revision, last.revision);
    this.#emit({ type: 'changes', changes, revision: this.#revision });
  }

  /** The connection is established and following changes. */
  protected markInSync(generation: number): void {
    if (!this.isCurrent(generation) || this.#state === 'in-sync') return;
    this.#inSyncSince = Date.now();
    this.#transition('in-sync');
  }

  /** The connection failed: go `lost`, reconnect after a backoff and resync with a fresh read. */
  protected fail(generation: number, error: Error): void {
    if (!this.isCurrent(generation)) return;
    this.#generation++;
    if (this.#inSyncSince !== undefined && Date.now() - this.#inSyncSince >= STABLE_MS) this.#attempt = 0;
    this.#inSyncSince = undefined;
    // Still the initial read when none came yet (a store down at the start is not a reconnect).
    this.#nextResync =
      error instanceof CompactedError ? 'compacted' : this.#initialPending ? 'initial' : 'reconnected';
    void Promise.resolve()
      .then(() => this.disconnect())
      .catch(() => undefined); // the connection is being abandoned; its errors do not matter
    this.#transition('lost', error);
    this.#timer = setTimeout(() => this.#connectNow(), this.#backoff(this.#attempt++));
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#generation++;
    clearTimeout(this.#timer);
    this.#closing = (async () => {
      try {
        await this.disconnect();
      } finally {
        this.#transition('closed');
      }
    })();
    return this.#closing;
  }

  #connectNow(): void {
    this.#timer = undefined;
    if (this.#state === 'closed' || this.#closing) return;
    this.#transition('connecting');
    const generation = ++this.#generation;
    const resync = this.#nextResync;
    this.#nextResync = 'reconnected';
    try {
      this.connect(generation, resync);
    } catch (error) {
      this.fail(generation, error instanceof Error ? error : new Error(String(error)));
    }
  }

  #transition(to: WatcherState, error?: Error): void {
    const from = this.#state;
    if (!canTransition(from, to)) {
      throw new Error(`watcher of ${this.prefix}: illegal transition ${from} -> ${to}`);
    }
    this.#state = to;
    this.#emit(
      error === undefined
        ? { type: 'state', state: to, previous: from }
        : { type: 'state', state: to, previous: from, error },
    );
  }

  #emit(event: WatchEvent): void {
    try {
      this.#listener(event);
    } catch (error) {
      // A bug in the consumer: make it loud, but keep the watcher consistent.
      if (this.#onListenerError) {
        this.#onListenerError(error, event);
        return;
      }
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
