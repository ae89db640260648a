/**
 * The desired side of the world: configured values, the items derived from them, outside facts,
 * and the indexes the planner needs (who depends on a key, which keys are under a folder).
 *
 * Every mutation adds the keys whose desired state may have changed to a `dirty` set; the planner
 * starts from those keys. Nothing here touches the real state.
 */
import type { AnyDescriptor, DesiredView, FieldError } from './types.js';
import type { DescriptorRegistry } from './descriptor-registry.js';
import { ClaimBook, normalizeClaim, type NormalizedClaim } from './claim-book.js';
import { normalizeDependency, sameTargets, type NormalizedDependency } from './dependency.js';
import { forEachFolderOf } from './key-prefixes.js';
import { deepEqual } from './deep-equal.js';
import { LastSetMap } from './last-set-map.js';

interface ParentLink {
  value: unknown;
  descriptor: string | undefined;
}

export interface DesiredItem {
  readonly key: string;
  descriptor: AnyDescriptor | undefined;
  /** The value put for this key by the user, if any. */
  config: { value: unknown } | undefined;
  /** Items deriving this key, with the value each derives (the last one set wins). */
  parents: LastSetMap<string, ParentLink> | undefined;
  /** True while a valid value is in effect. */
  desired: boolean;
  /** The valid value in effect (kept when a later value is refused). */
  value: unknown;
  /** Problems of the last value proposed for this key; empty when it was accepted. */
  fieldErrors: FieldError[];
  deps: NormalizedDependency[];
  derived: string[];
  claims: string[];
  waitingClaims: string[];
  reads: string[];
  /** Order in which items became desired. */
  seq: number;
}

/** The empty list shared by every item that has none (items are many: allocate little). */
const NONE: never[] = [];

const NO_DESCRIPTOR: FieldError[] = [{ field: '$', message: 'no descriptor handles this key' }];

export class DesiredGraph {
  readonly items = new Map<string, DesiredItem>();
  readonly facts = new Map<string, unknown>();
  private readonly dependents = new Map<string, Set<string>>();
  private readonly prefixDependents = new Map<string, Set<string>>();
  private readonly prefixMembers = new Map<string, Set<string>>();
  private readonly readers = new Map<string, Set<string>>();
  private claimBook = new ClaimBook();
  private readonly readersToRecheck = new Set<string>();
  private readonly claimWaitersToRecheck = new Set<string>();
  private seq = 0;
  /** Inside `batch`: readers are recomputed once, at its end (refused claimers after each change). */
  private batching = 0;

  constructor(private readonly registry: DescriptorRegistry) {}

  // ---- queries -------------------------------------------------------------------------------

  /** The desired value of a key, or undefined. */
  value(key: string): unknown {
    const item = this.items.get(key);
    return item?.desired === true ? item.value : undefined;
  }

  isDesired(key: string): boolean {
    return this.items.get(key)?.desired === true;
  }

  /** Keys that have a configured value (valid or not). */
  *configKeys(): IterableIterator<string> {
    for (const item of this.items.values()) if (item.config !== undefined) yield item.key;
  }

  /** Calls `visit` with each item whose dependencies name `key` (directly or by a folder of it). */
  forEachDependent(key: string, visit: (dependent: string) => void): void {
    const direct = this.dependents.get(key);
    if (direct) for (const d of direct) visit(d);
    if (this.prefixDependents.size === 0) return;
    forEachFolderOf(key, (prefix) => {
      const set = this.prefixDependents.get(prefix);
      if (set) for (const d of set) visit(d);
    });
  }

  /** Desired items and facts under a folder that some dependency names. */
  membersOf(prefix: string): Iterable<string> {
    return this.prefixMembers.get(prefix) ?? [];
  }

  // ---- mutations -----------------------------------------------------------------------------

  putConfig(key: string, value: unknown, dirty: Set<string>): void {
    const item = this.itemFor(key);
    item.config = { value };
    this.refresh(item, dirty);
    this.settleAfterChange(dirty);
  }

  deleteConfig(key: string, dirty: Set<string>): void {
    dirty.add(key);
    const item = this.items.get(key);
    if (!item || item.config === undefined) return;
    item.config = undefined;
    this.refresh(item, dirty);
    this.settleAfterChange(dirty);
  }

  /**
   * Runs many config changes, then recomputes what read the changed values once, from the final
   * values: when a thousand VETH ends go, each end that reads its peer is not recomputed first for
   * a peer that went just before it. Refused claimers are still looked at after each change, so a
   * released claim goes to the item that waited for it, as it would one change at a time. (What a
   * reader derives must depend on its own value only, not on what it reads in between.)
   */
  batch(changes: () => void, dirty: Set<string>): void {
    this.batching++;
    try {
      changes();
    } finally {
      this.batching--;
    }
    if (this.batching === 0) this.settle(dirty);
  }

