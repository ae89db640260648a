/**
 * Runs a plan through the descriptors: removals first (dependents before what they depend on,
 * except what goes with its dependency: removedWithIt), then creations and updates (dependencies
 * first). Just before it starts, each operation checks that what it needs is really there (an
 * earlier operation may have failed): if not, it is skipped and its item waits. A failure fails
 * that item only.
 */
import type { EngineView } from './types.js';
import type { DesiredGraph } from './desired-graph.js';
import { factSnapshot, type AppliedState } from './applied-state.js';
import { dependencyHolds, type NormalizedDependency } from './dependency.js';
import type { Plan, PlannedOperation } from './plan.js';
import { runDag } from './run-dag.js';

export type OperationResult =
  | { outcome: 'done' }
  | { outcome: 'failed'; error: unknown }
  /**
   * Not started: `reason` says what was missing; `keepStatus` when the item's status stands;
   * `blockedBy`: a dependent whose removal failed (this removal is tried again after it).
   */
  | { outcome: 'skipped'; reason: string; keepStatus: boolean; blockedBy?: string };

export interface ExecutionContext {
  graph: DesiredGraph;
  applied: AppliedState;
  view: EngineView;
  /** Creations and updates in flight at once. */
  concurrency: number;
  /** Removals in flight at once. */
  removalConcurrency: number;
  sliceMs: number;
  /** Called when an operation ends, with its duration. */
  settled(op: PlannedOperation, result: OperationResult, durationMs: number): void;
}

export async function execute(plan: Plan, ctx: ExecutionContext): Promise<void> {
  const phases = [
    { ops: plan.deletes, limit: ctx.removalConcurrency },
    { ops: plan.applies, limit: ctx.concurrency },
  ];
  for (const { ops, limit } of phases) {
    const succeeded = new Uint8Array(ops.length);
    await runDag(
      ops.map((op) => op.after),
      (i, done) => void runOne(ops, i, succeeded, ctx, done),
      { limit, sliceMs: ctx.sliceMs },
    );
  }
}

/**
 * Runs operation `i` of a phase (one async frame per operation: there are many) and reports it.
 * A removal whose dependents' removals did not succeed is not started (a dependent is never left
 * without what it depends on); creations check their dependencies themselves.
 */
async function runOne(
  phase: readonly PlannedOperation[],
  i: number,
  succeeded: Uint8Array,
  ctx: ExecutionContext,
  done: () => void,
): Promise<void> {
  const op = phase[i]!;
  const start = performance.now();
  let result: OperationResult = DONE;
  try {
    const a = ctx.applied.get(op.key);
    const blocker = op.kind === 'delete' ? op.after.find((p) => succeeded[p] === 0) : undefined;
    switch (op.kind) {
      case 'delete':
        if (blocker !== undefined) {
          const blockedBy = phase[blocker]!.key;
          result = {
            outcome: 'skipped',
            reason: `waiting for ${blockedBy} to be removed`,
            keepStatus: false,
            blockedBy,
          };
        } else if (a) {
          try {
            await a.descriptor.delete(ctx.view, op.key, a.value, a.metadata);
          } catch (error) {
            // Removed already with what it depends on (removedWithIt): its own removal's failure
            // leaves nothing behind.
            if (!removedWithDependency(phase, op, succeeded)) throw error;
          }
          ctx.applied.delete(op.key);
        }
        break;
      case 'create': {
        if (a) {
          result = { outcome: 'skipped', reason: 'its removal failed', keepStatus: true };
          break;
        }
        const deps = op.deps;
        const missing = missingDependency(deps, ctx);
        if (missing) {
          result = { outcome: 'skipped', reason: missing.reason, keepStatus: false };
          break;
        }
        const metadata = await op.descriptor.create(ctx.view, op.key, op.value);
        ctx.applied.set(op.key, {
          key: op.key,
          descriptor: op.descriptor,
          value: op.value,
          metadata,
          deps,
          factValues: factSnapshot(deps, ctx.graph.facts),
        });
        break;
      }
      case 'update': {
        if (!a) {
          result = { outcome: 'skipped', reason: 'it is not applied', keepStatus: true };
          break;
        }
        const metadata = await op.descriptor.update!(ctx.view, op.key, a.value, op.value, a.metadata);
        a.value = op.value;
        a.metadata = metadata;
        break;
      }
    }
  } catch (error) {
    result = { outcome: 'failed', error };
  }
  if (result.outcome === 'done') succeeded[i] = 1;
  try {
    ctx.settled(op, result, performance.now() - start);
  } finally {
    done();
  }
}

const DONE: OperationResult = { outcome: 'done' };

/** Whether a dependency of `op` declared removedWithIt was removed earlier in this phase. */
function removedWithDependency(
  phase: readonly PlannedOperation[],
  op: PlannedOperation,
  succeeded: Uint8Array,
): boolean {
  for (const p of op.after) {
    if (succeeded[p] !== 1) continue;
    const before = phase[p]!.key;
    if (op.deps.some((d) => d.removedWithIt && d.keys[0] === before)) return true;
  }
  return false;
}

/** The first dependency that does not hold now (by a fact or an applied item). */
export function missingDependency(
  deps: readonly NormalizedDependency[],
  ctx: Pick<ExecutionContext, 'graph' | 'applied'>,
): NormalizedDependency | undefined {
  const holds = (k: string): boolean => ctx.graph.facts.has(k) || ctx.applied.has(k);
  for (const d of deps) {
    if (!dependencyHolds(d, holds, (p) => ctx.graph.membersOf(p))) return d;
  }
  return undefined;
}
