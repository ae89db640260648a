/**
 * The datastore contract both stores implement (embedded SQLite and etcd). Keys and values are
 * strings; the agent parses values itself. Revisions follow etcd: one global counter that grows
 * with every write transaction; every key remembers the revision of its last write (modRevision).
 */
import type { Backoff } from '../util/backoff.js';

/** A stored key with its value and the revision of its last write. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly modRevision: number;
  /**
   * The revision that created the key (after its last deletion, if any): a key deleted and put
   * again has a new one, which tells a new item from a changed one.
   */
  readonly createRevision: number;
}

/** A consistent read of a prefix: the items, and the store revision the read saw. */
export interface ListResult {
  readonly items: KeyValue[];
  /** Pass `revision + 1` as `fromRevision` to watch everything after this read. */
  readonly revision: number;
}

/** One write seen by a watcher. */
export type Change =
  | { readonly type: 'put'; readonly key: string; readonly value: string; readonly revision: number }
  | { readonly type: 'delete'; readonly key: string; readonly revision: number };

/**
 * The lifecycle of a watcher (STYLE.md lesson 11):
 *   idle -> connecting -> in-sync -> lost -> connecting -> ...; any state -> closed.
 * While `lost` no events arrive: the agent keeps the kernel as it is until the watcher reconnects,
 * which always starts with a `resync` event.
 */
export type WatcherState = 'idle' | 'connecting' | 'in-sync' | 'lost' | 'closed';

/** Why a watcher delivers a full read instead of changes. */
export type ResyncReason =
  /** The watch was opened without `fromRevision`: this is the initial read. */
  | 'initial'
  /** The watcher had lost its connection; changes made meanwhile are in this read. */
  | 'reconnected'
  /** The changes after the watcher's revision were compacted away; this read replaces them. */
  | 'compacted';

export type WatchEvent =
  /** Writes, in revision order; one event holds the writes of one or more whole revisions. */
  | { readonly type: 'changes'; readonly changes: readonly Change[]; readonly revision: number }
  /**
   * The full content of the prefix at `revision`: the consumer replaces what it knew with it
   * (keys absent from `items` were deleted). Changes that follow start at `revision + 1`.
   */
  | {
      readonly type: 'resync';
      readonly reason: ResyncReason;
      readonly items: readonly KeyValue[];
      readonly revision: number;
    }
  /** The watcher changed state; `error` says why it went `lost`. */
  | {
      readonly type: 'state';
      readonly state: WatcherState;
      readonly previous: WatcherState;
      readonly error?: Error;
    };

export type WatchListener = (event: WatchEvent) => void;

/** Delay in milliseconds before reconnect attempt number `attempt` (0 for the first). */
export type { Backoff };

export interface WatchOptions {
  /**
   * The first revision to deliver (etcd semantics: `list().revision + 1`). Without it the watcher
   * starts with a `resync` event (reason `initial`) holding a fresh read of the prefix, then
   * delivers every change after that read: "list then watch" in one call, with no gap.
   */
  fromRevision?: number;
  /** Receives every event, synchronously and in order. It should not throw. */
  onEvent: WatchListener;
  /**
   * Called when onEvent throws (a consumer bug); the watcher itself goes on. Default: rethrow the
   * error asynchronously, i.e. an uncaught exception.
   */
  onListenerError?: (error: unknown, event: WatchEvent) => void;
  /** Reconnect delays; default exponential 100 ms .. 5 s with jitter. */
  backoff?: Backoff;
}

export interface Watcher {
  readonly prefix: string;
  readonly state: WatcherState;
  /** The last revision delivered (changes or resync); `fromRevision - 1` before the first one. */
  readonly revision: number;
  /** Stops the watch; idempotent. A `state` event with `closed` is the last event. */
  close(): Promise<void>;
}

export interface PutEntry {
  readonly key: string;
  readonly value: string;
}

export interface WriteChange {
  readonly puts: readonly PutEntry[];
  readonly deletes: readonly string[];
}

export interface WriteResult {
  readonly revision: number;
  /** The keys of `deletes` that had a value (each once). */
  readonly deleted: string[];
}

export interface Datastore {
  /** 'sqlite' or 'etcd', for logs and metrics. */
  readonly kind: string;
  get(key: string): Promise<KeyValue | undefined>;
  list(prefix: string): Promise<ListResult>;
  /** Returns the revision of the write. */
  put(key: string, value: string): Promise<number>;
  /**
   * Many puts at once (a user applies 4000 items). The embedded store writes them in one
   * transaction and one revision; etcd in transactions of at most 128 keys each. When a key
   * appears twice the last value wins. Returns the revision of the last write.
   * `durable: false` (state the agent publishes again anyway): the embedded store does not wait for
   * the disk (no fsync), so it holds its one writer lock for less time; etcd ignores it.
   */
  putMany(entries: readonly PutEntry[], options?: { durable?: boolean }): Promise<number>;
  /** Returns whether the key existed. */
  delete(key: string): Promise<boolean>;
  /**
   * Deletes the keys that exist, in one revision (etcd: transactions of at most 128); returns
   * those that existed (each once), so a caller can say which had no value. `durable: false` as
   * for putMany.
   */
  deleteMany(keys: readonly string[], options?: { durable?: boolean }): Promise<string[]>;
  /**
   * Puts and deletions in one write, as one change (the agent takes it in as one transaction). The
   * embedded store: one transaction and one revision; etcd: one transaction when puts and deletes
   * together are at most 128, else transactions of 128 (puts first). A key may appear once only
   * (puts or deletes): DatastoreError otherwise. Returns the revision of the last write (the
   * current one when nothing changed) and the deleted keys that existed.
   */
  write(change: WriteChange): Promise<WriteResult>;
  /** Deletes every key under the prefix in one revision; returns how many there were. */
  deletePrefix(prefix: string): Promise<number>;
  watch(prefix: string, options: WatchOptions): Watcher;
  /** Closes every watcher, then the store; idempotent. Later calls throw ClosedError. */
  close(): Promise<void>;
}
