/**
 * The planner: desired graph + applied state + the keys that changed -> ordered operations and
 * the outcome of every key looked at. Pure: it reads, never writes, and calls only the pure
 * descriptor methods `equivalent` and `needsRecreate`.
 *
 * 1. Region: the changed keys and, transitively, everything that depends on them. Nothing
 *    outside it can change, so the work is proportional to the change, not to the graph.
 * 2. Wanted: the least fixpoint over the region: an item is wanted when it is desired and each
 *    dependency holds by a fact, by an applied item outside the region, or by a wanted item of
 *    the region. A cycle of items waiting on each other therefore stays pending.
 * 3. Removals: applied items not wanted, or to be re-created (kind changed, dependencies
 *    changed, a `recreateOnChange` fact changed, a change that cannot be made in place), then
 *    every applied item that would lose a dependency by those removals.
 * 4. Creations of wanted items not applied (or removed in step 3) and updates of changed ones,
 *    each after the creations and updates of what it depends on; removals in reverse order.
 */
import type { AnyDescriptor } from './types.js';
import type { DesiredGraph, DesiredItem } from './desired-graph.js';
import type { AppliedItem } from './applied-state.js';
import { addedDependencies, dependencyHolds, sameTargets, type NormalizedDependency } from './dependency.js';
import type { Outcome, Plan, PlannedOperation } from './plan.js';
import { deepEqual } from './deep-equal.js';
import { forEachFolderOf } from './key-prefixes.js';

export interface PlanInput {
  graph: DesiredGraph;
  applied: ReadonlyMap<string, AppliedItem>;
  /** Keys whose desired value, fact, or failure changed, or that are retried or resynced. */
  dirty: Iterable<string>;
  /**
   * Applied items whose removal failed or was skipped. They may be no longer desired, so the
   * graph does not list them as dependents; a removal of what they were built on must still wait
   * for theirs.
   */
  stuckRemovals?: ReadonlySet<string>;
}

const CONFIGURED: Outcome = { state: 'configured' };
const REMOVED: Outcome = { state: 'removed' };