  private settleAfterChange(dirty: Set<string>): void {
    if (this.batching === 0) this.settle(dirty);
    else this.recheckClaimWaiters(dirty);
  }

  setFact(key: string, value: unknown, dirty: Set<string>): void {
    if (this.facts.has(key) && deepEqual(this.facts.get(key), value)) return;
    this.facts.set(key, value);
    this.syncMembership(key);
    dirty.add(key);
  }

  deleteFact(key: string, dirty: Set<string>): void {
    if (!this.facts.delete(key)) return;
    this.syncMembership(key);
    dirty.add(key);
  }

  /** A copy that can be changed without changing this graph (for dry runs). */
  clone(): DesiredGraph {
    const copy = new DesiredGraph(this.registry);
    for (const [key, item] of this.items) copy.items.set(key, { ...item, parents: item.parents?.clone() });
    for (const [key, value] of this.facts) copy.facts.set(key, value);
    copyIndex(this.dependents, copy.dependents);
    copyIndex(this.prefixDependents, copy.prefixDependents);
    copyIndex(this.prefixMembers, copy.prefixMembers);
    copyIndex(this.readers, copy.readers);
    copy.claimBook = this.claimBook.clone();
    copy.seq = this.seq;
    return copy;
  }

  // ---- internals -----------------------------------------------------------------------------

  private itemFor(key: string): DesiredItem {
    let item = this.items.get(key);
    if (!item) {
      item = {
        key,
        descriptor: undefined,
        config: undefined,
        parents: undefined,
        desired: false,
        value: undefined,
        fieldErrors: NONE,
        deps: NONE,
        derived: NONE,
        claims: NONE,
        waitingClaims: NONE,
        reads: NONE,
        seq: 0,
      };
      this.items.set(key, item);
    }
    return item;
  }

  /** Looks at the value proposed for an item (its config, else its last parent's) again. */
  private refresh(item: DesiredItem, dirty: Set<string>): void {
    dirty.add(item.key);
    let proposed: unknown;
    let descriptorName: string | undefined;
    let hasSource = false;
    if (item.config !== undefined) {
      proposed = item.config.value;
      hasSource = true;
    } else {
      const link = item.parents?.last;
      if (link) {
        proposed = link.value;
        descriptorName = link.descriptor;
        hasSource = true;
      }
    }
    if (!hasSource) {
      this.undesire(item, dirty);
      this.claimBook.unwait(item.key, item.waitingClaims);
      this.items.delete(item.key);
      return;
    }
    const descriptor =
      descriptorName !== undefined ? this.registry.get(descriptorName) : this.registry.find(item.key);
    if (descriptor === undefined || (item.descriptor !== undefined && item.descriptor !== descriptor)) {
      // A key never changes kind while applied; an unknown kind is never desired.
      this.undesire(item, dirty);
    }
    item.descriptor = descriptor;
    if (descriptor === undefined) {
      item.fieldErrors = NO_DESCRIPTOR;
      return;
    }
    if (item.desired && item.value === proposed && item.fieldErrors.length === 0) return;
    this.accept(item, descriptor, proposed, dirty);
  }

  private accept(item: DesiredItem, descriptor: AnyDescriptor, proposed: unknown, dirty: Set<string>): void {
    const key = item.key;
    let errors: FieldError[];
    let claims: NormalizedClaim[] = [];
    let computed: Computed | undefined;
    try {
      errors = descriptor.validate?.(key, proposed) ?? [];
      if (errors.length === 0) {
        claims = (descriptor.claims?.(key, proposed) ?? []).map(normalizeClaim);
        computed = this.compute(descriptor, key, proposed);
      }
    } catch (error) {
      errors = [{ field: '$', message: `descriptor ${descriptor.name} failed: ${String(error)}` }];
    }
    this.claimBook.unwait(key, item.waitingClaims);
    item.waitingClaims = NONE;
    if (errors.length === 0) {
      errors = this.claimBook.conflicts(key, claims);
      if (errors.length > 0) {
        this.claimBook.wait(key, claims);
        item.waitingClaims = claims.map((c) => c.id);
      }
    }
    item.fieldErrors = errors.length === 0 ? NONE : errors;
    if (errors.length > 0 || computed === undefined) return; // the previous valid value stays

    const wasDesired = item.desired;
    item.value = proposed;
    if (!wasDesired) {
      item.desired = true;
      item.seq = ++this.seq;
      this.syncMembership(key);
    }
    const ids = claims.map((c) => c.id);
    const kept = new Set(ids);
    this.claimBook.release(
      key,
      item.claims.filter((id) => !kept.has(id)),
      (waiter) => this.claimWaitersToRecheck.add(waiter),
    );
    this.claimBook.take(key, ids);
    item.claims = ids.length === 0 ? NONE : ids;
    this.install(item, computed, dirty);
    this.wakeReaders(key);
  }

