/**
 * A fake "kernel" for engine tests: a map of what exists, an operation log, planned failures,
 * and checks that every create found its dependencies there and every delete left no dependent.
 */
import { AgentError } from '../../../src/errors.js';
import type { Dependency, Descriptor, EngineView, Retrieved } from '../../../src/scheduler/index.js';

export class FakeError extends AgentError {
  readonly code = 'ERR_FAKE';
}

/** Value of a test item: dependencies on keys (items or facts), a payload, derived children. */
export interface NodeValue {
  deps?: string[];
  /** Dependencies that take this item with them when deleted (removedWithIt: an address on its link). */
  within?: string[];
  /** Dependencies re-created when the fact's value changes. */
  factDeps?: string[];
  anyOf?: string[];
  prefix?: string;
  x?: number;
  /** Changing it cannot be done in place. */
  fixed?: string;
  derive?: string[];
  claim?: string;
  bad?: boolean;
}

export interface LogEntry {
  op: 'create' | 'update' | 'delete';
  key: string;
  value: unknown;
}

interface PlannedFailure {
  op: LogEntry['op'];
  key: string;
  times: number;
  retriable: boolean;
}

export class FakeKernel {
  readonly items = new Map<string, NodeValue>();
  readonly log: LogEntry[] = [];
  readonly violations: string[] = [];
  /** Items deleted with an item they were `within`: their own delete finds nothing to do. */
  readonly takenWith = new Set<string>();
  private readonly failures: PlannedFailure[] = [];
  /** Per item, the values of the facts (of `factDeps`) it was created with. */
  private readonly builtOn = new Map<string, Map<string, unknown>>();
  /** Keys of items whose create/update/delete should pause (a promise each) before finishing. */
  delayMs = 0;
  /** Called once, by the next operation while it is in flight (an outside event meanwhile). */
  onNextOp: (() => void) | undefined;
  inFlight = 0;
  maxInFlight = 0;

  fail(op: LogEntry['op'], key: string, times = 1, retriable = true): void {
    this.failures.push({ op, key, times, retriable });
  }

  /** Items built on a fact value that has changed since (they should have been re-created). */
  builtOnStaleFacts(view: EngineView): string[] {
    const stale: string[] = [];
    for (const [key, facts] of this.builtOn) {
      for (const [fact, value] of facts) if (view.fact(fact) !== value) stale.push(`${key} on ${fact}`);
    }
    return stale;
  }

  clearFailures(): void {
    this.failures.length = 0;
  }

  get writes(): number {
    return this.log.length;
  }

  depsOf(value: NodeValue): Dependency[] {
    const deps: Dependency[] = [];
    for (const k of value.deps ?? []) deps.push({ key: k, reason: `waiting for ${k}` });
    for (const k of value.within ?? [])
      deps.push({ key: k, reason: `waiting for ${k}`, removedWithIt: true });
    for (const k of value.factDeps ?? [])
      deps.push({ key: k, reason: `waiting for fact ${k}`, recreateOnChange: true });
    if (value.anyOf)
      deps.push({ anyOf: value.anyOf, reason: `waiting for any of ${value.anyOf.join(', ')}` });
    if (value.prefix !== undefined)
      deps.push({ prefix: value.prefix, reason: `waiting for something under ${value.prefix}` });
    return deps;
  }