export function plan(input: PlanInput): Plan {
  const { graph, applied } = input;
  const region = regionOf(graph, input.dirty);
  // Applied items of the region desired still, that must be made again (namespace, peer changed).
  const recreates = new Map<string, string>();
  for (const key of region) {
    const a = applied.get(key);
    const item = a && graph.items.get(key);
    if (item?.desired !== true || item.descriptor === undefined) continue;
    const why = recreateReason(graph, a!, item);
    if (why !== undefined) recreates.set(key, why);
  }
  const withdrawn = withdrawnFacts(graph, applied, region, recreates, input.stuckRemovals);
  // What needs a withdrawn fact is planned in this transaction too (a route through a link by its
  // host name does not depend on the link's item).
  if (withdrawn.facts.size > 0) widenRegion(graph, region, withdrawn.facts);
  const factHolds = (k: string): boolean =>
    graph.facts.has(k) && (withdrawn.facts.size === 0 || !withdrawn.facts.has(k));
  let wanted = wantedIn(graph, applied, region, factHolds);
  // A desired item that is not wanted is removed too (its VETH peer gone, its namespace...): what
  // its removal withdraws makes more items unwanted, a few rounds at most.
  for (let round = 0; round < 4; round++) {
    const more = withdrawUnwanted(graph, applied, region, wanted, withdrawn, input.stuckRemovals);
    if (more.length === 0) break;
    widenRegion(graph, region, more);
    wanted = wantedIn(graph, applied, region, factHolds);
  }

  const removal = new Map<string, { recreate: boolean; why: string }>();
  const reasons = new Map<string, string>();
  for (const key of region) {
    const a = applied.get(key);
    if (!a) continue;
    const item = graph.items.get(key);
    if (!wanted.has(key)) {
      const why =
        item?.desired === true
          ? pendingReason(graph, applied, region, wanted, item, reasons, factHolds)
          : 'no longer desired';
      removal.set(key, { recreate: false, why });
    } else {
      const why = recreates.get(key);
      if (why !== undefined) removal.set(key, { recreate: true, why });
    }
  }
  cascadeRemovals(graph, applied, removal, wanted, input.stuckRemovals, factHolds);

  const deletes: PlannedOperation[] = [];
  for (const [key, r] of removal) {
    const a = applied.get(key)!;
    deletes.push({
      kind: 'delete',
      key,
      descriptor: a.descriptor,
      value: a.value,
      recreate: r.recreate,
      why: r.why,
      after: [],
      deps: a.deps,
      ...(withdrawn.by.has(key) ? { withdrawn: withdrawn.by.get(key)! } : {}),
    });
  }
  const applies: PlannedOperation[] = [];
  const outcomes = new Map<string, Outcome>();
  for (const key of region) {
    const item = graph.items.get(key);
    const a = applied.get(key);
    if (wanted.has(key)) {
      const d = item!.descriptor!;
      const r = removal.get(key);
      if (!a || r) {
        const why = r ? r.why : 'new';
        applies.push({
          kind: 'create',
          key,
          descriptor: d,
          value: item!.value,
          recreate: r !== undefined,
          why,
          after: [],
          deps: item!.deps,
        });
      } else if (a.value !== item!.value && !isEquivalent(d, key, item!.value, a.value)) {
        applies.push({
          kind: 'update',
          key,
          descriptor: d,
          value: item!.value,
          recreate: false,
          why: 'value changed',
          after: [],
          deps: item!.deps,
        });
      }
      outcomes.set(key, CONFIGURED);
    } else if (item?.desired === true) {
      outcomes.set(key, {
        state: 'pending',
        reason: pendingReason(graph, applied, region, wanted, item, reasons, factHolds),
      });
    } else if (item !== undefined && item.fieldErrors.length > 0) {
      outcomes.set(key, { state: 'invalid', fieldErrors: item.fieldErrors });
    } else if (!graph.facts.has(key) || a !== undefined) {
      outcomes.set(key, REMOVED);
    }
  }
  // A key that stays through the transaction: anyOf/prefix dependencies it satisfies need no order.
  const stays = (k: string): boolean => factHolds(k) || (applied.has(k) && !removal.has(k));
  const members = (p: string): Iterable<string> => graph.membersOf(p);
  return {
    deletes: order(deletes, true, stays, members),
    applies: order(applies, false, stays, members),
    outcomes,
    regionSize: region.size,
  };
}

interface Withdrawn {
  facts: Set<string>;
  /** By the key whose removal withdraws them. */
  by: Map<string, string[]>;
}

/**
 * Facts the removals of this transaction take away (Descriptor.withdraws): of applied items of the
 * region no longer desired, which it removes, and of those it makes again elsewhere (what the old
 * value gave and the new one does not: a link moved to another namespace is gone from the first);
 * not of those whose removal failed before (what they withdraw is there until one succeeds).
 */
function withdrawnFacts(
  graph: DesiredGraph,
  applied: ReadonlyMap<string, AppliedItem>,
  region: ReadonlySet<string>,
  recreates: ReadonlyMap<string, string>,
  stuckRemovals: ReadonlySet<string> | undefined,
): Withdrawn {
  const withdrawn: Withdrawn = { facts: new Set(), by: new Map() };
  for (const key of region) {
    const a = applied.get(key);
    if (a?.descriptor.withdraws === undefined || stuckRemovals?.has(key)) continue;
    if (!graph.isDesired(key)) {
      noteWithdrawn(withdrawn, key, a.descriptor.withdraws(key, a.value));
      continue;
    }
    if (!recreates.has(key)) continue;
    const item = graph.items.get(key)!;
    const given = new Set(
      item.descriptor === a.descriptor ? (a.descriptor.withdraws(key, item.value) ?? []) : [],
    );
    noteWithdrawn(
      withdrawn,
      key,
      a.descriptor.withdraws(key, a.value).filter((fact) => !given.has(fact)),
    );
  }
  return withdrawn;
}

