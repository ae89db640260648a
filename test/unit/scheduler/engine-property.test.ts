/**
 * Property: whatever the sequence of puts, deletes, fact flips and injected failures, once the
 * engine settles the fake kernel holds exactly the desired items whose dependencies are
 * transitively satisfied (with their desired values), no operation ever ran out of dependency
 * order, and a final resync makes zero writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Engine, deepEqual, type FactChange } from '../../../src/scheduler/index.js';
import { FakeKernel, ManualClock, nodeDescriptor, type NodeValue } from './fake-kernel.js';

const NODES = ['n/0', 'n/1', 'n/2', 'n/3', 'n/4'];
const FACTS = ['fact/a', 'fact/b'];
const TARGETS = [...NODES, ...FACTS, 'n/0/d'];
const RUNS = Number(process.env.PROPERTY_RUNS ?? 5000);
// To replay a failure: PROPERTY_SEED and PROPERTY_PATH from fast-check's report. PROPERTY_SLICE_MS=0
// makes the engine yield between every two operations (other interleavings of coalesced commits).
const REPLAY = process.env.PROPERTY_SEED
  ? { seed: Number(process.env.PROPERTY_SEED), path: process.env.PROPERTY_PATH }
  : {};
const SLICE_MS = Number(process.env.PROPERTY_SLICE_MS ?? 10);

const valueArb: fc.Arbitrary<NodeValue> = fc
  .record({
    deps: fc.oneof(fc.constant<string[]>([]), fc.subarray(TARGETS, { maxLength: 2 })),
    factDeps: fc.oneof(fc.constant<string[]>([]), fc.subarray(FACTS, { maxLength: 1 })),
    anyOf: fc.option(fc.subarray(TARGETS, { minLength: 1, maxLength: 2 }), { freq: 3, nil: undefined }),
    x: fc.integer({ min: 0, max: 2 }),
    fixed: fc.constantFrom('a', 'b'),
    derive: fc.option(fc.constant('d'), { nil: undefined }),
    bad: fc.option(fc.constant(true), { freq: 8, nil: undefined }),
    // Built into another item (removedWithIt: deleting that one takes this one along).
    within: fc.option(fc.constantFrom(...NODES), { freq: 4, nil: undefined }),
    // Anything under a folder: a node's derived item, any fact, any node.
    prefix: fc.option(fc.constantFrom('n/0', 'fact', 'n'), { freq: 6, nil: undefined }),
  })
  .map((v) => {
    const out: NodeValue = { deps: v.deps, factDeps: v.factDeps, x: v.x, fixed: v.fixed };
    if (v.within !== undefined) out.within = [v.within];
    if (v.prefix !== undefined) out.prefix = v.prefix;
    if (v.anyOf) out.anyOf = v.anyOf;
    if (v.derive !== undefined) out.derive = [v.derive];
    if (v.bad) out.bad = true;
    return out;
  });

type Action =
  | { kind: 'put'; key: string; value: NodeValue }
  | { kind: 'delete'; key: string }
  | { kind: 'fact'; key: string; value: number | undefined }
  | { kind: 'fail'; op: 'create' | 'update' | 'delete'; key: string; retriable: boolean }
  | { kind: 'tick' }
  | { kind: 'burst'; actions: Action[] }
  /** A fact changes while the change's transaction runs (or, if it runs no operation, right after). */
  | { kind: 'during'; change: Action; fact: string; value: number | undefined };

function simpleActionOf(valueArb: fc.Arbitrary<NodeValue>): fc.Arbitrary<Action> {
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('put' as const),
        key: fc.constantFrom(...NODES),
        value: valueArb,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom(...NODES) }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('fact' as const),
        key: fc.constantFrom(...FACTS),
        value: fc.option(fc.integer({ min: 0, max: 1 }), { freq: 3, nil: undefined }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('fail' as const),
        op: fc.constantFrom('create' as const, 'update' as const, 'delete' as const),
        key: fc.constantFrom(...NODES, 'n/0/d'),
        retriable: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'tick' as const }) },
  );
}

function duringOf(valueArb: fc.Arbitrary<NodeValue>): fc.Arbitrary<Action> {
  return fc.record({
    kind: fc.constant('during' as const),
    change: fc.oneof(
      fc.record({ kind: fc.constant('put' as const), key: fc.constantFrom(...NODES), value: valueArb }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom(...NODES) }),
    ),
    fact: fc.constantFrom(...FACTS),
    value: fc.option(fc.integer({ min: 0, max: 1 }), { freq: 4, nil: undefined }),
  });
}

function actionsOf(valueArb: fc.Arbitrary<NodeValue>): fc.Arbitrary<Action> {
  const simpleAction = simpleActionOf(valueArb);
  return fc.oneof(
    { weight: 6, arbitrary: simpleAction },
    { weight: 2, arbitrary: duringOf(valueArb) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('burst' as const),
        actions: fc.array(simpleAction, { maxLength: 5 }),
      }),
    },
  );
}
const actionArb = actionsOf(valueArb);

/**
 * Values that mostly get applied (other nodes and facts as their only dependencies, one kind of
 * change in place): puts of an applied item with other dependencies, which re-create it, are
 * common (with `valueArb` most items wait for ever and are rarely put again while applied).
 */
const movingValueArb: fc.Arbitrary<NodeValue> = fc
  .record({
    deps: fc.subarray([...NODES, ...FACTS], { maxLength: 2 }),
    x: fc.integer({ min: 0, max: 2 }),
  })
  .map((v) => ({ deps: v.deps, factDeps: [], x: v.x, fixed: 'a' }));

