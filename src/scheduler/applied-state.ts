/** What the engine has applied: per key, the value, the metadata and what it was built on. */
import type { AnyDescriptor } from './types.js';
import type { NormalizedDependency } from './dependency.js';

export interface AppliedItem {
  readonly key: string;
  readonly descriptor: AnyDescriptor;
  value: unknown;
  metadata: unknown;
  /** The dependencies it was created with (they order its removal). */
  deps: readonly NormalizedDependency[];
  /** Values of the facts it depends on with `recreateOnChange`, as they were when it was created. */
  factValues: ReadonlyMap<string, unknown> | undefined;
}

export type AppliedState = Map<string, AppliedItem>;

/** The fact values an item created now would be built on. */
export function factSnapshot(
  deps: readonly NormalizedDependency[],
  facts: ReadonlyMap<string, unknown>,
): ReadonlyMap<string, unknown> | undefined {
  let snapshot: Map<string, unknown> | undefined;
  for (const d of deps) {
    if (!d.recreateOnChange) continue;
    const key = d.keys[0]!;
    if (!facts.has(key)) continue;
    snapshot ??= new Map();
    snapshot.set(key, facts.get(key));
  }
  return snapshot;
}
