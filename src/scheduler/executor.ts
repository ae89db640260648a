/**
 * Runs a plan through the descriptors: removals first (dependents before what they depend on),
 * then creations and updates (dependencies first). Just before it starts, each operation checks
 * that what it needs is really there (an earlier operation may have failed): if not, it is
 * skipped and its item waits. A failure fails that item only.
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
  /** Not started: `reason` says what was missing; `keepStatus` when the item's status stands. */
  | { outcome: 'skipped'; reason: string; keepStatus: boolean };

export interface ExecutionContext {
  graph: DesiredGraph;
  applied: AppliedState;
  view: EngineView;
  concurrency: number;
  sliceMs: number;
  /** Called when an operation ends, with its duration. */
  settled(op: PlannedOperation, result: OperationResult, durationMs: number): void;
}

export async function execute(plan: Plan, ctx: ExecutionContext): Promise<void> {
  const options = { limit: ctx.concurrency, sliceMs: ctx.sliceMs };
  await runDag(plan.deletes.map((op) => op.after), (i) => timed(plan.deletes[i]!, ctx), options);
  await runDag(plan.applies.map((op) => op.after), (i) => timed(plan.applies[i]!, ctx), options);
}

async function timed(op: PlannedOperation, ctx: ExecutionContext): Promise<void> {
  const start = performance.now();
  let result: OperationResult;
  try {
    result = await runOperation(op, ctx);
  } catch (error) {
    result = { outcome: 'failed', error };
  }
  ctx.settled(op, result, performance.now() - start);
}

function runOperation(op: PlannedOperation, ctx: ExecutionContext): Promise<OperationResult> | OperationResult {
  switch (op.kind) {
    case 'delete':
      return runDelete(op, ctx);
    case 'create':
      return runCreate(op, ctx);
    case 'update':
      return runUpdate(op, ctx);
  }
}

async function runDelete(op: PlannedOperation, ctx: ExecutionContext): Promise<OperationResult> {
  const a = ctx.applied.get(op.key);
  if (!a) return { outcome: 'done' };
  await a.descriptor.delete(ctx.view, op.key, a.value, a.metadata);
  ctx.applied.delete(op.key);
  return { outcome: 'done' };
}

async function runCreate(op: PlannedOperation, ctx: ExecutionContext): Promise<OperationResult> {
  if (ctx.applied.has(op.key)) return { outcome: 'skipped', reason: 'its removal failed', keepStatus: true };
  const deps = ctx.graph.items.get(op.key)?.deps ?? [];
  const missing = missingDependency(deps, ctx);
  if (missing) return { outcome: 'skipped', reason: missing.reason, keepStatus: false };
  const metadata = await op.descriptor.create(ctx.view, op.key, op.value);
  ctx.applied.set(op.key, {
    key: op.key,
    descriptor: op.descriptor,
    value: op.value,
    metadata,
    deps,
    factValues: factSnapshot(deps, ctx.graph.facts),
  });
  return { outcome: 'done' };
}

async function runUpdate(op: PlannedOperation, ctx: ExecutionContext): Promise<OperationResult> {
  const a = ctx.applied.get(op.key);
  if (!a) return { outcome: 'skipped', reason: 'it is not applied', keepStatus: true };
  const metadata = await op.descriptor.update!(ctx.view, op.key, a.value, op.value, a.metadata);
  a.value = op.value;
  a.metadata = metadata;
  return { outcome: 'done' };
}

function missingDependency(deps: readonly NormalizedDependency[], ctx: ExecutionContext): NormalizedDependency | undefined {
  const holds = (k: string): boolean => ctx.graph.facts.has(k) || ctx.applied.has(k);
  for (const d of deps) {
    if (!dependencyHolds(d, holds, (p) => ctx.graph.membersOf(p))) return d;
  }
  return undefined;
}