  /** Dependencies, derived items and the keys read to compute them. */
  private compute(descriptor: AnyDescriptor, key: string, value: unknown): Computed {
    const reads: string[] = [];
    const view: DesiredView = {
      value: <V>(k: string): V | undefined => {
        reads.push(k);
        return this.value(k) as V | undefined;
      },
    };
    const declared = descriptor.dependencies?.(key, value, view);
    const deps = declared === undefined || declared.length === 0 ? NONE : declared.map(normalizeDependency);
    const derived = descriptor.derived?.(key, value, view) ?? NONE;
    return { deps, derived, reads: reads.length === 0 ? NONE : reads };
  }

  private install(item: DesiredItem, computed: Computed, dirty: Set<string>): void {
    this.unindex(item);
    item.deps = computed.deps;
    item.reads = computed.reads;
    this.index(item);
    const children = new Set<string>();
    for (const child of computed.derived) {
      if (child.key === item.key) continue;
      children.add(child.key);
      this.setParent(child.key, item.key, { value: child.value, descriptor: child.descriptor }, dirty);
    }
    for (const old of item.derived) if (!children.has(old)) this.removeParent(old, item.key, dirty);
    item.derived = children.size === 0 ? NONE : [...children];
  }

  private undesire(item: DesiredItem, dirty: Set<string>): void {
    if (!item.desired) return;
    dirty.add(item.key);
    item.desired = false;
    item.value = undefined;
    this.unindex(item);
    item.deps = NONE;
    item.reads = NONE;
    this.claimBook.release(item.key, item.claims, (waiter) => this.claimWaitersToRecheck.add(waiter));
    item.claims = NONE;
    const children = item.derived;
    item.derived = NONE;
    for (const child of children) this.removeParent(child, item.key, dirty);
    this.syncMembership(item.key);
    this.wakeReaders(item.key);
  }

  private setParent(childKey: string, parentKey: string, link: ParentLink, dirty: Set<string>): void {
    const child = this.itemFor(childKey);
    const parents = (child.parents ??= new LastSetMap());
    const previous = parents.get(parentKey);
    if (previous && previous.descriptor === link.descriptor && deepEqual(previous.value, link.value)) return;
    parents.set(parentKey, link); // the last parent set is the one whose value counts
    if (child.config === undefined) this.refresh(child, dirty);
  }

  private removeParent(childKey: string, parentKey: string, dirty: Set<string>): void {
    const child = this.items.get(childKey);
    if (!child?.parents?.delete(parentKey)) return;
    this.refresh(child, dirty);
  }

  /** Recomputes what readers of changed values derived from them; then refused claimers. */
  private settle(dirty: Set<string>): void {
    do {
      while (this.readersToRecheck.size > 0 || this.claimWaitersToRecheck.size > 0) {
        for (const key of this.readersToRecheck) {
          this.readersToRecheck.delete(key);
          const item = this.items.get(key);
          if (item?.desired === true && item.descriptor !== undefined)
            this.recompute(item, item.descriptor, dirty);
        }
        this.recheckClaimWaiters(dirty);
      }
    } while (this.acceptClaimTrades(dirty));
  }

