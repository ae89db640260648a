/** Dependencies in the one shape the engine works with. */
import type { Dependency } from './types.js';
import { folderPrefix } from './key-prefixes.js';

/**
 * `prefix` set: any key under that folder; otherwise any of `keys` (one key for a `key`
 * dependency).
 */
export interface NormalizedDependency {
  readonly keys: readonly string[];
  readonly prefix: string | undefined;
  readonly reason: string;
  readonly recreateOnChange: boolean;
  /** Deleting the dependency removes the dependent too: its removal may come after (types.ts). */
  readonly removedWithIt: boolean;
}

export function normalizeDependency(d: Dependency): NormalizedDependency {
  if ('prefix' in d)
    return {
      keys: [],
      prefix: folderPrefix(d.prefix),
      reason: d.reason,
      recreateOnChange: false,
      removedWithIt: false,
    };
  if ('anyOf' in d)
    return {
      keys: [...d.anyOf],
      prefix: undefined,
      reason: d.reason,
      recreateOnChange: false,
      removedWithIt: false,
    };
  return {
    keys: [d.key],
    prefix: undefined,
    reason: d.reason,
    recreateOnChange: d.recreateOnChange === true,
    removedWithIt: d.removedWithIt === true,
  };
}

/** Same targets (what is depended on), reasons aside. */
export function sameTargets(a: readonly NormalizedDependency[], b: readonly NormalizedDependency[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.prefix !== y.prefix || x.recreateOnChange !== y.recreateOnChange || x.keys.length !== y.keys.length)
      return false;
    for (let j = 0; j < x.keys.length; j++) if (x.keys[j] !== y.keys[j]) return false;
  }
  return true;
}

/** The reasons of the dependencies in `after` that `before` does not have (same targets). */
export function addedDependencies(
  before: readonly NormalizedDependency[],
  after: readonly NormalizedDependency[],
): string[] {
  const target = (d: NormalizedDependency): string => `${d.prefix ?? ''}\n${d.keys.join('\n')}`;
  const had = new Set(before.map(target));
  return after.filter((d) => !had.has(target(d))).map((d) => d.reason);
}

/**
 * Whether `d` holds, given a test of single keys and, for prefix dependencies, the keys under
 * the prefix that might hold.
 */
export function dependencyHolds(
  d: NormalizedDependency,
  holds: (key: string) => boolean,
  under: (prefix: string) => Iterable<string>,
): boolean {
  if (d.prefix !== undefined) {
    for (const k of under(d.prefix)) if (holds(k)) return true;
    return false;
  }
  for (const k of d.keys) if (holds(k)) return true;
  return false;
}
