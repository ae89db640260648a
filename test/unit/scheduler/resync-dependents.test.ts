/** A resync that finds an item gone re-creates what was built on it too (they went with it). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../../src/scheduler/index.js';

test('resync of one key: a vanished parent and its vanished child are both created again', async () => {
  const kernel = new Set<string>();
  const log: string[] = [];
  const engine = new Engine();
  engine.register<Record<string, never>, Record<string, never>>({
    name: 'parent',
    keyPrefix: 'p/',
    handles: (k) => !k.includes('/child'),
    create: async (_v, key) => {
      kernel.add(key);
      log.push(`create ${key}`);
      return {};
    },
    delete: async (_v, key) => {
      kernel.delete(key);
    },
    retrieve: async (_v, desired) =>
      desired.filter((d) => kernel.has(d.key)).map((d) => ({ ...d, metadata: {}, managed: true })),
  });
  engine.register<{ parent: string }, Record<string, never>>({
    name: 'child',
    keyPrefix: 'p/',
    handles: (k) => k.includes('/child'),
    dependencies: (_k, v) => [{ key: v.parent, reason: 'parent', recreateOnChange: true }],
    create: async (_v, key) => {
      kernel.add(key);
      log.push(`create ${key}`);
      return {};
    },
    delete: async (_v, key) => {
      kernel.delete(key);
    },
  });
  try {
    await engine.commit({
      puts: [
        { key: 'p/a', value: {} },
        { key: 'p/a/child', value: { parent: 'p/a' } },
      ],
    });
    kernel.clear(); // the parent vanished, taking its child with it
    log.length = 0;
    await engine.resync({ keys: ['p/a'] });
    await engine.idle();
    assert.deepEqual(log, ['create p/a', 'create p/a/child']);
    assert.equal(engine.status('p/a/child')?.state, 'configured');
    assert.ok(kernel.has('p/a/child'));
  } finally {
    await engine.close();
  }
});