/** Adds what the removals of desired items that are not wanted withdraw; returns the new facts. */
function withdrawUnwanted(
  graph: DesiredGraph,
  applied: ReadonlyMap<string, AppliedItem>,
  region: ReadonlySet<string>,
  wanted: ReadonlySet<string>,
  withdrawn: Withdrawn,
  stuckRemovals: ReadonlySet<string> | undefined,
): string[] {
  const added: string[] = [];
  for (const key of region) {
    const a = applied.get(key);
    if (a?.descriptor.withdraws === undefined || wanted.has(key) || withdrawn.by.has(key)) continue;
    if (!graph.isDesired(key) || stuckRemovals?.has(key)) continue;
    const facts = a.descriptor.withdraws(key, a.value);
    for (const fact of facts) if (!withdrawn.facts.has(fact)) added.push(fact);
    noteWithdrawn(withdrawn, key, facts);
  }
  return added;
}

function noteWithdrawn(withdrawn: Withdrawn, key: string, facts: readonly string[]): void {
  if (facts.length === 0) return;
  withdrawn.by.set(key, [...facts]);
  for (const fact of facts) withdrawn.facts.add(fact);
}

/** The dirty keys and everything that (transitively) depends on them. */
function regionOf(graph: DesiredGraph, dirty: Iterable<string>): Set<string> {
  const region = new Set<string>();
  widenRegion(graph, region, dirty);
  return region;
}

/** Adds these keys and everything that (transitively) depends on them to the region. */
function widenRegion(graph: DesiredGraph, region: Set<string>, keys: Iterable<string>): void {
  const queue: string[] = [];
  for (const key of keys) {
    if (region.has(key)) continue;
    region.add(key);
    queue.push(key);
  }
  const visit = (dependent: string): void => {
    if (region.has(dependent)) return;
    region.add(dependent);
    queue.push(dependent);
  };
  for (let i = 0; i < queue.length; i++) graph.forEachDependent(queue[i]!, visit);
}

interface Candidate {
  item: DesiredItem;
  /** Dependencies not yet known to hold. */
  open: number;
  /** Per dependency: known to hold (a bit each, for the first 32; beyond, `heldMore`). */
  held: number;
  heldMore: Set<number> | undefined;
  hopeless: boolean;
}

function markHeld(c: Candidate, i: number): boolean {
  if (i < 32) {
    const bit = 1 << i;
    if ((c.held & bit) !== 0) return false;
    c.held |= bit;
    return true;
  }
  c.heldMore ??= new Set();
  if (c.heldMore.has(i)) return false;
  c.heldMore.add(i);
  return true;
}

/** The region's items that will be applied if every operation succeeds (least fixpoint). */
function wantedIn(
  graph: DesiredGraph,
  applied: ReadonlyMap<string, AppliedItem>,
  region: ReadonlySet<string>,
  factHolds: (key: string) => boolean,
): Set<string> {
  const candidates = new Map<string, Candidate>();
  for (const key of region) {
    const item = graph.items.get(key);
    if (item?.desired === true && item.descriptor !== undefined) {
      candidates.set(key, { item, open: 0, held: 0, heldMore: undefined, hopeless: false });
    }
  }
  const holdsNow = (k: string): boolean =>
    factHolds(k) || (!region.has(k) && applied.has(k) && graph.isDesired(k));
  const members = (prefix: string): Iterable<string> => graph.membersOf(prefix);
  // Per key of the region: the candidates waiting for it, as pairs (candidate, dependency index).
  const waiting = new Map<string, (Candidate | number)[]>();
  const wanted = new Set<string>();
  const ready: Candidate[] = [];

  for (const c of candidates.values()) {
    const deps = c.item.deps;
    for (let i = 0; i < deps.length; i++) {
      const d = deps[i]!;
      if (dependencyHolds(d, holdsNow, members)) continue;
      let couldHold = false;
      for (const k of d.prefix !== undefined ? members(d.prefix) : d.keys) {
        if (!candidates.has(k)) continue;
        couldHold = true;
        const list = waiting.get(k);
        if (list) list.push(c, i);
        else waiting.set(k, [c, i]);
      }
      if (!couldHold) {
        c.hopeless = true;
        break;
      }
      c.open++;
    }
    if (!c.hopeless && c.open === 0) ready.push(c);
  }
  while (ready.length > 0) {
    const c = ready.pop()!;
    wanted.add(c.item.key);
    const list = waiting.get(c.item.key);
    if (!list) continue;
    for (let j = 0; j < list.length; j += 2) {
      const dependent = list[j] as Candidate;
      if (dependent.hopeless || !markHeld(dependent, list[j + 1] as number)) continue;
      if (--dependent.open === 0) ready.push(dependent);
    }
  }
  return wanted;
}

