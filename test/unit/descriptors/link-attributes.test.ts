import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  desiredLinkAttributes,
  givenBackAttributes,
  KERNEL_DEFAULT_MTU,
  refreshedOriginal,
  givenBackOriginal,
  setByValue,
} from '../../../src/descriptors/link-ops.js';
import { settingsDropped } from '../../../src/descriptors/foreign-links.js';
import type { Link } from '../../../src/netlink/index.js';
import { interfaceKey, parseItem, type LinuxInterface } from '../../../src/model/index.js';

function iface(json: Record<string, unknown>): LinuxInterface {
  const item = parseItem(interfaceKey('a', 'i'), { name: 'i', enabled: true, ...json });
  assert.equal(item.kind, 'interface');
  return item.value as LinuxInterface;
}

const veth = { type: 'VETH', veth: { peer_if_name: 'p' } };
const existing = { type: 'EXISTING', host_if_name: 'eth1' };
const original = { mtu: 1600, mac: '02:00:00:00:00:01', up: false, name: 'eth1' };

describe('link attributes a value sets', () => {
  test("a VETH or DUMMY without mtu wants the kernel's default; others' links keep theirs", () => {
    assert.equal(desiredLinkAttributes(iface(veth), undefined).mtu, KERNEL_DEFAULT_MTU);
    assert.equal(desiredLinkAttributes(iface({ type: 'DUMMY' }), undefined).mtu, KERNEL_DEFAULT_MTU);
    assert.equal(desiredLinkAttributes(iface({ ...veth, mtu: 9000 }), undefined).mtu, 9000);
    assert.equal(desiredLinkAttributes(iface(existing), undefined).mtu, undefined);
    assert.equal(
      desiredLinkAttributes(iface(veth), undefined).mac,
      undefined,
      'no MAC: the link keeps its own',
    );
  });

  test("others' links: mtu and phys_address dropped from the config give back the originals; fields never set are left alone", () => {
    const set = iface({ ...existing, mtu: 1400, phys_address: '02:00:00:00:00:99' });
    assert.deepEqual(givenBackAttributes(set, iface(existing), original), {
      mtu: 1600,
      mac: '02:00:00:00:00:01',
    });
    assert.deepEqual(givenBackAttributes(set, set, original), {});
    assert.deepEqual(givenBackAttributes(iface(existing), iface(existing), original), {});
    assert.deepEqual(givenBackAttributes(set, iface(existing), undefined), {});
    const foundWrong = { ...iface(existing), mtu: -1 };
    assert.deepEqual(
      givenBackAttributes(foundWrong, iface(existing), original),
      {},
      "a resync's mark is no MTU",
    );
  });

  test('settings the book says we set and the value dropped while the agent was down, still on the link', () => {
    const entry = {
      key: 'k',
      type: 'EXISTING' as const,
      namespaceId: 'default',
      namespaceIdentity: '1:2',
      ifindex: 7,
      hostIfName: 'eth1',
      original,
      set: { up: true, mtu: 1400, mac: '02:00:00:00:00:99' },
    };
    const link = { index: 7, name: 'eth1', up: true, mtu: 1400, mac: '02:00:00:00:00:99' } as Link;
    assert.deepEqual(settingsDropped(entry, iface(existing), link), {
      mtu: 1400,
      physAddress: '02:00:00:00:00:99',
    });
    assert.deepEqual(settingsDropped(entry, iface({ ...existing, mtu: 1400 }), link), {
      physAddress: '02:00:00:00:00:99',
    });
    assert.equal(
      settingsDropped(entry, iface(existing), { ...link, mtu: 9000, mac: original.mac }),
      undefined,
    );
    assert.equal(settingsDropped(undefined, iface(existing), link), undefined);
  });

  test("removal gives back only what the value set; a field the value starts to set takes the link's value as its original", () => {
    const now = { index: 7, name: 'eth1', up: true, mtu: 1300, mac: '02:00:00:00:00:02' } as Link;
    assert.deepEqual(givenBackOriginal(original, setByValue(iface(existing)), now), {
      ...original,
      mtu: 1300,
      mac: '02:00:00:00:00:02',
    });
    assert.deepEqual(
      givenBackOriginal(
        original,
        setByValue(iface({ ...existing, mtu: 1400, phys_address: '02:00:00:00:00:99' })),
        now,
      ),
      original,
    );
    const link = { index: 7, name: 'eth1', up: true, mtu: 1300, mac: '02:00:00:00:00:02' } as Link;
    const setting = iface({ ...existing, mtu: 9000, phys_address: '02:00:00:00:00:99' });
    assert.deepEqual(refreshedOriginal(original, iface(existing), setting, link), {
      ...original,
      mtu: 1300,
      mac: '02:00:00:00:00:02',
    });
    assert.deepEqual(refreshedOriginal(original, setting, setting, link), original, 'set before: kept');
    assert.deepEqual(
      refreshedOriginal(original, { ...setting, mtu: -1 }, setting, link).mtu,
      1600,
      "a resync's mark",
    );
  });
});
