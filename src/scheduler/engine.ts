/**
 * The reconcile engine: owns the desired graph and the memory of what is applied, and runs one
 * transaction at a time (change -> plan -> execute -> statuses, history, retries). Work that
 * arrives meanwhile (commits, notifications, retries, resyncs) waits in one merged batch.
 */
import { ClosedError, isRetriable } from '../errors.js';
import type {
  Change,
  Clock,
  Descriptor,
  EngineView,
  ErrorInfo,
  FactChange,
  FieldError,
  ItemStatus,
  ResyncScope,
} from './types.js';
import { DescriptorRegistry } from './descriptor-registry.js';
import { DesiredGraph } from './desired-graph.js';
import type { AppliedState } from './applied-state.js';
import { plan as makePlan } from './planner.js';
import { describePlan, type Plan, type PlannedAction, type PlannedOperation } from './plan.js';
import { execute, missingDependency, type OperationResult } from './executor.js';
import { readRealState } from './real-state.js';
import { StatusTable, type StatusFacts } from './status-table.js';
import { RetryPolicy, type RetryOptions } from './retry-policy.js';
import { RetryTimer, systemClock } from './retry-timer.js';
import { History, type OperationRecord, type TransactionRecord } from './history.js';
import { WorkQueue, type Batch, type Waiter } from './work-queue.js';
import { NoDescriptorError } from './errors.js';

export interface EngineHooks {
  /** After every transaction (metrics: duration, operation counts, errors). */
  /** `kept`: whether the history keeps it (not a notification that changed nothing). */
  transaction?(record: TransactionRecord, kept: boolean): void;
  /** After every operation. */
  operation?(record: OperationRecord): void;
}

export interface EngineOptions {
  clock?: Clock;
  retry?: RetryOptions;
  /**
   * Creations and updates in flight at once. Default 256: more raised the agent's peak memory and
   * pair latency in the benchmarks of 2026-11-30 (see the README's benchmark notes).
   */
  concurrency?: number;
  /**
   * Removals in flight at once. Default 1024. A link removal waits for its deletion batch (all the
   * links of a namespace go in one request), so this bounds a batch; a removal holds almost nothing
   * while it waits.
   */
  removalConcurrency?: number;
  /** Longest stretch of operations run without giving the event loop a turn. Default 10 ms. */
  sliceMs?: number;
  /** Transactions kept in the history. Default 100. */
  historySize?: number;
  /** Operations kept per transaction in the history. Default 1000. */
  historyOperationLimit?: number;
  /** Removed items whose status is still shown. Default 1000. */
  removedStatusLimit?: number;
  hooks?: EngineHooks;
}

/** An applied item as the engine shows it to others (appliedItem, appliedItems). */
export interface AppliedEntry {
  key: string;
  descriptor: string;
  value: unknown;
  metadata: unknown;
}

/** The result of a dry run. */
export interface DryRun {
  actions: PlannedAction[];
  plan: Plan;
  /**
   * Puts the graph would refuse (field errors, or a claim another item holds), also those whose key
   * keeps a valid value in effect, which the plan's outcomes show as configured.
   */
  refused: { key: string; fieldErrors: FieldError[] }[];
  /**
   * Keys invalid now that the change makes valid (with the errors they have now). Their last valid
   * value may be what is applied: then no operation is planned, yet applying makes them configured.
   */
  revalidated: { key: string; fieldErrors: FieldError[] }[];
}

type StatusListener = (changes: readonly ItemStatus[]) => void;

