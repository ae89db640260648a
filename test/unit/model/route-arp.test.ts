import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  arpKey,
  parseItem,
  routeKey,
  serializeItem,
  type LinuxArpEntry,
  type LinuxRoute,
} from '../../../src/model/index.js';

function parseRoute(json: unknown): LinuxRoute {
  const item = parseItem(routeKey('vpp1', 'r1'), json);
  assert.equal(item.kind, 'route');
  assert.deepEqual(parseItem(item.key, JSON.parse(serializeItem(item))), item);
  return item.value;
}

function parseArp(json: unknown): LinuxArpEntry {
  const item = parseItem(arpKey('vpp1', 'a1'), json);
  assert.equal(item.kind, 'arp');
  assert.deepEqual(parseItem(item.key, JSON.parse(serializeItem(item))), item);
  return item.value;
}

describe('routes', () => {
  test('a link route (vpp-agent example, proto spelling)', () => {
    assert.deepEqual(
      parseRoute({
        name: 'r1',
        dst_ip_addr: '10.0.2.0/24',
        interface: 'veth1',
        metric: 100,
        namespace: { name: 'ns1', type: 2 },
      }),
      {
        name: 'r1',
        description: '',
        namespace: { kind: 'named', name: 'ns1' },
        interface: 'veth1',
        isDefault: false,
        family: 4,
        dst: '10.0.2.0/24',
        metric: 100,
        table: 0,
      },
    );
  });

  test('a default route via a gateway', () => {
    const route = parseRoute({ default: true, gwAddr: '10.0.2.2', interface: 'veth1', metric: '100' });
    assert.equal(route.isDefault, true);
    assert.equal(route.dst, '0.0.0.0/0');
    assert.equal(route.gateway, '10.0.2.2');
  });

  test('an IPv6 default route takes its family from the gateway', () => {
    const route = parseRoute({ default: true, gw_addr: '2001:DB8::1' });
    assert.equal(route.dst, '::/0');
    assert.equal(route.gateway, '2001:db8::1');
    assert.equal(route.family, 6);
  });

  test('a /0 destination is a default route', () => {
    assert.equal(parseRoute({ dst_ip_addr: '::/0', interface: 'v' }).isDefault, true);
  });

  test('a bare destination is a host route; source may carry a prefix', () => {
    const route = parseRoute({ dst_ip_addr: '10.1.1.1', src_ip_addr: '10.0.0.1/24', interface: 'v' });
    assert.equal(route.dst, '10.1.1.1/32');
    assert.equal(route.source, '10.0.0.1');
  });

  test('scope, table and metric', () => {
    const route = parseRoute({
      dst_ip_addr: '10.3.0.0/16',
      interface: 'v',
      scope: { type: 'LINK' },
      table: 100,
      metric: 4294967295,
    });
    assert.equal(route.scope, 'LINK');
    assert.equal(route.table, 100);
    assert.equal(route.metric, 4294967295);
    assert.equal(parseRoute({ dst_ip_addr: '10.3.0.0/16', interface: 'v', scope: {} }).scope, 'GLOBAL');
    assert.equal(parseRoute({ dst_ip_addr: '10.3.0.0/16', interface: 'v' }).scope, undefined);
  });
});

describe('ARP entries', () => {
  test('defaults: PERMANENT, family from the address', () => {
    assert.deepEqual(
      parseArp({ interface: 'veth1', ip_addr: '192.168.22.2', hw_address: '92:C7:42:67:AB:CD' }),
      {
        name: 'a1',
        namespace: { kind: 'default' },
        interface: 'veth1',
        family: 4,
        ipAddress: '192.168.22.2',
        hwAddress: '92:c7:42:67:ab:cd',
        state: 'PERMANENT',
      },
    );
  });

  test('IPv6, camelCase, state by number, explicit family', () => {
    const entry = parseArp({
      interface: 'veth1',
      ipAddr: '2001:db8:0::2',
      hwAddress: '92:c7:42:67:ab:cd',
      ipFamily: { family: 'IPV6' },
      state: { type: 3 },
      namespace: { type: 'MICROSERVICE_REF_NS', microservice: 'ms-a' },
    });
    assert.equal(entry.family, 6);
    assert.equal(entry.ipAddress, '2001:db8::2');
    assert.equal(entry.state, 'STALE');
  });

  test('a neighbour MAC may be a group address (the kernel allows it)', () => {
    assert.equal(
      parseArp({ interface: 'v', ip_addr: '10.0.0.9', hw_address: '59:6C:45:59:8E:BD' }).hwAddress,
      '59:6c:45:59:8e:bd',
    );
  });
});
