import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  findHostNameConflict,
  neighbourClaim,
  routePlaceClaim,
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

test('routes claim their place in the table (metric as the kernel counts it), ARP entries their address on an interface', () => {
  const route = (json: Record<string, unknown>) => {
    const item = parseItem('/vnf-agent/a/linux/config/v1/route/r', { interface: 'v1', ...json });
    assert.equal(item.kind, 'route');
    return routePlaceClaim(item.value).id;
  };
  const ns = { type: 'NAMED_NS', name: 'ns1' };
  const viaA = route({ namespace: ns, dst_ip_addr: '10.1.0.0/16', gw_addr: '10.0.0.2' });
  assert.equal(
    route({ namespace: ns, dst_ip_addr: '10.1.0.0/16', gw_addr: '10.0.0.3' }),
    viaA,
    'another gateway: the same place',
  );
  assert.equal(
    route({ namespace: ns, dst_ip_addr: '10.1.0.0/16', gw_addr: '10.0.0.2', table: 254 }),
    viaA,
    'table 0 is main',
  );
  assert.notEqual(route({ namespace: ns, dst_ip_addr: '10.1.0.0/16', gw_addr: '10.0.0.2', metric: 5 }), viaA);
  assert.notEqual(
    route({ namespace: ns, dst_ip_addr: '10.1.0.0/16', gw_addr: '10.0.0.2', table: 100 }),
    viaA,
  );
  assert.notEqual(route({ dst_ip_addr: '10.1.0.0/16', gw_addr: '10.0.0.2' }), viaA, 'another namespace');
  assert.equal(
    route({ dst_ip_addr: 'fd00:1::/48', gw_addr: 'fd00::2' }),
    route({ dst_ip_addr: 'fd00:1::/48', gw_addr: 'fd00::3', metric: 1024 }),
    'IPv6: no metric is 1024',
  );
  const arp = (json: Record<string, unknown>) => {
    const item = parseItem('/vnf-agent/a/linux/config/v1/arp/e', { interface: 'v1', ...json });
    assert.equal(item.kind, 'arp');
    return neighbourClaim(item.value).id;
  };
  const entry = arp({ ip_addr: '10.0.0.9', hw_address: '02:00:00:00:00:09' });
  assert.equal(arp({ ip_addr: '10.0.0.9', hw_address: '02:00:00:00:00:10' }), entry);
  assert.notEqual(arp({ ip_addr: '10.0.0.9', hw_address: '02:00:00:00:00:09', interface: 'v2' }), entry);
});
