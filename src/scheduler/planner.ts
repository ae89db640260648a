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
import { dependencyHolds, sameTargets, type NormalizedDependency } from './dependency.js';
import type { Outcome, Plan, PlannedOperation } from './plan.js';
import { deepEqual } from './deep-equal.js';
import { forEachFolderOf } from './key-prefixes.js';

export interface PlanInput {
  graph: DesiredGraph;
  applied: ReadonlyMap<string, AppliedItem>;
  /** Keys whose desired value, fact, or failure changed, or that are retried or resynced. */
  dirty: Iterable<string>;
}

export function plan(input: PlanInput): Plan {
  const { graph, applied } = input;
  const region = regionOf(graph, input.dirty);
  const wanted = wantedIn(graph, applied, region);

  const removal = new Map<string, { recreate: boolean; why: string }>();
  const reasons = new Map<string, string>();
  for (const key of region) {
    const a = applied.get(key);
    if (!a) continue;
    const item = graph.items.get(key);
    if (!wanted.has(key)) {
      const why = item?.desired === true ? pendingReason(graph, applied, region, wanted, item, reasons) : 'no longer desired';
      removal.set(key, { recreate: false, why });
    } else {
      const why = recreateReason(graph, a, item!);
      if (why !== undefined) removal.set(key, { recreate: true, why });
    }
  }
  cascadeRemovals(graph, applied, removal, wanted);

  const deletes: PlannedOperation[] = [];
  for (const [key, r] of removal) {
    const a = applied.get(key)!;
    deletes.push({ kind: 'delete', key, descriptor: a.descriptor, value: a.value, recreate: r.recreate, why: r.why, after: [] });
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
        applies.push({ kind: 'create', key, descriptor: d, value: item!.value, recreate: r !== undefined, why, after: [] });
      } else if (a.value !== item!.value && !isEquivalent(d, key, item!.value, a.value)) {
        applies.push({ kind: 'update', key, descriptor: d, value: item!.value, recreate: false, why: 'value changed', after: [] });
      }
      outcomes.set(key, { state: 'configured' });
    } else if (item?.desired === true) {
      outcomes.set(key, { state: 'pending', reason: pendingReason(graph, applied, region, wanted, item, reasons) });
    } else if (item !== undefined && item.fieldErrors.length > 0) {
      outcomes.set(key, { state: 'invalid', fieldErrors: item.fieldErrors });
    } else if (!graph.facts.has(key) || a !== undefined) {
      outcomes.set(key, { state: 'removed' });
    }
  }
  return {
    deletes: order(deletes, (op) => applied.get(op.key)!.deps, true),
    applies: order(applies, (op) => graph.items.get(op.key)!.deps, false),
    outcomes,
    regionSize: region.size,
  };
}

