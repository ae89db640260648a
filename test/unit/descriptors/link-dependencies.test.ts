import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linkDependencies } from '../../../src/descriptors/interface.js';

const ns1 = { kind: 'named', name: 'ns1' } as const;
const ns2 = { kind: 'named', name: 'ns2' } as const;

test('a route or ARP entry through a link: exists, then up; then its interface item, when it names one', () => {
  const plain = linkDependencies(ns1, 'eth0', 'eth0', undefined);
  assert.deepEqual(
    plain.map((d) => ('key' in d ? d.reason : '')),
    [
      'waiting for interface eth0 to exist in named namespace ns1',
      'waiting for interface eth0 to be up in named namespace ns1',
    ],
  );
  const item = linkDependencies(ns1, 'veth1Name', 'veth1', '/vnf-agent/l/linux/config/v1/interface/veth1');
  assert.deepEqual(item[2], {
    key: '/vnf-agent/l/linux/config/v1/interface/veth1',
    reason: 'waiting for interface veth1 to be configured',
  });
});

test('an interface item of that name in another namespace is named in the reason', () => {
  const [exists] = linkDependencies(ns2, 'veth1', 'veth1', undefined, ns1);
  assert.equal(
    exists && 'key' in exists ? exists.reason : '',
    'waiting for interface veth1 to exist in named namespace ns2 (the interface item veth1 is in named namespace ns1)',
  );
});
