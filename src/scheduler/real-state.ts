/**
 * Resync, first half: read the real state through the descriptors' `retrieve` and make the
 * engine's memory of what is applied match it. The planner then does the rest (create missing,
 * fix different, remove obsolete) exactly as for any change. Items already right end up with
 * their desired value and dependencies, so the planner finds nothing to do for them.
 */
import type { AnyDescriptor, EngineView } from './types.js';
import type { DesiredGraph } from './desired-graph.js';
import { factSnapshot, type AppliedState } from './applied-state.js';
import type { DescriptorRegistry } from './descriptor-registry.js';
import type { ResyncRequest } from './work-queue.js';
import { isEquivalent } from './planner.js';
import { deepEqual } from './deep-equal.js';
import { normalizeDependency, type NormalizedDependency } from './dependency.js';

export interface RetrieveFailure {
  descriptor: string;
  error: unknown;
}

export async function readRealState(
  request: ResyncRequest,
  registry: DescriptorRegistry,
  graph: DesiredGraph,
  applied: AppliedState,
  view: EngineView,
  dirty: Set<string>,
): Promise<RetrieveFailure[]> {
  const failures: RetrieveFailure[] = [];
  const keyDescriptors = new Set<AnyDescriptor>();
  for (const key of request.keys) {
    const d = graph.items.get(key)?.descriptor ?? applied.get(key)?.descriptor ?? registry.find(key);
    if (d) keyDescriptors.add(d);
  }
  for (const d of registry.retrieveOrder()) {
    const whole = request.all || request.descriptors.has(d.name);
    if (!whole && !keyDescriptors.has(d)) continue;
    const inScope = (key: string): boolean => whole || request.keys.has(key);

    const desired: { key: string; value: unknown }[] = [];
    for (const item of graph.items.values()) {
      if (item.desired && item.descriptor === d && inScope(item.key))
        desired.push({ key: item.key, value: item.value });
    }
    for (const { key } of desired) dirty.add(key);
    if (d.retrieve === undefined) {
      // Nothing to read: what the engine remembers applying is taken as the truth.
      for (const a of applied.values()) if (a.descriptor === d && inScope(a.key)) dirty.add(a.key);
      continue;
    }
    let found;
    try {
      found = await d.retrieve(view, desired);
    } catch (error) {
      failures.push({ descriptor: d.name, error });
      continue;
    }
    const seen = new Set<string>();
    for (const r of found) {
      if (!r.managed || !inScope(r.key)) continue;
      seen.add(r.key);
      dirty.add(r.key);
      const previous = applied.get(r.key);
      const item = graph.items.get(r.key);
      const wanted = item?.desired === true && item.descriptor === d ? item : undefined;
      const right =
        wanted !== undefined && (r.value === wanted.value || isEquivalent(d, r.key, wanted.value, r.value));
      // What it stands on: the desired item's dependencies when it is as desired; else those of
      // the value it has (what it was built on: its removal must come before theirs).
      const deps = right
        ? wanted.deps
        : previous !== undefined && deepEqual(previous.value, r.value)
          ? previous.deps
          : dependenciesOf(d, r.key, r.value, graph);
      applied.set(r.key, {
        key: r.key,
        descriptor: d,
        value: right ? wanted.value : r.value,
        metadata: r.metadata,
        deps,
        factValues: previous?.descriptor === d ? previous.factValues : factSnapshot(deps, graph.facts),
      });
    }
    for (const a of [...applied.values()]) {
      if (a.descriptor !== d || !inScope(a.key) || seen.has(a.key)) continue;
      applied.delete(a.key); // gone from the real state: created again if still wanted
      dirty.add(a.key);
      forgetDependents(a.key, graph, applied, dirty);
    }
  }
  return failures;
}

/**
 * What was built on an item that is gone from the real state went with it (an interface's
 * addresses, the other end of a VETH pair): forget that it is applied, so it is created again
 * after its dependency, as when the engine itself re-creates a dependency.
 */
function forgetDependents(key: string, graph: DesiredGraph, applied: AppliedState, dirty: Set<string>): void {
  const queue = [key];
  while (queue.length > 0) {
    graph.forEachDependent(queue.pop()!, (dependent) => {
      if (!applied.has(dependent)) return;
      applied.delete(dependent);
      dirty.add(dependent);
      queue.push(dependent);
    });
  }
}

/** What a found, unwanted item is built on (its dependents are removed before it). */
function dependenciesOf(
  d: AnyDescriptor,
  key: string,
  value: unknown,
  graph: DesiredGraph,
): NormalizedDependency[] {
  try {
    return (
      d.dependencies?.(key, value, { value: <V>(k: string) => graph.value(k) as V | undefined }) ?? []
    ).map(normalizeDependency);
  } catch {
    return [];
  }
}