  async op(view: EngineView, entry: LogEntry): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      else await Promise.resolve();
      const event = this.onNextOp;
      this.onNextOp = undefined;
      event?.();
      const planned = this.failures.find((f) => f.op === entry.op && f.key === entry.key && f.times > 0);
      if (planned) {
        planned.times--;
        throw new FakeError(`planned ${entry.op} failure of ${entry.key}`, {
          key: entry.key,
          retriable: planned.retriable,
        });
      }
      if (entry.op === 'delete' && !this.items.has(entry.key) && this.takenWith.delete(entry.key)) return;
      this.check(view, entry);
      this.log.push(entry);
      if (entry.op === 'delete') {
        this.items.delete(entry.key);
        this.builtOn.delete(entry.key);
        for (const [k, v] of this.items) {
          if (!v.within?.includes(entry.key)) continue;
          this.items.delete(k);
          this.builtOn.delete(k);
          this.takenWith.add(k);
        }
      } else this.items.set(entry.key, entry.value as NodeValue);
      if (entry.op === 'create' || entry.op === 'update') {
        const facts = new Map<string, unknown>();
        for (const f of (entry.value as NodeValue).factDeps ?? []) facts.set(f, view.fact(f));
        this.builtOn.set(entry.key, facts);
      }
    } finally {
      this.inFlight--;
    }
  }

  private check(view: EngineView, entry: LogEntry): void {
    const present = (k: string): boolean => this.items.has(k) || view.fact(k) !== undefined;
    // An update is made on what the item is built on, as a creation: those must hold too.
    if (entry.op === 'create' || entry.op === 'update') {
      if (entry.op === 'create' && this.items.has(entry.key))
        this.violations.push(`create of existing ${entry.key}`);
      if (entry.op === 'update' && !this.items.has(entry.key))
        this.violations.push(`update of missing ${entry.key}`);
      for (const d of this.depsOf(entry.value as NodeValue)) {
        const ok =
          'key' in d
            ? present(d.key)
            : 'anyOf' in d
              ? d.anyOf.some(present)
              : [...this.items.keys()].some((k) => k.startsWith(d.prefix)) ||
                view.fact(d.prefix) !== undefined;
        if (!ok && !('prefix' in d))
          this.violations.push(`${entry.op} ${entry.key} before ${JSON.stringify(d)}`);
      }
    } else if (entry.op === 'delete') {
      if (!this.items.has(entry.key)) this.violations.push(`delete of missing ${entry.key}`);
      for (const [k, v] of this.items) {
        if (k === entry.key) continue;
        const deps = this.depsOf(v);
        const single = deps.some((d) => 'key' in d && d.key === entry.key && d.removedWithIt !== true);
        if (single) this.violations.push(`delete ${entry.key} under dependent ${k}`);
      }
    }
  }
}

export interface NodeOptions {
  name?: string;
  prefix?: string;
  withUpdate?: boolean;
  withRetrieve?: boolean;
  /** Keys retrieve reports as unmanaged (never to be touched). */
  unmanaged?: Map<string, NodeValue>;
  retrieveAfter?: string[];
}

/** A descriptor of NodeValue items under `prefix` (default 'n/'). */
export function nodeDescriptor(
  kernel: FakeKernel,
  options: NodeOptions = {},
): Descriptor<NodeValue, { created: string }> {
  const prefix = options.prefix ?? 'n/';
  const descriptor: Descriptor<NodeValue, { created: string }> = {
    name: options.name ?? 'node',
    keyPrefix: prefix,
    validate: (_key, value) => (value.bad === true ? [{ field: 'bad', message: 'is bad' }] : []),
    dependencies: (_key, value) => kernel.depsOf(value),
    derived: (key, value) =>
      (value.derive ?? []).map((child) => ({ key: `${key}/${child}`, value: { deps: [key] } })),
    claims: (_key, value) => (value.claim !== undefined ? [{ id: value.claim, field: 'claim' }] : []),
    async create(view, key, value) {
      await kernel.op(view, { op: 'create', key, value });
      return { created: key };
    },
    async delete(view, key, value) {
      await kernel.op(view, { op: 'delete', key, value });
    },
    isRetriable: (error) => error instanceof FakeError && error.retriable,
  };
  if (options.withUpdate !== false) {
    descriptor.update = async (view, key, _before, after, metadata) => {
      await kernel.op(view, { op: 'update', key, value: after });
      return metadata;
    };
    descriptor.needsRecreate = (_key, before, after) => before.fixed !== after.fixed;
  }
  if (options.withRetrieve === true) {
    descriptor.retrieve = async (_view, desired): Promise<Retrieved<NodeValue, { created: string }>[]> => {
      await Promise.resolve();
      const out: Retrieved<NodeValue, { created: string }>[] = [];
      const wanted = new Set(desired.map((d) => d.key));
      for (const [key, value] of kernel.items) {
        if (!key.startsWith(prefix)) continue;
        out.push({ key, value, metadata: { created: key }, managed: true });
        wanted.delete(key);
      }
      for (const [key, value] of options.unmanaged ?? [])
        out.push({ key, value, metadata: { created: 'other' }, managed: false });
      return out;
    };
  }
  if (options.retrieveAfter) descriptor.retrieveAfter = options.retrieveAfter;
  return descriptor;
}

/** A clock whose time moves only when told; timers fire when their time is passed. */
export class ManualClock {
  private time = 1_000_000;
  private timers: { at: number; callback: () => void; id: number }[] = [];
  private nextId = 1;

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.time + ms, callback, id });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.time = next.at;
      next.callback();
    }
    this.time = target;
  }

  get pendingTimers(): number {
    return this.timers.length;
  }
}
