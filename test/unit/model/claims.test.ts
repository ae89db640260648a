import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  findHostNameConflict,
  interfaceKey,
  parseItem,
  type ClaimedInterface,
} from '../../../src/model/index.js';

function claimed(name: string, json: unknown): ClaimedInterface {
  const item = parseItem(interfaceKey('a', name), json);
  assert.equal(item.kind, 'interface');
  return { key: item.key, value: item.value };
}

test('the same host name in the same namespace clashes, naming the other key', () => {
  const first = claimed('d1', { type: 'DUMMY', host_if_name: 'dum0', namespace: { type: 2, name: 'ns1' } });
  const second = claimed('d2', { type: 'DUMMY', host_if_name: 'dum0', namespace: { type: 2, name: 'ns1' } });
  const error = findHostNameConflict(second, [first, second]);
  assert.equal(error?.field, 'host_if_name');
  assert.equal(error.key, second.key);
  assert.match(error.message, /already claimed by \/vnf-agent\/a\/linux\/config\/v1\/interface\/d1/);
  assert.match(error.message, /named namespace ns1/);
});

test('other namespaces or names do not clash, nor does an item with itself', () => {
  const a = claimed('d1', { type: 'DUMMY', host_if_name: 'dum0', namespace: { type: 2, name: 'ns1' } });
  const b = claimed('d2', { type: 'DUMMY', host_if_name: 'dum0', namespace: { type: 2, name: 'ns2' } });
  const c = claimed('d3', { type: 'DUMMY', host_if_name: 'dum1', namespace: { type: 2, name: 'ns1' } });
  assert.equal(findHostNameConflict(a, [a, b, c]), undefined);
});

test('two LOOPBACK items in one namespace both claim lo', () => {
  const a = claimed('lo-a', { type: 'LOOPBACK' });
  const b = claimed('lo-b', { type: 'LOOPBACK' });
  assert.notEqual(findHostNameConflict(b, [a]), undefined);
});