  /**
   * Values refused only because each wants a claim another of them holds and lets go (two items
   * trading host names, or names rotated among several, in one change): looked at one by one,
   * each is refused for the other's old value, which stays in effect while the other is refused.
   * Taken together they conflict with nothing: their old claims are released and they are accepted.
   * True when some were.
   */
  private acceptClaimTrades(dirty: Set<string>): boolean {
    const waiting = this.claimBook.waitingKeys();
    if (waiting.size < 2) return false;
    const proposals = new Map<string, Set<string>>();
    for (const key of waiting) {
      const item = this.items.get(key);
      const proposed = item?.config !== undefined ? item.config.value : item?.parents?.last?.value;
      let claims;
      try {
        claims = item?.desired ? item.descriptor?.claims?.(key, proposed) : undefined;
      } catch {
        continue; // refused for that when proposed; not traded
      }
      if (claims) proposals.set(key, new Set(claims.map((c) => normalizeClaim(c).id)));
    }
    // Keep only those whose every claim is free, theirs, or held by another of them that lets it go.
    for (let changed = true; changed;) {
      changed = false;
      const wantedBy = new Map<string, string>();
      for (const [key, ids] of proposals) {
        const blocked = [...ids].some((id) => {
          const other = wantedBy.get(id);
          wantedBy.set(id, key);
          if (other !== undefined && other !== key) return true; // two of them want it
          const owner = this.claimBook.ownerOf(id);
          return owner !== undefined && owner !== key && (proposals.get(owner)?.has(id) ?? true);
        });
        if (blocked) {
          proposals.delete(key);
          changed = true;
        }
      }
    }
    if (proposals.size === 0) return false;
    for (const [key, ids] of proposals) {
      const item = this.items.get(key)!;
      const released = item.claims.filter((id) => !ids.has(id));
      this.claimBook.release(key, released, (waiter) => this.claimWaitersToRecheck.add(waiter));
      item.claims = item.claims.filter((id) => ids.has(id));
    }
    for (const key of proposals.keys()) this.refresh(this.items.get(key)!, dirty);
    return true;
  }

  /** Proposes again the refused values that waited for a claim released since. */
  private recheckClaimWaiters(dirty: Set<string>): void {
    while (this.claimWaitersToRecheck.size > 0) {
      for (const key of this.claimWaitersToRecheck) {
        this.claimWaitersToRecheck.delete(key);
        const item = this.items.get(key);
        // A refused value is proposed again (refresh skips only accepted, unchanged values).
        if (item && item.fieldErrors.length > 0) this.refresh(item, dirty);
      }
    }
  }

  private recompute(item: DesiredItem, descriptor: AnyDescriptor, dirty: Set<string>): void {
    let computed: Computed;
    try {
      computed = this.compute(descriptor, item.key, item.value);
    } catch {
      return; // keep what was computed when the value was accepted
    }
    // New dependencies for an unchanged value: the planner re-creates the item if applied.
    if (!sameTargets(item.deps, computed.deps)) dirty.add(item.key);
    this.install(item, computed, dirty);
  }

  private wakeReaders(key: string): void {
    const set = this.readers.get(key);
    if (set) for (const reader of set) this.readersToRecheck.add(reader);
  }

  private index(item: DesiredItem): void {
    for (const d of item.deps) {
      if (d.prefix !== undefined) {
        if (!this.prefixDependents.has(d.prefix)) this.trackPrefix(d.prefix);
        addTo(this.prefixDependents, d.prefix, item.key);
      } else for (const k of d.keys) addTo(this.dependents, k, item.key);
    }
    for (const k of item.reads) addTo(this.readers, k, item.key);
  }

  private unindex(item: DesiredItem): void {
    for (const d of item.deps) {
      if (d.prefix !== undefined) removeFrom(this.prefixDependents, d.prefix, item.key, true);
      else for (const k of d.keys) removeFrom(this.dependents, k, item.key, false);
    }
    for (const k of item.reads) removeFrom(this.readers, k, item.key, false);
  }

  /** Starts keeping the members of a folder (one scan, then kept up to date). */
  private trackPrefix(prefix: string): void {
    const members = new Set<string>();
    for (const item of this.items.values())
      if (item.desired && item.key.startsWith(prefix)) members.add(item.key);
    for (const key of this.facts.keys()) if (key.startsWith(prefix)) members.add(key);
    this.prefixMembers.set(prefix, members);
    this.prefixDependents.set(prefix, new Set());
  }

  private syncMembership(key: string): void {
    if (this.prefixMembers.size === 0) return;
    const member = this.isDesired(key) || this.facts.has(key);
    forEachFolderOf(key, (prefix) => {
      const set = this.prefixMembers.get(prefix);
      if (!set) return;
      if (member) set.add(key);
      else set.delete(key);
    });
  }
}

interface Computed {
  deps: NormalizedDependency[];
  derived: { key: string; value: unknown; descriptor?: string }[];
  reads: string[];
}

function addTo(index: Map<string, Set<string>>, key: string, member: string): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(member);
}

/** Removes a member; `keepEmpty` keeps the empty set (tracked folders stay tracked). */
function removeFrom(index: Map<string, Set<string>>, key: string, member: string, keepEmpty: boolean): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(member);
  if (set.size === 0 && !keepEmpty) index.delete(key);
}

function copyIndex(from: Map<string, Set<string>>, to: Map<string, Set<string>>): void {
  for (const [key, set] of from) to.set(key, new Set(set));
}