/** The reason of the first dependency of a desired, unwanted item that will not hold. */
function pendingReason(
  graph: DesiredGraph,
  applied: ReadonlyMap<string, AppliedItem>,
  region: ReadonlySet<string>,
  wanted: ReadonlySet<string>,
  item: DesiredItem,
  cache: Map<string, string>,
  factHolds: (key: string) => boolean,
): string {
  const cached = cache.get(item.key);
  if (cached !== undefined) return cached;
  const holds = (k: string): boolean =>
    factHolds(k) || wanted.has(k) || (!region.has(k) && applied.has(k) && graph.isDesired(k));
  let reason = 'waiting for its dependencies';
  for (const d of item.deps) {
    if (!dependencyHolds(d, holds, (p) => graph.membersOf(p))) {
      reason = d.reason;
      break;
    }
  }
  cache.set(item.key, reason);
  return reason;
}

/** Why an applied, still wanted item must be deleted and created again, or undefined. */
function recreateReason(graph: DesiredGraph, a: AppliedItem, item: DesiredItem): string | undefined {
  const d = item.descriptor!;
  if (a.descriptor !== d) return `kind changed from ${a.descriptor.name} to ${d.name}`;
  if (!sameTargets(a.deps, item.deps)) {
    // Said as what the item now needs ("waiting for named namespace ns2" -> "named namespace ns2").
    const added = addedDependencies(a.deps, item.deps).map((r) => r.replace(/^waiting for /, ''));
    return added.length ? `dependencies changed (now: ${added.join('; ')})` : 'dependencies changed';
  }
  if (a.factValues !== undefined) {
    for (const [fact, value] of a.factValues) {
      if (graph.facts.has(fact) && !deepEqual(graph.facts.get(fact), value)) return `${fact} changed`;
    }
  }
  if (a.value === item.value || isEquivalent(d, item.key, item.value, a.value)) return undefined;
  if (d.update === undefined) return 'value changed';
  if (d.needsRecreate?.(item.key, a.value, item.value, a.metadata) === true)
    return 'value changed (re-create)';
  return undefined;
}

export function isEquivalent(d: AnyDescriptor, key: string, desired: unknown, actual: unknown): boolean {
  return d.equivalent ? d.equivalent(key, desired, actual) : deepEqual(desired, actual);
}

/**
 * Adds every applied item that would lose a dependency through the removals (an item never
 * outlives what it was built on); those still wanted are created again afterwards.
 */
function cascadeRemovals(
  graph: DesiredGraph,
  applied: ReadonlyMap<string, AppliedItem>,
  removal: Map<string, { recreate: boolean; why: string }>,
  wanted: ReadonlySet<string>,
  stuckRemovals: ReadonlySet<string> | undefined,
  factHolds: (key: string) => boolean,
): void {
  const holds = (k: string): boolean => factHolds(k) || (applied.has(k) && !removal.has(k));
  const members = (p: string): Iterable<string> => graph.membersOf(p);
  // Stuck removals by what they depend on (by key; those with a folder dependency are always looked at).
  let stuckByKey: Map<string, string[]> | undefined;
  const stuckLoose: string[] = [];
  for (const key of stuckRemovals ?? []) {
    for (const d of applied.get(key)?.deps ?? []) {
      if (d.prefix !== undefined) {
        stuckLoose.push(key);
        continue;
      }
      stuckByKey ??= new Map();
      for (const k of d.keys) {
        const list = stuckByKey.get(k);
        if (list) list.push(key);
        else stuckByKey.set(k, [key]);
      }
    }
  }
  const queue = [...removal.keys()];
  for (let i = 0; i < queue.length; i++) {
    const removed = queue[i]!;
    const visit = (dependent: string): void => {
      if (removal.has(dependent)) return;
      const a = applied.get(dependent);
      if (!a) return;
      const lost = a.deps.find((d) => !dependencyHolds(d, holds, members));
      if (!lost) return;
      const recreate = wanted.has(dependent);
      removal.set(dependent, { recreate, why: recreate ? `${removed} is re-created` : lost.reason });
      queue.push(dependent);
    };
    graph.forEachDependent(removed, visit);
    for (const key of stuckByKey?.get(removed) ?? []) visit(key);
    for (const key of stuckLoose) visit(key);
  }
}