/** The dirty keys and everything that (transitively) depends on them. */
function regionOf(graph: DesiredGraph, dirty: Iterable<string>): Set<string> {
  const region = new Set<string>();
  const queue: string[] = [];
  for (const key of dirty) {
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
  return region;
}

interface Candidate {
  item: DesiredItem;
  /** Dependencies not yet known to hold. */
  open: number;
  /** Per dependency: known to hold. */
  held: boolean[];
  hopeless: boolean;
}

/** The region's items that will be applied if every operation succeeds (least fixpoint). */
function wantedIn(graph: DesiredGraph, applied: ReadonlyMap<string, AppliedItem>, region: ReadonlySet<string>): Set<string> {
  const candidates = new Map<string, Candidate>();
  for (const key of region) {
    const item = graph.items.get(key);
    if (item?.desired === true && item.descriptor !== undefined) {
      candidates.set(key, { item, open: 0, held: new Array<boolean>(item.deps.length).fill(false), hopeless: false });
    }
  }
  const holdsNow = (k: string): boolean => graph.facts.has(k) || (!region.has(k) && applied.has(k) && graph.isDesired(k));
  const members = (prefix: string): Iterable<string> => graph.membersOf(prefix);
  const waiting = new Map<string, [Candidate, number][]>();
  const wanted = new Set<string>();
  const ready: Candidate[] = [];

  for (const c of candidates.values()) {
    const deps = c.item.deps;
    for (let i = 0; i < deps.length; i++) {
      const d = deps[i]!;
      if (dependencyHolds(d, holdsNow, members)) {
        c.held[i] = true;
        continue;
      }
      let couldHold = false;
      for (const k of d.prefix !== undefined ? members(d.prefix) : d.keys) {
        if (!candidates.has(k)) continue;
        couldHold = true;
        let list = waiting.get(k);
        if (!list) waiting.set(k, (list = []));
        list.push([c, i]);
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
    for (const [dependent, i] of list) {
      if (dependent.hopeless || dependent.held[i]) continue;
      dependent.held[i] = true;
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
): string {
  const cached = cache.get(item.key);
  if (cached !== undefined) return cached;
  const holds = (k: string): boolean =>
    graph.facts.has(k) || wanted.has(k) || (!region.has(k) && applied.has(k) && graph.isDesired(k));
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
  if (!sameTargets(a.deps, item.deps)) return 'dependencies changed';
  if (a.factValues !== undefined) {
    for (const [fact, value] of a.factValues) {
      if (graph.facts.has(fact) && !deepEqual(graph.facts.get(fact), value)) return `${fact} changed`;
    }
  }
  if (a.value === item.value || isEquivalent(d, item.key, item.value, a.value)) return undefined;
  if (d.update === undefined) return 'value changed';
  if (d.needsRecreate?.(item.key, a.value, item.value, a.metadata) === true) return 'value changed (re-create)';
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
): void {
  const holds = (k: string): boolean => graph.facts.has(k) || (applied.has(k) && !removal.has(k));
  const members = (p: string): Iterable<string> => graph.membersOf(p);
  const queue = [...removal.keys()];
  for (let i = 0; i < queue.length; i++) {
    const removed = queue[i]!;
    graph.forEachDependent(removed, (dependent) => {
      if (removal.has(dependent)) return;
      const a = applied.get(dependent);
      if (!a) return;
      const lost = a.deps.find((d) => !dependencyHolds(d, holds, members));
      if (!lost) return;
      const recreate = wanted.has(dependent);
      removal.set(dependent, { recreate, why: recreate ? `${removed} is re-created` : lost.reason });
      queue.push(dependent);
    });
  }
}

/**
 * Orders one phase (Kahn's algorithm) and fills `after`. `reverse`: an operation waits for the
 * operations of the items that depend on it (removals); otherwise for those of its dependencies.
 */
function order(
  ops: PlannedOperation[],
  depsOf: (op: PlannedOperation) => readonly NormalizedDependency[],
  reverse: boolean,
): PlannedOperation[] {
  if (ops.length === 0) return ops;
  const byKey = new Map<string, number>();
  ops.forEach((op, i) => byKey.set(op.key, i));
  const prefixIndex = prefixIndexOf(ops, depsOf);
  const successors: number[][] = ops.map(() => []);
  const indegree = new Array<number>(ops.length).fill(0);
  for (let i = 0; i < ops.length; i++) {
    for (const d of depsOf(ops[i]!)) {
      const targets = d.prefix !== undefined ? (prefixIndex.get(d.prefix) ?? []) : d.keys.map((k) => byKey.get(k));
      for (const j of targets) {
        if (j === undefined || j === i) continue;
        // Not reversed: j (a dependency) goes before i. Reversed: i (the dependent) before j.
        const [first, then] = reverse ? [i, j] : [j, i];
        successors[first]!.push(then);
        indegree[then]!++;
      }
    }
  }
  const sorted: number[] = [];
  const queue: number[] = [];
  for (let i = 0; i < ops.length; i++) if (indegree[i] === 0) queue.push(i);
  for (let q = 0; q < queue.length; q++) {
    const i = queue[q]!;
    sorted.push(i);
    for (const s of successors[i]!) if (--indegree[s]! === 0) queue.push(s);
  }
  if (sorted.length < ops.length) {
    // A cycle (possible only through anyOf/prefix dependencies of applied items): break it.
    for (let i = 0; i < ops.length; i++) if (indegree[i]! > 0) sorted.push(i);
  }
  const position = new Array<number>(ops.length);
  sorted.forEach((i, p) => (position[i] = p));
  const predecessors: number[][] = ops.map(() => []);
  for (let i = 0; i < ops.length; i++) {
    for (const s of successors[i]!) if (position[i]! < position[s]!) predecessors[s]!.push(position[i]!);
  }
  return sorted.map((i) => ({ ...ops[i]!, after: predecessors[i]! }));
}

/** For the prefix dependencies of a phase: folder -> operations of keys under it. */
function prefixIndexOf(
  ops: PlannedOperation[],
  depsOf: (op: PlannedOperation) => readonly NormalizedDependency[],
): Map<string, number[]> {
  const index = new Map<string, number[]>();
  for (const op of ops) for (const d of depsOf(op)) if (d.prefix !== undefined) index.set(d.prefix, []);
  if (index.size === 0) return index;
  ops.forEach((op, i) => forEachFolderOf(op.key, (p) => index.get(p)?.push(i)));
  return index;
}
