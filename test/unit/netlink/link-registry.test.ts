import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LinkRegistry, type Link, type NetlinkHandle } from '../../../src/netlink/index.js';

/** A handle whose link dumps answer the next list given to `dumps`. */
function fakeHandle(dumps: Link[][]): NetlinkHandle {
  return {
    label: 'fake namespace',
    linkList: () => Promise.resolve(dumps.shift() ?? []),
  } as unknown as NetlinkHandle;
}

function link(overrides: Partial<Link> = {}): Link {
  return {
    index: 7,
    name: 'veth7',
    hardwareType: 1,
    flags: 0x1043,
    up: true,
    running: true,
    lowerUp: true,
    mtu: 1400,
    mac: '02:00:00:00:00:07',
    alias: 'netns-agent:l:veth7',
    group: 0,
    txqlen: 1000,
    operState: 'up',
    carrier: true,
    kind: 'veth',
    parentIndex: 8,
    linkNetnsId: 0,
    minMtu: 68,
    maxMtu: 65535,
    altNames: [],
    stats: { rxPackets: 1, txPackets: 2, rxBytes: 100, txBytes: 200 } as Link['stats'],
    ...overrides,
  };
}

describe('link registry: counters', () => {
  test('refreshStatistics updates the counters of known links in place, reports nothing, skips unknown ones', async () => {
    const handle = {
      label: 'fake namespace',
      linkList: () => Promise.resolve([link()]),
      linkStatsList: () =>
        Promise.resolve([
          { index: 7, stats: { rxPackets: 5, txPackets: 6, rxBytes: 500, txBytes: 600 } },
          { index: 99, stats: { rxPackets: 1, txPackets: 1, rxBytes: 1, txBytes: 1 } },
        ]),
    } as unknown as NetlinkHandle;
    const registry = new LinkRegistry(handle, null);
    await registry.resync('initial', false);
    const kept = registry.get(7)!;
    const changes: string[] = [];
    registry.on('change', (list) => changes.push(...list.map((c) => `${c.kind} ${c.link.name}`)));
    await registry.refreshStatistics();
    assert.equal(registry.get(7), kept, 'same object');
    assert.deepEqual(kept.stats, { rxPackets: 5, txPackets: 6, rxBytes: 500, txBytes: 600 });
    assert.equal(registry.get(99), undefined);
    assert.deepEqual(changes, []);
  });
});

describe('link registry: re-dumps', () => {
  test('a re-dump that changes only counters keeps the link object, updated, and reports nothing', async () => {
    const newer = link({
      carrier: false,
      txqlen: 500,
      altNames: ['other-name'],
      stats: { rxPackets: 9, txPackets: 8, rxBytes: 900, txBytes: 800 } as Link['stats'],
    });
    const registry = new LinkRegistry(fakeHandle([[link()], [newer]]), null);
    const changes: string[] = [];
    registry.on('change', (list) => changes.push(...list.map((c) => `${c.kind} ${c.link.name}`)));
    await registry.resync('first', false);
    const kept = registry.get('veth7');
    await registry.resync('statistics', false);
    assert.equal(registry.get('veth7'), kept, 'the same object');
    assert.equal(registry.get(7), kept);
    assert.deepEqual(kept, newer, 'with every field of the newer report');
    assert.deepEqual(changes, ['added veth7']);
    registry.close();
  });

  test('a re-dump that changes what configuration cares about replaces the link and reports it', async () => {
    const registry = new LinkRegistry(fakeHandle([[link()], [link({ mtu: 1500 })]]), null);
    const changes: string[] = [];
    registry.on('change', (list) =>
      changes.push(...list.map((c) => `${c.kind} ${c.link.name} ${c.previous?.mtu}->${c.link.mtu}`)),
    );
    await registry.resync('first', false);
    const before = registry.get('veth7');
    await registry.resync('statistics', false);
    assert.notEqual(registry.get('veth7'), before);
    assert.equal(registry.get('veth7')?.mtu, 1500);
    assert.deepEqual(changes, ['added veth7 undefined->1400', 'changed veth7 1400->1500']);
    registry.close();
  });
});
