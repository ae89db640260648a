/**
 * The status of every item the engine knows, and the changes since they were last handed to
 * listeners. A refused value shows as `invalid` whatever happens to the previous value, which
 * stays applied; removed items are remembered a while (the last `removedLimit` ones).
 */
import type { ErrorInfo, FieldError, ItemState, ItemStatus } from './types.js';
import { deepEqual } from './deep-equal.js';

/** A status without its bookkeeping fields (key, descriptor, origin, updatedAt). */
export interface StatusFacts {
  state: ItemState;
  reason?: string;
  error?: ErrorInfo;
  retries?: number;
  nextRetryAt?: number;
}

export interface ItemIdentity {
  descriptor: string;
  origin: 'config' | 'derived';
  fieldErrors: FieldError[];
}

export class StatusTable {
  private readonly table = new Map<string, ItemStatus>();
  private readonly removed = new Set<string>();
  private changes: ItemStatus[] = [];
  private changeSeq = 0;

  constructor(private readonly removedLimit: number) {}

  get(key: string): ItemStatus | undefined {
    return this.table.get(key);
  }

  list(): ItemStatus[] {
    return [...this.table.values()];
  }

  /** Sets the status of `key`; `identity` undefined means the key is gone from the desired graph. */
  set(key: string, facts: StatusFacts, identity: ItemIdentity | undefined, now: number): void {
    const old = this.table.get(key);
    if (facts.state === 'removed' && old === undefined) return; // never known, nothing to say
    const next: ItemStatus = {
      key,
      state: facts.state,
      descriptor: identity?.descriptor ?? old?.descriptor ?? '',
      origin: identity?.origin ?? old?.origin ?? 'config',
      updatedAt: now,
    };
    if (facts.reason !== undefined) next.reason = facts.reason;
    if (facts.error !== undefined) next.error = facts.error;
    if (facts.retries !== undefined) next.retries = facts.retries;
    if (facts.nextRetryAt !== undefined) next.nextRetryAt = facts.nextRetryAt;
    if (identity !== undefined && identity.fieldErrors.length > 0) {
      // The refused value is the news; what happened to the previous value stays in reason/error.
      next.state = 'invalid';
      next.fieldErrors = identity.fieldErrors;
    }
    if (old !== undefined && sameStatus(old, next)) return;
    next.changeSeq = ++this.changeSeq;
    this.table.set(key, next);
    this.changes.push(next);
    if (next.state === 'removed') this.remember(key);
    else this.removed.delete(key);
  }

  /** The changes since the last call. */
  takeChanges(): ItemStatus[] {
    const changes = this.changes;
    this.changes = [];
    return changes;
  }

  private remember(key: string): void {
    this.removed.delete(key);
    this.removed.add(key);
    if (this.removed.size <= this.removedLimit) return;
    const oldest = this.removed.values().next().value;
    if (oldest === undefined) return;
    this.removed.delete(oldest);
    this.table.delete(oldest);
  }
}

function sameStatus(a: ItemStatus, b: ItemStatus): boolean {
  return (
    a.state === b.state &&
    a.reason === b.reason &&
    a.retries === b.retries &&
    a.nextRetryAt === b.nextRetryAt &&
    a.descriptor === b.descriptor &&
    a.origin === b.origin &&
    deepEqual(a.error, b.error) &&
    deepEqual(a.fieldErrors, b.fieldErrors)
  );
}