/**
 * Orders one phase (Kahn's algorithm) and fills `after`. `reverse`: an operation waits for the
 * operations of the items that depend on it (removals; but see removedWithIt in types.ts);
 * otherwise for those of its dependencies.
 * An anyOf/prefix dependency orders nothing when one of its keys stays; if its edges still make
 * a cycle (items that could each satisfy the other), only single-key dependencies order the
 * phase (the executor checks dependencies anyway).
 */
function order(
  ops: PlannedOperation[],
  reverse: boolean,
  stays: (key: string) => boolean,
  members: (prefix: string) => Iterable<string>,
): PlannedOperation[] {
  if (ops.length === 0) return ops;
  const followLoose = (d: NormalizedDependency): boolean => !dependencyHolds(d, stays, members);
  // Tried in turn, each only if the one before makes a cycle: removals ahead of what they take with
  // them (removedWithIt, a preference), then the usual order; for creations, a dependency on any
  // of several keys waiting for the first of them instead of all (one of them may be built on the
  // item, e.g. its own derived item); last, such dependencies left out of the order.
  const usual = { reverse, followLoose, breakCycles: false, removedWithFirst: false, anyOfAsOne: false };
  return (
    (reverse ? orderWith(ops, { ...usual, removedWithFirst: true }) : undefined) ??
    orderWith(ops, usual) ??
    (reverse ? undefined : orderWith(ops, { ...usual, anyOfAsOne: true })) ??
    orderWith(ops, { ...usual, followLoose: () => false, breakCycles: true })!
  );
}

interface OrderOptions {
  /** Removals: dependents before what they depend on. */
  reverse: boolean;
  /** Whether a dependency on any of several keys (or a folder) must be ordered at all. */
  followLoose: (d: NormalizedDependency) => boolean;
  /** Order anyway when there is a cycle, dropping the edges against the order. */
  breakCycles: boolean;
  /** Removals: what others go with (removedWithIt) before them, when nothing else depends on them. */
  removedWithFirst: boolean;
  /** Creations: a dependency on any of several keys waits for the first of them ordered only. */
  anyOfAsOne: boolean;
}