export class Engine {
  private readonly registry = new DescriptorRegistry();
  private readonly graph = new DesiredGraph(this.registry);
  private readonly applied: AppliedState = new Map();
  private readonly statuses: StatusTable;
  private readonly failures = new Map<string, { retries: number }>();
  private dryRunning = false;
  /** Removals put off because a dependent's removal failed: dependent -> those keys. */
  private readonly blockedRemovals = new Map<string, Set<string>>();
  /** Applied items whose removal failed or was skipped (see PlanInput.stuckRemovals). */
  private readonly stuckRemovals = new Set<string>();
  /** Operations of the running transaction not yet settled, per key (see isOperating). */
  private readonly operating = new Map<string, number>();
  private readonly queue = new WorkQueue();
  private readonly history: History;
  private readonly retryPolicy: RetryPolicy;
  private readonly retryTimer: RetryTimer;
  private readonly clock: Clock;
  private readonly listeners = new Set<StatusListener>();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly view: EngineView;
  private running: Promise<void> | undefined;
  private seq = 0;
  private closed = false;

  constructor(private readonly options: EngineOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.statuses = new StatusTable(options.removedStatusLimit ?? 1000);
    this.history = new History(options.historySize ?? 100);
    this.retryPolicy = new RetryPolicy(options.retry);
    this.retryTimer = new RetryTimer(this.clock, (keys) => {
      if (this.closed) return;
      this.queue.addRetries(keys);
      this.kick();
    });
    const { applied, graph } = this;
    this.view = {
      metadata: <M>(key: string) => applied.get(key)?.metadata as M | undefined,
      value: <V>(key: string) => graph.value(key) as V | undefined,
      fact: <T>(key: string) => graph.facts.get(key) as T | undefined,
    };
  }

  /** Adds a kind of item. Register before the first commit; parents before derived kinds. */
  register<V, M>(descriptor: Descriptor<V, M>): this {
    this.registry.register(descriptor);
    return this;
  }

  /** Changes the desired state; resolves when the transaction that carried it has finished. */
  commit(change: Change): Promise<TransactionRecord> {
    if (this.closed) return Promise.reject(new ClosedError('engine'));
    for (const { key } of change.puts ?? []) {
      if (!this.registry.find(key)) return Promise.reject(new NoDescriptorError(key));
    }
    return new Promise<TransactionRecord>((resolve, reject) => {
      this.queue.addChange(
        change,
        { resolve: (r) => (r ? resolve(r) : reject(new ClosedError('engine'))), reject, quiet: false },
        (key, value) => this.isValid(key, value),
      );
      this.kick();
    });
  }

