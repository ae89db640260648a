import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, type TransactionRecord, type OperationRecord } from '../../../src/scheduler/index.js';
import { FakeKernel, nodeDescriptor } from './fake-kernel.js';
import { ops, rig } from './setup.js';

describe('engine: transactions', () => {
  test('notifications arriving during a transaction coalesce into the next one, none dropped', async () => {
    const r = rig();
    r.kernel.delayMs = 5;
    for (let i = 0; i < 50; i++)
      await r.engine.commit({ puts: [{ key: `n/${i}`, value: { deps: [`fact/${i}`] } }] });
    const first = r.engine.notify([{ key: 'fact/0', value: 0 }]);
    await new Promise((resolve) => setImmediate(resolve)); // the first transaction is running
    const later: Promise<TransactionRecord | undefined>[] = [];
    for (let i = 1; i < 50; i++) later.push(r.engine.notify([{ key: `fact/${i}`, value: i }]));
    const records = await Promise.all(later);
    const seqs = new Set(records.map((rec) => rec?.seq));
    assert.equal(seqs.size, 1, 'one transaction for the burst');
    assert.notEqual((await first)?.seq, records[0]?.seq);
    assert.equal(r.kernel.items.size, 50);
    assert.deepEqual(records[0]?.causes, ['notify']);
  });

  test('commits of the same tick share one transaction; the last value of a key wins', async () => {
    const r = rig();
    const a = r.put(['n/a', { x: 1 }]);
    const b = r.put(['n/a', { x: 2 }], ['n/b', {}]);
    const c = r.del('n/b');
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    assert.equal(ra.seq, rb.seq);
    assert.equal(rb.seq, rc.seq);
    assert.deepEqual(ops(r.kernel), ['create n/a']);
    assert.deepEqual(r.kernel.items.get('n/a'), { x: 2 });
  });

  test('independent operations run concurrently, bounded', async () => {
    // A long slice: on a loaded machine a turn can pass the default 10 ms, and the engine then
    // gives the event loop a turn before it has started everything it may.
    const r = rig({ concurrency: 16, sliceMs: 10_000 });
    r.kernel.delayMs = 1;
    await r.engine.commit({ puts: Array.from({ length: 200 }, (_, i) => ({ key: `n/${i}`, value: {} })) });
    assert.equal(r.kernel.maxInFlight, 16);
    assert.equal(r.kernel.items.size, 200);
  });

  test('removals have their own in-flight limit', async () => {
    const r = rig({ concurrency: 4, removalConcurrency: 32, sliceMs: 10_000 });
    const keys = Array.from({ length: 100 }, (_, i) => `n/${i}`);
    await r.engine.commit({ puts: keys.map((key) => ({ key, value: {} })) });
    assert.equal(r.kernel.maxInFlight, 4);
    r.kernel.maxInFlight = 0;
    r.kernel.delayMs = 1;
    await r.engine.commit({ deletes: keys });
    assert.equal(r.kernel.maxInFlight, 32);
    assert.equal(r.kernel.items.size, 0);
  });

  test('isOperating: true from the plan until the operation settles, for that key only', async () => {
    const r = rig();
    r.kernel.delayMs = 20;
    await r.engine.commit({ puts: [{ key: 'n/other', value: {} }] });
    const seen: boolean[] = [];
    const done = r.engine.commit({ puts: [{ key: 'n/slow', value: {} }] });
    await new Promise((resolve) => setTimeout(resolve, 5)); // the create is in flight
    seen.push(r.engine.isOperating('n/slow'), r.engine.isOperating('n/other'));
    await done;
    seen.push(r.engine.isOperating('n/slow'));
    assert.deepEqual(seen, [true, false, false]);
  });

  test('a create waits only for the creates it depends on', async () => {
    const r = rig({ concurrency: 256, sliceMs: 10_000 }); // see the test above
    r.kernel.delayMs = 2;
    // Chain a <- b <- c, plus 20 independent items: everything independent starts with a.
    const puts = [
      { key: 'n/c', value: { deps: ['n/b'] } },
      { key: 'n/b', value: { deps: ['n/a'] } },
      { key: 'n/a', value: {} },
      ...Array.from({ length: 20 }, (_, i) => ({ key: `n/i${i}`, value: {} })),
    ];
    await r.engine.commit({ puts });
    assert.equal(r.kernel.maxInFlight, 21);
    const order = ops(r.kernel);
    assert.ok(order.indexOf('create n/a') < order.indexOf('create n/b'));
    assert.ok(order.indexOf('create n/b') < order.indexOf('create n/c'));
  });

  test('dry run: what would happen, nothing done', async () => {
    const r = rig();
    await r.put(['n/a', { x: 1, fixed: 'p' }], ['n/b', { deps: ['n/a'] }], ['n/c', {}]);
    const before = r.kernel.writes;
    const { actions } = r.engine.plan({
      puts: [
        { key: 'n/a', value: { x: 1, fixed: 'q' } },
        { key: 'n/d', value: { deps: ['n/zz'] } },
        { key: 'n/e', value: {} },
        { key: 'n/c', value: { x: 5 } },
      ],
      deletes: ['n/gone'],
      facts: [{ key: 'fact/f', value: 1 }],
    });
    const byKey = new Map(actions.map((a) => [a.key, a]));
    assert.equal(byKey.get('n/a')?.action, 'recreate');
    assert.equal(byKey.get('n/b')?.action, 'recreate');
    assert.equal(byKey.get('n/c')?.action, 'update');
    assert.equal(byKey.get('n/e')?.action, 'create');
    assert.equal(byKey.get('n/d')?.action, 'pending');
    assert.equal(byKey.get('n/d')?.why, 'waiting for n/zz');
    assert.equal(r.kernel.writes, before);
    assert.equal(r.engine.state.value('n/e'), undefined);
    assert.equal(r.engine.status('n/d'), undefined);
    const dryDelete = r.engine.plan({ deletes: ['n/a'] });
    assert.deepEqual(
      dryDelete.actions.map((a) => `${a.action} ${a.key}`),
      ['delete n/b', 'delete n/a'],
    );
    assert.equal(dryDelete.actions[0]?.why, 'waiting for n/a');
    // A re-creation for new dependencies says what the item now needs.
    await r.put(['n/z', {}]);
    const moved = r.engine.plan({ puts: [{ key: 'n/b', value: { deps: ['n/z'] } }] });
    const recreated = moved.actions.find((a) => a.key === 'n/b');
    assert.equal(recreated?.action, 'recreate');
    assert.equal(recreated?.why, 'dependencies changed (now: n/z)');
  });

  test('history keeps the last transactions with operations, timings and errors; hooks see them', async () => {
    const transactions: TransactionRecord[] = [];
    const operations: OperationRecord[] = [];
    const r = rig({
      historySize: 2,
      hooks: { transaction: (t) => transactions.push(t), operation: (o) => operations.push(o) },
    });
    r.kernel.fail('create', 'n/b', 1, false);
    await r.put(['n/a', {}]);
    await r.put(['n/b', {}], ['n/c', { deps: ['n/b'] }]);
    await r.del('n/a');
    const history = r.engine.transactions();
    assert.equal(history.length, 2);
    assert.deepEqual(
      history.map((t) => t.seq),
      [2, 3],
    );
    const second = history[0]!;
    assert.equal(second.counts.failed, 1);
    assert.equal(second.counts.skipped, 1);
    assert.equal(second.errors[0]?.key, 'n/b');
    assert.equal(second.errors[0]?.error.code, 'ERR_FAKE');
    assert.deepEqual(
      second.operations.map((o) => `${o.kind} ${o.key} ${o.outcome}`),
      ['create n/b failed', 'create n/c skipped'],
    );
    assert.equal(second.operations[1]?.skippedBecause, 'waiting for n/b');
    assert.ok(second.durationMs >= second.executeMs);
    assert.equal(transactions.length, 3);
    assert.equal(operations.length, 4);
  });

  test('history truncates operations of large transactions', async () => {
    const r = rig({ historyOperationLimit: 10 });
    const rec = await r.engine.commit({
      puts: Array.from({ length: 25 }, (_, i) => ({ key: `n/${i}`, value: {} })),
    });
    assert.equal(rec.operations.length, 10);
    assert.equal(rec.operationsOmitted, 15);
    assert.equal(rec.counts.create, 25);
  });

  test('status listeners get one batch per transaction; stop() stops them', async () => {
    const r = rig();
    const batches: number[] = [];
    const stop = r.engine.onStatus((c) => batches.push(c.length));
    await r.put(['n/a', {}], ['n/b', {}]);
    stop();
    await r.put(['n/c', {}]);
    assert.deepEqual(batches, [2]);
  });

  test('close: lets the running transaction finish, idempotent, refuses later work', async () => {
    const kernel = new FakeKernel();
    kernel.delayMs = 5;
    const engine = new Engine();
    engine.register(nodeDescriptor(kernel));
    const running = engine.commit({ puts: [{ key: 'n/a', value: {} }] });
    await new Promise((resolve) => setImmediate(resolve));
    const queued = assert.rejects(engine.commit({ puts: [{ key: 'n/b', value: {} }] }), {
      code: 'ERR_CLOSED',
    });
    await Promise.all([engine.close(), engine.close()]);
    assert.equal((await running).counts.create, 1);
    await queued;
    await assert.rejects(engine.commit({ puts: [] }), { code: 'ERR_CLOSED' });
    assert.equal(await engine.notify([{ key: 'fact/late', value: 1 }]), undefined, 'late facts are dropped');
    assert.deepEqual([...kernel.items.keys()], ['n/a']);
  });

  test('a descriptor that throws synchronously fails its item only', async () => {
    const engine = new Engine();
    engine.register({
      name: 'boom',
      keyPrefix: 'b/',
      create: () => {
        throw new Error('sync boom');
      },
      delete: async () => undefined,
    });
    const rec = await engine.commit({ puts: [{ key: 'b/1', value: {} }] });
    assert.equal(engine.status('b/1')?.state, 'failed');
    assert.equal(engine.status('b/1')?.error?.message, 'sync boom');
    assert.equal(engine.status('b/1')?.error?.retriable, false);
    assert.equal(rec.counts.failed, 1);
  });
});
