import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../../src/scheduler/index.js';
import { FakeKernel, nodeDescriptor, type NodeValue } from './fake-kernel.js';
import { ops, rig } from './setup.js';

describe('engine: resync', () => {
  test('over a right state: zero writes', async () => {
    const r = rig({}, { withRetrieve: true });
    await r.put(['n/a', { x: 1 }], ['n/b', { deps: ['n/a'], derive: ['c'] }]);
    const writes = r.kernel.writes;
    const rec = await r.engine.resync();
    assert.equal(r.kernel.writes, writes);
    assert.equal(rec.counts.planned, 0);
    assert.deepEqual(rec.causes, ['resync']);
  });

  test('after a restart: creates missing, fixes different, removes obsolete managed, never touches unmanaged', async () => {
    const kernel = new FakeKernel();
    kernel.items.set('n/right', { x: 1 });
    kernel.items.set('n/wrong', { x: 9 });
    kernel.items.set('n/obsolete', {});
    kernel.items.set('n/dep-of-obsolete', { deps: ['n/obsolete'] });
    const unmanaged = new Map<string, NodeValue>([['n/foreign', {}]]);
    const engine = new Engine();
    engine.register(nodeDescriptor(kernel, { withRetrieve: true, unmanaged }));
    const rec = await engine.commit({
      puts: [
        { key: 'n/right', value: { x: 1 } },
        { key: 'n/wrong', value: { x: 2 } },
        { key: 'n/missing', value: { deps: ['n/right'] } },
      ],
      replace: true,
      resync: true,
    });
    assert.deepEqual(
      new Set(ops(kernel)),
      new Set(['delete n/dep-of-obsolete', 'delete n/obsolete', 'update n/wrong', 'create n/missing']),
    );
    assert.ok(ops(kernel).indexOf('delete n/dep-of-obsolete') < ops(kernel).indexOf('delete n/obsolete'));
    assert.equal(rec.counts.planned, 4);
    assert.equal(engine.status('n/right')?.state, 'configured');
    assert.equal(engine.status('n/foreign'), undefined);
    const again = await engine.resync();
    assert.equal(again.counts.planned, 0);
  });

  test('an item lost from the real state (drift) is created again by a keyed resync', async () => {
    const r = rig({}, { withRetrieve: true });
    await r.put(['n/a', {}], ['n/b', {}], ['n/c', { deps: ['n/a'] }]);
    r.kernel.items.delete('n/a');
    r.kernel.items.delete('n/c');
    r.kernel.items.delete('n/b');
    r.kernel.log.length = 0;
    await r.engine.resync({ keys: ['n/a', 'n/c'] });
    assert.deepEqual(ops(r.kernel), ['create n/a', 'create n/c']);
    await r.engine.resync({ descriptors: ['node'] });
    assert.deepEqual(ops(r.kernel), ['create n/a', 'create n/c', 'create n/b']);
  });

  test('a pending item found in the real state is removed', async () => {
    const kernel = new FakeKernel();
    kernel.items.set('n/a', { deps: ['fact/ns'] });
    const engine = new Engine();
    engine.register(nodeDescriptor(kernel, { withRetrieve: true }));
    await engine.commit({ puts: [{ key: 'n/a', value: { deps: ['fact/ns'] } }], resync: true });
    assert.deepEqual(ops(kernel), ['delete n/a']);
    assert.equal(engine.status('n/a')?.state, 'pending');
  });

  test('descriptors without retrieve are trusted from memory; retrieveAfter orders reads', async () => {
    const kernel = new FakeKernel();
    const order: string[] = [];
    const engine = new Engine();
    const parent = nodeDescriptor(kernel, { name: 'parent', prefix: 'p/', withRetrieve: true });
    const child = nodeDescriptor(kernel, {
      name: 'child',
      prefix: 'c/',
      withRetrieve: true,
      retrieveAfter: ['parent'],
    });
    const wrap = <T extends { retrieve?: unknown; name: string }>(d: T): T => {
      const retrieve = (d as { retrieve?: (...a: unknown[]) => Promise<unknown> }).retrieve!;
      return { ...d, retrieve: (...a: unknown[]) => (order.push(d.name), retrieve(...a)) };
    };
    engine.register(wrap(child));
    engine.register(wrap(parent));
    engine.register(nodeDescriptor(kernel, { name: 'plain', prefix: 'x/' }));
    await engine.commit({ puts: [{ key: 'x/1', value: {} }] });
    kernel.items.delete('x/1');
    await engine.resync();
    assert.deepEqual(order, ['parent', 'child']);
    assert.equal(kernel.items.has('x/1'), false); // trusted: not re-created
  });

  test('a failing retrieve is reported and leaves memory as it was', async () => {
    const kernel = new FakeKernel();
    const engine = new Engine();
    const d = nodeDescriptor(kernel, { withRetrieve: true });
    engine.register(d);
    await engine.commit({ puts: [{ key: 'n/a', value: {} }] });
    d.retrieve = async () => {
      throw new Error('dump interrupted');
    };
    const rec = await engine.resync();
    assert.equal(rec.errors[0]?.operation, 'retrieve');
    assert.equal(rec.errors[0]?.error.message, 'dump interrupted');
    assert.equal(rec.counts.planned, 0);
  });
});

test('resync: an item whose real value is not the desired one stands on what that value needs (removals in the right order)', async () => {
  const kernel = new FakeKernel();
  const engine = new Engine();
  engine.register(nodeDescriptor(kernel, { withRetrieve: true }));
  const value = (deps: string[]): NodeValue => ({ deps, factDeps: [], x: 0, fixed: 'a' });
  await engine.commit({ puts: [{ key: 'n/3', value: value([]) }] });
  await engine.commit({ puts: [{ key: 'n/1', value: value(['n/3']) }] });
  // n/3 to need n/1, which needs n/3: neither can stay. The removal of n/1 (first) fails.
  kernel.fail('delete', 'n/1', 1, false);
  await engine.commit({ puts: [{ key: 'n/3', value: value(['n/1']) }] });
  assert.deepEqual([...kernel.items.keys()].sort(), ['n/1', 'n/3']);
  // The resync reads n/3 as it is (needing nothing; desired: needing n/1): n/1, built on it, goes first.
  await engine.resync();
  assert.deepEqual(kernel.violations, []);
  assert.deepEqual(
    kernel.log.slice(-2).map((e) => `${e.op} ${e.key}`),
    ['delete n/1', 'delete n/3'],
  );
  await engine.close();
});