  /**
   * Asserts or withdraws outside facts. The returned promise never rejects: it resolves with the
   * transaction that carried them, or undefined if the engine closed first. Facts still arriving
   * after close (a namespace check or a kernel event between the engine's close and its sources')
   * are dropped the same way: a throw there would be an unhandled rejection at shutdown.
   */
  notify(facts: readonly FactChange[]): Promise<TransactionRecord | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.queue.addFacts(facts, { resolve, reject: () => resolve(undefined), quiet: true });
      this.kick();
    });
  }

  /** Reads the real state (all, some descriptors, some keys) and reconciles it. */
  resync(scope: ResyncScope = {}): Promise<TransactionRecord> {
    return this.commit({
      resync: scope.descriptors === undefined && scope.keys === undefined ? true : scope,
    });
  }

  /** The keys whose last operation failed (usually none). */
  failedKeys(): string[] {
    return [...this.failures.keys()];
  }

  /**
   * Tries again, now, those of `keys` that failed with an error that is not retried by itself
   * (the kernel refused them for a reason of its state: a name taken, an address missing): the
   * owner saw that state change. Returns the keys tried.
   */
  retryFailed(keys: Iterable<string>): string[] {
    if (this.closed) return [];
    const due: string[] = [];
    for (const key of keys) {
      const status = this.statuses.get(key);
      if (status?.state === 'failed' && status.nextRetryAt === undefined && !this.isOperating(key))
        due.push(key);
    }
    if (due.length === 0) return due;
    this.queue.addRetries(due);
    this.kick();
    return due;
  }

  /** Dry run: what `commit(change)` (and `facts`) would do now, without doing anything. */
  plan(change: Change & { facts?: readonly FactChange[] }): DryRun {
    this.dryRunning = true;
    try {
      return this.dryRun(change);
    } finally {
      this.dryRunning = false;
    }
  }

  /**
   * True while a dry run computes its graph: descriptors whose dependencies() start watching
   * something in the world (a gateway's reachability) must not change what the real items watch.
   */
  get planning(): boolean {
    return this.dryRunning;
  }

  private dryRun(change: Change & { facts?: readonly FactChange[] }): DryRun {
    const graph = this.graph.clone();
    const dirty = new Set<string>();
    for (const f of change.facts ?? []) {
      if ('deleted' in f) graph.deleteFact(f.key, dirty);
      else graph.setFact(f.key, f.value, dirty);
    }
    const puts = new Set((change.puts ?? []).map((p) => p.key));
    graph.batch(() => {
      if (change.replace === true)
        for (const key of [...graph.configKeys()]) if (!puts.has(key)) graph.deleteConfig(key, dirty);
      for (const { key, value } of change.puts ?? []) graph.putConfig(key, value, dirty);
      for (const key of change.deletes ?? []) graph.deleteConfig(key, dirty);
    }, dirty);
    const plan = makePlan({ graph, applied: this.applied, dirty, stuckRemovals: this.liveStuckRemovals() });
    const refused: DryRun['refused'] = [];
    for (const { key } of change.puts ?? []) {
      const fieldErrors = graph.items.get(key)?.fieldErrors ?? [];
      if (fieldErrors.length > 0) refused.push({ key, fieldErrors });
    }
    const revalidated: DryRun['revalidated'] = [];
    for (const [key, outcome] of plan.outcomes) {
      if (outcome.state !== 'configured' && outcome.state !== 'pending') continue;
      const fieldErrors = this.graph.items.get(key)?.fieldErrors ?? [];
      if (fieldErrors.length > 0 && graph.items.get(key)?.fieldErrors.length === 0)
        revalidated.push({ key, fieldErrors });
    }
    return { actions: describePlan(plan), plan, refused, revalidated };
  }

  status(key: string): ItemStatus | undefined {
    return this.statuses.get(key);
  }

  statusList(): ItemStatus[] {
    return this.statuses.list();
  }

  /** Listens to status changes (one call per transaction, with every change). Returns "stop". */
  onStatus(listener: StatusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Recent transactions, oldest first. */
  transactions(): TransactionRecord[] {
    return this.history.list();
  }

  /**
   * Whether the running transaction has an operation for `key` planned or in flight: what the
   * kernel reports about that item meanwhile may be the operation's own doing (e.g. a VETH end
   * that goes with its peer's deletion), not someone else's.
   */
  isOperating(key: string): boolean {
    return this.operating.has(key);
  }

  /** The desired value of a key, the metadata of an applied one, the value of a fact. */
  get state(): EngineView {
    return this.view;
  }

  /** Whether the descriptor of `key` accepts `value` (claims aside). */
  private isValid(key: string, value: unknown): boolean {
    try {
      return (this.registry.find(key)?.validate?.(key, value) ?? []).length === 0;
    } catch {
      return false;
    }
  }

  /** One applied item, as appliedItems() lists it; undefined when the key is not applied. */
  appliedItem(key: string): AppliedEntry | undefined {
    const a = this.applied.get(key);
    return a && { key: a.key, descriptor: a.descriptor.name, value: a.value, metadata: a.metadata };
  }

  /** Keys applied now (of one descriptor when given), with their values: what the engine believes the real state holds. */
  appliedItems(descriptor?: string): AppliedEntry[] {
    const items: AppliedEntry[] = [];
    for (const a of this.applied.values()) {
      if (descriptor !== undefined && a.descriptor.name !== descriptor) continue;
      items.push({ key: a.key, descriptor: a.descriptor.name, value: a.value, metadata: a.metadata });
    }
    return items;
  }

  /** Resolves when no transaction runs and none is queued (retries waiting for their time aside). */
  idle(): Promise<void> {
    if (!this.running && this.queue.isEmpty) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Lets the running transaction finish, drops queued work and timers. Idempotent. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.retryTimer.close();
      for (const w of this.queue.take().waiters) settle(w, undefined);
    }
    await this.running;
  }

  // ---- transactions --------------------------------------------------------------------------

  private kick(): void {
    if (this.running || this.closed) return;
    this.running = this.loop();
  }

  private async loop(): Promise<void> {
    // Let callers of the same tick add their work to the same transaction.
    await Promise.resolve();
    while (!this.queue.isEmpty && !this.closed) {
      const batch = this.queue.take();
      let record: TransactionRecord | undefined;
      try {
        record = await this.transaction(batch);
      } catch (error) {
        for (const w of batch.waiters) {
          if (w.quiet) w.resolve(undefined);
          else w.reject(error);
        }
        continue;
      }
      for (const w of batch.waiters) w.resolve(record);
    }
    this.running = undefined;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async transaction(batch: Batch): Promise<TransactionRecord> {
    const t0 = performance.now();
    const startedAt = this.clock.now();
    const dirty = new Set<string>();
    const { graph } = this;
    const record = newRecord(++this.seq, batch, startedAt);

    for (const [key, f] of batch.facts) {
      if (f.asserted) graph.setFact(key, f.value, dirty);
      else graph.deleteFact(key, dirty);
    }
    graph.batch(() => {
      if (batch.replace)
        for (const key of [...graph.configKeys()]) if (!batch.config.has(key)) graph.deleteConfig(key, dirty);
      for (const [key, c] of batch.config) {
        this.failures.delete(key); // a new value starts a new series of attempts
        if (c.deleteFirst) graph.deleteConfig(key, dirty);
        if (c.valid) graph.putConfig(key, c.valid.value, dirty);
        if (c.thenValid) graph.putConfig(key, c.thenValid.value, dirty);
        if (c.refused) graph.putConfig(key, c.refused.value, dirty);
      }
    }, dirty);
    for (const key of batch.retries) dirty.add(key);

    const t1 = performance.now();
    if (batch.resync) {
      const failures = await readRealState(
        batch.resync,
        this.registry,
        graph,
        this.applied,
        this.view,
        dirty,
      );
      for (const f of failures)
        record.errors.push({ key: f.descriptor, operation: 'retrieve', error: errorInfo(f.error, true) });
    }
    const t2 = performance.now();
    const plan = makePlan({ graph, applied: this.applied, dirty, stuckRemovals: this.liveStuckRemovals() });
    const t3 = performance.now();

    const withOps = new Set<string>();
    for (const op of plan.deletes) withOps.add(op.key);
    for (const op of plan.applies) withOps.add(op.key);
    // A stuck removal whose item is wanted again and stays (no removal planned) is stuck no more:
    // its next removal withdraws its facts as any other.
    if (this.stuckRemovals.size > 0) {
      const removing = new Set(plan.deletes.map((op) => op.key));
      for (const [key, outcome] of plan.outcomes)
        if (outcome.state === 'configured' && !removing.has(key)) this.stuckRemovals.delete(key);
    }
    const skipped: string[] = [];
    const now = this.clock.now();
    for (const [key, outcome] of plan.outcomes) {
      if (outcome.state === 'pending') record.counts.pending++;
      if (outcome.state === 'invalid') record.counts.invalid++;
      if (withOps.has(key)) continue;
      this.setStatus(
        key,
        outcome.state === 'pending' ? { state: 'pending', reason: outcome.reason } : { state: outcome.state },
        now,
      );
    }
    record.counts.planned = plan.deletes.length + plan.applies.length;

    for (const op of [...plan.deletes, ...plan.applies])
      this.operating.set(op.key, (this.operating.get(op.key) ?? 0) + 1);
    try {
      await execute(plan, {
        graph,
        applied: this.applied,
        view: this.view,
        concurrency: this.options.concurrency ?? 256,
        removalConcurrency: this.options.removalConcurrency ?? 1024,
        sliceMs: this.options.sliceMs ?? 10,
        settled: (op, result, ms) => {
          if (op.kind === 'create' && result.outcome === 'skipped' && !result.keepStatus)
            skipped.push(op.key);
          const left = (this.operating.get(op.key) ?? 1) - 1;
          if (left > 0) this.operating.set(op.key, left);
          else this.operating.delete(op.key);
          this.settled(op, result, ms, plan, record);
        },
      });
    } finally {
      this.operating.clear();
    }
    // A creation skipped because a dependency came later in the run (items that can satisfy each
    // other's anyOf/prefix dependencies) is tried again at once.
    const again = skipped.filter((key) => {
      const item = graph.items.get(key);
      return (
        item?.desired === true &&
        !this.applied.has(key) &&
        !missingDependency(item.deps, { graph, applied: this.applied })
      );
    });
    if (again.length > 0) this.queue.addRetries(again);
    // Removals that wait for a failed removal (blockedRemovals) are tried again when that item
    // stays after all (wanted again): otherwise they would wait for a removal that never comes.
    for (const blocker of [...this.blockedRemovals.keys()]) {
      if (this.applied.has(blocker) && this.statuses.get(blocker)?.state === 'configured')
        this.unblock(blocker);
    }
    const t4 = performance.now();

    record.regionSize = plan.regionSize;
    record.retrieveMs = t2 - t1;
    record.planMs = t1 - t0 + (t3 - t2);
    record.executeMs = t4 - t3;
    record.durationMs = t4 - t0;
    // Kernel facts arrive in bursts (a namespace opening, a thousand links coming up); those that
    // change nothing would push the transactions worth reading out of the bounded history.
    const idleNotification =
      record.causes.every((c) => c === 'notify') &&
      record.counts.planned === 0 &&
      record.counts.pending === 0 &&
      record.errors.length === 0;
    if (!idleNotification) this.history.add(record);
    this.options.hooks?.transaction?.(record, !idleNotification);
    this.publish();
    return record;
  }

  /** Bookkeeping of one finished operation: applied state is already updated by the executor. */
  private settled(
    op: PlannedOperation,
    result: OperationResult,
    ms: number,
    plan: Plan,
    record: TransactionRecord,
  ): void {
    const now = this.clock.now();
    const rec: OperationRecord = {
      kind: op.kind,
      key: op.key,
      descriptor: op.descriptor.name,
      recreate: op.recreate,
      why: op.why,
      outcome: result.outcome,
      durationMs: ms,
    };
    switch (result.outcome) {
      case 'done': {
        record.counts[op.kind]++;
        this.failures.delete(op.key);
        this.retryTimer.cancel(op.key);
        if (op.kind === 'delete') {
          this.stuckRemovals.delete(op.key);
          this.unblock(op.key);
        }
        if (op.kind !== 'delete') this.setStatus(op.key, { state: 'configured' }, now);
        else if (!op.recreate) {
          const outcome = plan.outcomes.get(op.key);
          if (outcome?.state === 'pending')
            this.setStatus(op.key, { state: 'pending', reason: outcome.reason }, now);
          else this.setStatus(op.key, { state: outcome?.state === 'invalid' ? 'invalid' : 'removed' }, now);
        }
        break;
      }
      case 'failed': {
        record.counts.failed++;
        const retriable = (op.descriptor.isRetriable ?? isRetriable)(result.error);
        const error = errorInfo(result.error, retriable);
        rec.error = error;
        if (record.errors.length < (this.options.historyOperationLimit ?? 1000))
          record.errors.push({ key: op.key, operation: op.kind, error });
        this.fail(op.key, error, now);
        break;
      }
      case 'skipped':
        record.counts.skipped++;
        rec.skippedBecause = result.reason;
        if (result.blockedBy !== undefined) {
          const set = this.blockedRemovals.get(result.blockedBy) ?? new Set();
          this.blockedRemovals.set(result.blockedBy, set.add(op.key));
        }
        if (!result.keepStatus) {
          this.failures.delete(op.key);
          this.retryTimer.cancel(op.key);
          this.setStatus(op.key, { state: 'pending', reason: result.reason }, now);
        }
        break;
    }
    if (op.kind === 'delete' && result.outcome !== 'done' && this.applied.has(op.key)) {
      // The facts the plan counted gone with it (op.withdrawn; never those of a removal stuck
      // already) still hold: what waited for them is planned again, now with them. Once only: the
      // removal is stuck now, and a stuck removal withdraws nothing (a desired item in the region
      // again would otherwise plan its removal again at once, and fail again, without end).
      this.stuckRemovals.add(op.key);
      const withdrawn = op.withdrawn ?? [];
      if (withdrawn.length > 0) {
        this.queue.addRetries(withdrawn);
        this.kick();
      }
    }
    if (record.operations.length < (this.options.historyOperationLimit ?? 1000)) record.operations.push(rec);
    else record.operationsOmitted++;
    this.options.hooks?.operation?.(rec);
  }

  /** The stuck removals still applied (others were removed some other way, e.g. a resync). */
  private liveStuckRemovals(): ReadonlySet<string> | undefined {
    if (this.stuckRemovals.size === 0) return undefined;
    for (const key of this.stuckRemovals) if (!this.applied.has(key)) this.stuckRemovals.delete(key);
    return this.stuckRemovals;
  }

  /** `key` is removed (or stays after all): the removals that waited for it are tried again. */
  private unblock(key: string): void {
    const waiting = this.blockedRemovals.get(key);
    if (!waiting) return;
    this.blockedRemovals.delete(key);
    this.queue.addRetries([...waiting]);
  }

  private fail(key: string, error: ErrorInfo, now: number): void {
    const retries = (this.failures.get(key)?.retries ?? 0) + 1;
    this.failures.set(key, { retries });
    const delay = error.retriable ? this.retryPolicy.delay(retries) : undefined;
    const facts: StatusFacts = { state: 'failed', error, retries };
    if (delay !== undefined) {
      facts.nextRetryAt = now + delay;
      this.retryTimer.schedule(key, now + delay);
    } else this.retryTimer.cancel(key);
    this.setStatus(key, facts, now);
  }

  private setStatus(key: string, facts: StatusFacts, now: number): void {
    if (facts.state !== 'failed') {
      this.failures.delete(key);
      this.retryTimer.cancel(key);
    }
    const item = this.graph.items.get(key);
    const identity = item
      ? {
          descriptor: item.descriptor?.name ?? '',
          origin: item.config !== undefined ? ('config' as const) : ('derived' as const),
          fieldErrors: item.fieldErrors,
        }
      : undefined;
    this.statuses.set(key, facts, identity, now);
  }

  private publish(): void {
    const changes = this.statuses.takeChanges();
    if (changes.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(changes);
      } catch {
        // A listener's failure is its own; the engine goes on.
      }
    }
  }
}

function newRecord(seq: number, batch: Batch, startedAt: number): TransactionRecord {
  return {
    seq,
    causes: batch.causes,
    startedAt,
    retrieveMs: 0,
    planMs: 0,
    executeMs: 0,
    durationMs: 0,
    regionSize: 0,
    counts: { planned: 0, create: 0, update: 0, delete: 0, failed: 0, skipped: 0, pending: 0, invalid: 0 },
    operations: [],
    operationsOmitted: 0,
    errors: [],
  };
}

function errorInfo(error: unknown, retriable: boolean): ErrorInfo {
  const info: ErrorInfo = { message: error instanceof Error ? error.message : String(error), retriable };
  const { code, field } = (typeof error === 'object' && error !== null ? error : {}) as {
    code?: unknown;
    field?: unknown;
  };
  if (typeof code === 'string') info.code = code;
  if (typeof field === 'string') info.field = field;
  return info;
}

function settle(w: Waiter, record: TransactionRecord | undefined): void {
  if (w.quiet || record) w.resolve(record);
  else w.reject(new ClosedError('engine'));
}