/** Undefined when the edges make a cycle, unless `breakCycles`. */
function orderWith(ops: PlannedOperation[], options: OrderOptions): PlannedOperation[] | undefined {
  const { reverse, followLoose, breakCycles, removedWithFirst, anyOfAsOne } = options;
  const byKey = new Map<string, number>();
  for (let i = 0; i < ops.length; i++) byKey.set(ops[i]!.key, i);
  const prefixIndex = prefixIndexOf(ops);
  const successors: (number[] | undefined)[] = new Array<number[] | undefined>(ops.length);
  const indegree = new Int32Array(ops.length);
  const edge = (first: number, then: number): void => {
    const list = successors[first];
    if (list) list.push(then);
    else successors[first] = [then];
    indegree[then]!++;
  };
  // An item that others depend on the usual way is removed before its dependency even when it
  // goes with it: what was built on it must not outlive what it was built on.
  const dependedOn = removedWithFirst ? new Uint8Array(ops.length) : undefined;
  if (dependedOn) {
    for (const op of ops) {
      for (const d of op.deps) {
        if (d.removedWithIt) continue;
        if (d.prefix !== undefined) for (const j of prefixIndex.get(d.prefix) ?? []) dependedOn[j] = 1;
        else
          for (const k of d.keys) {
            const j = byKey.get(k);
            if (j !== undefined) dependedOn[j] = 1;
          }
      }
    }
  }
  // anyOfAsOne: a creation that needs any one of several keys waits for the first of them ordered
  // here: one constraint, met by whichever comes first (an edge from each orders it after all).
  const alternatives: { target: number; metBy: number }[] = [];
  const alternativeOf: (number[] | undefined)[] = new Array<number[] | undefined>(ops.length);
  for (let i = 0; i < ops.length; i++) {
    for (const d of ops[i]!.deps) {
      if ((d.prefix !== undefined || d.keys.length > 1) && !followLoose(d)) continue;
      if (anyOfAsOne && d.prefix === undefined && d.keys.length > 1) {
        const c = alternatives.length;
        let planned = false;
        for (const k of d.keys) {
          const j = byKey.get(k);
          if (j === undefined || j === i || alternativeOf[j]?.at(-1) === c) continue;
          const list = alternativeOf[j];
          if (list) list.push(c);
          else alternativeOf[j] = [c];
          planned = true;
        }
        if (planned) {
          alternatives.push({ target: i, metBy: -1 });
          indegree[i]!++;
        }
        continue;
      }
      if (d.prefix !== undefined) {
        for (const j of prefixIndex.get(d.prefix) ?? []) if (j !== i) edge(reverse ? i : j, reverse ? j : i);
        continue;
      }
      // Not reversed: j (a dependency) goes before i. Reversed: i (the dependent) before j,
      // unless removing j removes i as well (removedWithIt): then j goes first and i finds it done.
      const dependentFirst = reverse && !(d.removedWithIt && dependedOn !== undefined && dependedOn[i] === 0);
      for (const k of d.keys) {
        const j = byKey.get(k);
        if (j !== undefined && j !== i) edge(dependentFirst ? i : j, dependentFirst ? j : i);
      }
    }
  }
  // Of the operations that can start at once, those that others wait for go first: e.g. the links
  // of a teardown reach the deletion batcher together, ahead of the many removals nothing waits on.
  const waitedFor = (i: number): boolean => successors[i] !== undefined || alternativeOf[i] !== undefined;
  const sorted: number[] = [];
  for (let i = 0; i < ops.length; i++) if (indegree[i] === 0 && waitedFor(i)) sorted.push(i);
  for (let i = 0; i < ops.length; i++) if (indegree[i] === 0 && !waitedFor(i)) sorted.push(i);
  for (let q = 0; q < sorted.length; q++) {
    const i = sorted[q]!;
    for (const s of successors[i] ?? []) if (--indegree[s]! === 0) sorted.push(s);
    for (const c of alternativeOf[i] ?? []) {
      const constraint = alternatives[c]!;
      if (constraint.metBy !== -1) continue;
      constraint.metBy = i;
      if (--indegree[constraint.target]! === 0) sorted.push(constraint.target);
    }
  }
  if (sorted.length < ops.length) {
    // Single-key edges never form a cycle (wanted items are a least fixpoint, applied ones were
    // created in order); broken anyway rather than stuck.
    if (!breakCycles) return undefined;
    for (let i = 0; i < ops.length; i++) if (indegree[i]! > 0) sorted.push(i);
  }
  const position = new Int32Array(ops.length);
  for (let p = 0; p < sorted.length; p++) position[sorted[p]!] = p;
  for (let i = 0; i < ops.length; i++) {
    for (const s of successors[i] ?? []) {
      // Edges against the order exist only in a broken cycle: dropped.
      if (position[i]! < position[s]!) ops[s]!.after.push(position[i]!);
    }
  }
  for (const { target, metBy } of alternatives) {
    if (metBy !== -1 && position[metBy]! < position[target]!) ops[target]!.after.push(position[metBy]!);
  }
  return sorted.map((i) => ops[i]!);
}

/** For the prefix dependencies of a phase: folder -> operations of keys under it. */
function prefixIndexOf(ops: PlannedOperation[]): Map<string, number[]> {
  const index = new Map<string, number[]>();
  for (const op of ops) for (const d of op.deps) if (d.prefix !== undefined) index.set(d.prefix, []);
  if (index.size === 0) return index;
  ops.forEach((op, i) => forEachFolderOf(op.key, (p) => index.get(p)?.push(i)));
  return index;
}
