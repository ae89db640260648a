import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DescriptorRegistry, REMEMBERED_PER_GENERATION } from '../../../src/scheduler/descriptor-registry.js';
import type { Descriptor } from '../../../src/scheduler/types.js';

function descriptor(name: string, keyPrefix: string, matched: string[]): Descriptor {
  return {
    name,
    keyPrefix,
    // Called each time the registry matches a key against this descriptor (not for remembered keys).
    handles: (key) => {
      matched.push(key);
      return true;
    },
    create: async () => undefined,
    delete: async () => undefined,
  };
}

describe('DescriptorRegistry', () => {
  test('keys looked up once each (names put and deleted over time) are not all remembered', () => {
    const registry = new DescriptorRegistry();
    registry.register(descriptor('iface', '/cfg/interface/', []));
    // A long-running agent given new names: each key is looked up, then never again. Before, the
    // registry kept all of them until it held 200,000 (~36 MiB of keys).
    const keys = 5 * REMEMBERED_PER_GENERATION;
    for (let i = 0; i < keys; i++) registry.find(`/cfg/interface/churn-${i}`);
    assert.ok(
      registry.remembered() <= 2 * REMEMBERED_PER_GENERATION,
      `${registry.remembered()} keys remembered after ${keys} distinct ones`,
    );
  });

  test('a key in use is matched once, however many keys came and went meanwhile', () => {
    const matched: string[] = [];
    const registry = new DescriptorRegistry();
    registry.register(descriptor('iface', '/cfg/interface/', matched));
    registry.register(descriptor('route', '/cfg/route/', matched));
    const live = '/cfg/route/r1';
    for (let i = 0; i < 5 * REMEMBERED_PER_GENERATION; i++) {
      registry.find(`/cfg/interface/churn-${i}`);
      if (i % 1000 === 0) assert.equal(registry.find(live)?.name, 'route');
    }
    assert.equal(matched.filter((key) => key === live).length, 1);
    assert.equal(registry.find('/other/key'), undefined);
    assert.equal(registry.find('/other/key'), undefined);
    assert.equal(matched.filter((key) => key === '/other/key').length, 0); // no prefix matched
  });

  test('a descriptor added forgets the answers given so far', () => {
    const registry = new DescriptorRegistry();
    registry.register(descriptor('any', '/cfg/', []));
    assert.equal(registry.find('/cfg/route/r1')?.name, 'any');
    registry.register(descriptor('route', '/cfg/route/', []));
    assert.equal(registry.find('/cfg/route/r1')?.name, 'route');
  });
});
