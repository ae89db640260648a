/**
 * Exclusive resources ("host interface name X in namespace N"): one owner per claim. An item
 * refused because of a claim waits for it and is looked at again when the owner lets it go.
 */
import type { Claim, FieldError } from './types.js';

export interface NormalizedClaim {
  id: string;
  field: string;
  what: string;
}

export function normalizeClaim(c: Claim): NormalizedClaim {
  if (typeof c === 'string') return { id: c, field: '$', what: c };
  return { id: c.id, field: c.field ?? '$', what: c.what ?? c.id };
}

export class ClaimBook {
  private readonly owners = new Map<string, string>();
  private readonly waiters = new Map<string, Set<string>>();

  /** The errors `key` would get for claiming `claims` (one per claim owned by another key). */
  conflicts(key: string, claims: readonly NormalizedClaim[]): FieldError[] {
    const errors: FieldError[] = [];
    for (const c of claims) {
      const owner = this.owners.get(c.id);
      if (owner !== undefined && owner !== key) {
        errors.push({ field: c.field, message: `${c.what} is already claimed by ${owner}` });
      }
    }
    return errors;
  }

  /** Remembers that `key` waits for these claims to be released. */
  wait(key: string, claims: readonly NormalizedClaim[]): void {
    for (const c of claims) {
      const owner = this.owners.get(c.id);
      if (owner === undefined || owner === key) continue;
      let set = this.waiters.get(c.id);
      if (!set) this.waiters.set(c.id, (set = new Set()));
      set.add(key);
    }
  }

  unwait(key: string, ids: Iterable<string>): void {
    for (const id of ids) {
      const set = this.waiters.get(id);
      if (!set) continue;
      set.delete(key);
      if (set.size === 0) this.waiters.delete(id);
    }
  }

  ownerOf(id: string): string | undefined {
    return this.owners.get(id);
  }

  /** Every key waiting for a claim (usually none). */
  waitingKeys(): Set<string> {
    const keys = new Set<string>();
    for (const set of this.waiters.values()) for (const key of set) keys.add(key);
    return keys;
  }

  take(key: string, ids: Iterable<string>): void {
    for (const id of ids) this.owners.set(id, key);
  }

  /** Releases claims of `key`; calls `wake` with each key that waited for one of them. */
  release(key: string, ids: Iterable<string>, wake: (waiter: string) => void): void {
    for (const id of ids) {
      if (this.owners.get(id) !== key) continue;
      this.owners.delete(id);
      const set = this.waiters.get(id);
      if (set) for (const waiter of set) wake(waiter);
    }
  }

  clone(): ClaimBook {
    const copy = new ClaimBook();
    for (const [id, owner] of this.owners) copy.owners.set(id, owner);
    for (const [id, set] of this.waiters) copy.waiters.set(id, new Set(set));
    return copy;
  }
}
