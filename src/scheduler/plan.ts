/** The planner's output: what a transaction will do, in which order, and what stays pending. */
import type { AnyDescriptor, FieldError } from './types.js';
import type { NormalizedDependency } from './dependency.js';

export type OperationKind = 'create' | 'update' | 'delete';

export interface PlannedOperation {
  kind: OperationKind;
  key: string;
  descriptor: AnyDescriptor;
  /** create/update: the value to apply; delete: the value applied. */
  value: unknown;
  /** One half of a delete + create of the same key. */
  recreate: boolean;
  /** Why, in words: "new", "value changed", "no longer desired", a pending reason... */
  why: string;
  /** Indexes, in the same phase, of the operations that must finish first (all smaller). */
  after: number[];
  /** delete: the dependencies it was created with; create/update: its dependencies now. */
  deps: readonly NormalizedDependency[];
  /**
   * delete: the facts the plan counted gone with it (Descriptor.withdraws). If it fails, they are
   * there after all, and what waited for them is planned again.
   */
  withdrawn?: readonly string[];
}

/** What an item's status becomes when every operation succeeds. */
export type Outcome =
  | { state: 'configured' }
  | { state: 'pending'; reason: string }
  | { state: 'invalid'; fieldErrors: FieldError[] }
  | { state: 'removed' };

export interface Plan {
  /** Phase 1: removals, dependents before what they depend on. */
  deletes: PlannedOperation[];
  /** Phase 2 (after every removal): creations and updates, dependencies first. */
  applies: PlannedOperation[];
  /** For every key the transaction looked at. */
  outcomes: Map<string, Outcome>;
  /** Number of keys looked at (the dirty keys and everything depending on them). */
  regionSize: number;
}

/** One line of a dry run. */
export interface PlannedAction {
  key: string;
  descriptor: string;
  action: 'create' | 'update' | 'recreate' | 'delete' | 'pending' | 'invalid';
  why: string;
}

/** The dry-run view of a plan: one action per key that changes or stays pending. */
export function describePlan(plan: Plan): PlannedAction[] {
  const actions: PlannedAction[] = [];
  const recreated = new Set<string>();
  for (const op of plan.applies) if (op.recreate) recreated.add(op.key);
  for (const op of plan.deletes) {
    if (op.recreate && recreated.has(op.key)) continue;
    actions.push({ key: op.key, descriptor: op.descriptor.name, action: 'delete', why: op.why });
  }
  for (const op of plan.applies) {
    const action = op.kind === 'update' ? 'update' : op.recreate ? 'recreate' : 'create';
    actions.push({ key: op.key, descriptor: op.descriptor.name, action, why: op.why });
  }
  const touched = new Set(actions.map((a) => a.key));
  for (const [key, outcome] of plan.outcomes) {
    if (touched.has(key)) continue;
    if (outcome.state === 'pending')
      actions.push({ key, descriptor: '', action: 'pending', why: outcome.reason });
    else if (outcome.state === 'invalid') {
      actions.push({
        key,
        descriptor: '',
        action: 'invalid',
        why: outcome.fieldErrors.map((e) => `${e.field}: ${e.message}`).join('; '),
      });
    }
  }
  return actions;
}
