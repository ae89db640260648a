/**
 * Work waiting for the next transaction. Whatever arrives while a transaction runs is merged
 * here (the last value of a key wins) and runs as one transaction: never dropped, never one
 * transaction per event.
 */
import type { Change, FactChange, ResyncScope } from './types.js';
import type { TransactionCause, TransactionRecord } from './history.js';

/**
 * The merged changes of one key, equivalent to applying them one by one: a delete (of what was
 * there before the batch), then the last valid value, then a later refused one (shown as
 * invalid while the valid one stays in effect).
 */
export interface ConfigChange {
  deleteFirst: boolean;
  valid?: { value: unknown };
  /**
   * A later valid value put after `valid` in the same batch: proposed after it, so that, refused (a
   * claim another item holds), `valid` stays in effect, as it would had they come one by one.
   */
  thenValid?: { value: unknown };
  refused?: { value: unknown };
}
export type FactUpdate = { asserted: true; value: unknown } | { asserted: false };

export interface ResyncRequest {
  all: boolean;
  descriptors: Set<string>;
  keys: Set<string>;
}

export interface Waiter {
  resolve(record: TransactionRecord | undefined): void;
  reject(error: unknown): void;
  /** Notifications never reject (nobody may be listening): they resolve undefined. */
  quiet: boolean;
}

export interface Batch {
  causes: TransactionCause[];
  replace: boolean;
  config: Map<string, ConfigChange>;
  facts: Map<string, FactUpdate>;
  retries: Set<string>;
  resync: ResyncRequest | undefined;
  waiters: Waiter[];
}

function emptyBatch(): Batch {
  return {
    causes: [],
    replace: false,
    config: new Map(),
    facts: new Map(),
    retries: new Set(),
    resync: undefined,
    waiters: [],
  };
}

export class WorkQueue {
  private batch = emptyBatch();

  get isEmpty(): boolean {
    const b = this.batch;
    return (
      b.waiters.length === 0 &&
      !b.replace &&
      b.config.size === 0 &&
      b.facts.size === 0 &&
      b.retries.size === 0 &&
      b.resync === undefined
    );
  }

  /** `isValid` tells refused values apart, so that merging keeps the meaning of the sequence. */
  addChange(
    change: Change,
    waiter: Waiter | undefined,
    isValid: (key: string, value: unknown) => boolean,
  ): void {
    const b = this.batch;
    this.cause(change.resync !== undefined && change.resync !== false ? 'resync' : 'commit');
    if (change.replace === true) {
      b.config.clear();
      b.replace = true;
    }
    for (const { key, value } of change.puts ?? []) {
      const previous = b.config.get(key);
      b.config.delete(key);
      if (isValid(key, value)) {
        // The valid value put last before this one in the batch, if any.
        const before = previous?.thenValid ?? previous?.valid;
        b.config.set(
          key,
          before
            ? { deleteFirst: false, valid: before, thenValid: { value } }
            : { deleteFirst: false, valid: { value } },
        );
      } else {
        const merged: ConfigChange = { deleteFirst: previous?.deleteFirst ?? false, refused: { value } };
        if (previous?.valid) merged.valid = previous.valid;
        if (previous?.thenValid) merged.thenValid = previous.thenValid;
        b.config.set(key, merged);
      }
    }
    for (const key of change.deletes ?? []) {
      b.config.delete(key);
      b.config.set(key, { deleteFirst: true });
    }
    if (change.resync !== undefined && change.resync !== false)
      this.addResync(change.resync === true ? {} : change.resync, change.resync === true);
    if (waiter) b.waiters.push(waiter);
  }

  addFacts(facts: readonly FactChange[], waiter: Waiter | undefined): void {
    this.cause('notify');
    for (const f of facts) {
      this.batch.facts.delete(f.key);
      this.batch.facts.set(f.key, 'deleted' in f ? { asserted: false } : { asserted: true, value: f.value });
    }
    if (waiter) this.batch.waiters.push(waiter);
  }

  addRetries(keys: readonly string[]): void {
    this.cause('retry');
    for (const key of keys) this.batch.retries.add(key);
  }

  /** The merged work so far; the queue starts empty again. */
  take(): Batch {
    const b = this.batch;
    this.batch = emptyBatch();
    return b;
  }

  private addResync(scope: ResyncScope, all: boolean): void {
    const r = (this.batch.resync ??= { all: false, descriptors: new Set(), keys: new Set() });
    const everything = all || (scope.descriptors === undefined && scope.keys === undefined);
    if (everything) r.all = true;
    for (const d of scope.descriptors ?? []) r.descriptors.add(d);
    for (const k of scope.keys ?? []) r.keys.add(k);
  }

  private cause(cause: TransactionCause): void {
    if (!this.batch.causes.includes(cause)) this.batch.causes.push(cause);
  }
}