/** The model: desired values (a refused value keeps the previous one) and asserted facts. */
class Model {
  readonly config = new Map<string, NodeValue>();
  readonly facts = new Map<string, number>();

  apply(a: Action): void {
    if (a.kind === 'put' && a.value.bad !== true) this.config.set(a.key, a.value);
    if (a.kind === 'delete') this.config.delete(a.key);
    if (a.kind === 'fact') {
      if (a.value === undefined) this.facts.delete(a.key);
      else this.facts.set(a.key, a.value);
    }
    if (a.kind === 'burst') for (const b of a.actions) this.apply(b);
    if (a.kind === 'during') {
      this.apply(a.change);
      this.apply({ kind: 'fact', key: a.fact, value: a.value });
    }
  }

  /** Desired items whose dependencies hold transitively (least fixpoint). */
  expected(): Map<string, NodeValue> {
    const desired = new Map(this.config);
    for (const [key, value] of this.config) if (value.derive) desired.set(`${key}/d`, { deps: [key] });
    const applied = new Map<string, NodeValue>();
    const holds = (k: string): boolean => this.facts.has(k) || applied.has(k);
    const holdsUnder = (prefix: string): boolean =>
      [...this.facts.keys(), ...applied.keys()].some((k) => k.startsWith(`${prefix}/`));
    for (let changed = true; changed;) {
      changed = false;
      for (const [key, v] of desired) {
        if (applied.has(key)) continue;
        const ok =
          (v.deps ?? []).every(holds) &&
          (v.within ?? []).every(holds) &&
          (v.factDeps ?? []).every(holds) &&
          (v.anyOf === undefined || v.anyOf.some(holds)) &&
          (v.prefix === undefined || holdsUnder(v.prefix));
        if (ok) {
          applied.set(key, v);
          changed = true;
        }
      }
    }
    return applied;
  }
}

async function perform(engine: Engine, kernel: FakeKernel, clock: ManualClock, a: Action): Promise<void> {
  switch (a.kind) {
    case 'put':
      await engine.commit({ puts: [{ key: a.key, value: a.value }] });
      break;
    case 'delete':
      await engine.commit({ deletes: [a.key] });
      break;
    case 'fact':
      await engine.notify([
        a.value === undefined ? { key: a.key, deleted: true } : { key: a.key, value: a.value },
      ]);
      break;
    case 'fail':
      kernel.fail(a.op, a.key, 1, a.retriable);
      break;
    case 'tick':
      clock.advance(1000);
      await engine.idle();
      break;
    case 'during': {
      const change: FactChange =
        a.value === undefined ? { key: a.fact, deleted: true } : { key: a.fact, value: a.value };
      let fired = false;
      kernel.onNextOp = () => {
        fired = true;
        void engine.notify([change]);
      };
      await perform(engine, kernel, clock, a.change);
      kernel.onNextOp = undefined;
      if (!fired) await engine.notify([change]);
      break;
    }
    case 'burst': {
      // Not awaited one by one: they coalesce.
      const pending: Promise<unknown>[] = [];
      for (const b of a.actions) {
        if (b.kind === 'put') pending.push(engine.commit({ puts: [{ key: b.key, value: b.value }] }));
        else if (b.kind === 'delete') pending.push(engine.commit({ deletes: [b.key] }));
        else if (b.kind === 'fact') {
          pending.push(
            engine.notify([
              b.value === undefined ? { key: b.key, deleted: true } : { key: b.key, value: b.value },
            ]),
          );
        } else await perform(engine, kernel, clock, b);
      }
      await Promise.all(pending);
    }
  }
}

/** Runs the actions on an engine over the fake kernel and checks it converges to the model. */
async function converges(actions: Action[]): Promise<void> {
  const kernel = new FakeKernel();
  const clock = new ManualClock();
  const engine = new Engine({
    clock,
    retry: { initialDelayMs: 100, maxDelayMs: 1000 },
    sliceMs: SLICE_MS,
  });
  engine.register(nodeDescriptor(kernel, { withRetrieve: true }));
  const model = new Model();
  for (const a of actions) {
    model.apply(a);
    await perform(engine, kernel, clock, a);
  }
  // Settle: no more injected failures; retries run; a resync retries what is not retriable.
  kernel.clearFailures();
  clock.advance(10_000);
  await engine.idle();
  await engine.resync();

  const expected = model.expected();
  assert.deepEqual([...kernel.items.keys()].sort(), [...expected.keys()].sort());
  for (const [key, value] of expected) assert.ok(deepEqual(kernel.items.get(key), value), `value of ${key}`);
  assert.deepEqual(kernel.violations, []);
  assert.deepEqual(kernel.builtOnStaleFacts(engine.state), []);
  for (const key of expected.keys()) {
    const s = engine.status(key);
    assert.ok(s?.state === 'configured' || s?.state === 'invalid', `${key} is ${s?.state}`);
  }
  for (const s of engine.statusList()) {
    if (s.state === 'configured') assert.ok(expected.has(s.key), `${s.key} configured but not expected`);
  }
  const writes = kernel.writes;
  const final = await engine.resync();
  assert.equal(kernel.writes, writes, 'the final resync wrote');
  assert.equal(final.counts.planned, 0);
  await engine.close();
}

test(`property: the engine converges to the model (${RUNS} runs)`, async () => {
  await fc.assert(fc.asyncProperty(fc.array(actionArb, { maxLength: 25 }), converges), {
    numRuns: RUNS,
    ...REPLAY,
  });
});

test(`property: applied items moving between what they need (${RUNS} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(actionsOf(movingValueArb), { maxLength: 25 }), (actions) => converges(actions)),
    { numRuns: RUNS, ...REPLAY },
  );
});
