import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OnLinkTable, addressPrefixOf, routeNetworkOf } from '../../../src/descriptors/on-link-table.js';
import {
  AF_INET,
  AF_INET6,
  IFA_F_DADFAILED,
  IFA_F_NOPREFIXROUTE,
  RTN_UNICAST,
  ipToBytes,
  type Address,
  type Route,
} from '../../../src/netlink/index.js';

const address = (index: number, text: string, prefixLength: number, flags = 0): Address => ({
  family: text.includes(':') ? AF_INET6 : AF_INET,
  index,
  address: text,
  prefixLength,
  flags,
  scope: 0,
});

const route = (fields: Partial<Route> & { dstLength: number }): Route => ({
  family: AF_INET,
  srcLength: 0,
  table: 254,
  protocol: 4,
  scope: 253, // link: what a gateway-less route gets unless asked otherwise
  type: RTN_UNICAST,
  tos: 0,
  flags: 0,
  ...fields,
});

describe('OnLinkTable', () => {
  it("leaves out the kernel's own routes: an address gone takes its network with it, though no event of its route comes", () => {
    const kernelRoute = route({ dst: '10.0.2.0', dstLength: 24, oif: 7, protocol: 2 });
    const table = OnLinkTable.from([address(7, '10.0.2.1', 24)], [kernelRoute]);
    assert.equal(table.covers(7, '10.0.2.2'), true);
    assert.deepEqual(
      [...table.apply([{ topic: 'address', removed: true, address: address(7, '10.0.2.1', 24) }])],
      [7],
    );
    assert.equal(table.covers(7, '10.0.2.2'), false);
    // The kernel's IPv6 routes other than fe80::/64 are followed: a prefix a router advertised
    // (no address of it here) makes its network on-link.
    const advertised = route({ family: AF_INET6, dst: '2001:db8:5::', dstLength: 64, oif: 7, protocol: 2 });
    const v6 = OnLinkTable.from([], [advertised]);
    assert.equal(v6.covers(7, '2001:db8:5::1'), true);
    v6.apply([{ topic: 'route', removed: true, route: advertised }]);
    assert.equal(v6.covers(7, '2001:db8:5::1'), false);
    // Someone's route of that network (not the kernel's) still makes it on-link.
    const theirs = OnLinkTable.from([], [route({ dst: '10.0.2.0', dstLength: 24, oif: 7 })]);
    assert.equal(theirs.covers(7, '10.0.2.2'), true);
  });

  it("an address with a peer or noprefixroute reaches what the kernel's route of it reaches (checked with ip on a VETH)", () => {
    // 10.0.0.1 peer 10.9.9.0/24: the kernel's route is 10.9.9.0/24; a gateway in 10.0.0.0/24 is refused.
    const peer: Address = { ...address(7, '10.0.0.1', 24), peer: '10.9.9.0' };
    const table = OnLinkTable.from([peer], []);
    assert.equal(table.covers(7, '10.9.9.5'), true);
    assert.equal(table.covers(7, '10.0.0.5'), false);
    table.apply([{ topic: 'address', removed: true, address: peer }]);
    assert.equal(table.covers(7, '10.9.9.5'), false);
    // IPv6 2001:db8::1 peer 2001:db8:9::/64: routes 2001:db8::/64 and 2001:db8:9::/128.
    const peer6: Address = { ...address(7, '2001:db8::1', 64), peer: '2001:db8:9::' };
    const table6 = OnLinkTable.from([peer6], []);
    assert.equal(table6.covers(7, '2001:db8::5'), true);
    assert.equal(table6.covers(7, '2001:db8:9::'), true);
    assert.equal(table6.covers(7, '2001:db8:9::5'), false);
    // noprefixroute: no route of the network (an IPv6 peer's /128 still comes).
    const bare = OnLinkTable.from(
      [
        address(7, '10.1.1.1', 24, IFA_F_NOPREFIXROUTE),
        { ...address(8, '2001:db8::1', 64, IFA_F_NOPREFIXROUTE), peer: '2001:db8:9::' },
      ],
      [],
    );
    assert.equal(bare.covers(7, '10.1.1.5'), false);
    assert.equal(bare.covers(8, '2001:db8::5'), false);
    assert.equal(bare.covers(8, '2001:db8:9::'), true);
    // The flag set later on the same address (ip address change) takes its network away.
    const changed = OnLinkTable.from([address(7, '10.1.1.1', 24)], []);
    assert.deepEqual(
      [
        ...changed.apply([
          { topic: 'address', removed: false, address: address(7, '10.1.1.1', 24, IFA_F_NOPREFIXROUTE) },
        ]),
      ],
      [7],
    );
    assert.equal(changed.covers(7, '10.1.1.5'), false);
  });

  it('covers without some addresses: their own network and the routes of it go, another address of it stays', () => {
    const connected = route({ dst: '10.0.2.0', dstLength: 24, oif: 7 });
    const other = route({ dst: '10.0.3.0', dstLength: 24, oif: 7 });
    const table = OnLinkTable.from([address(7, '10.0.2.1', 24)], [connected, other]);
    const removed = [addressPrefixOf('10.0.2.1/24')!];
    assert.equal(table.covers(7, '10.0.2.2'), true);
    assert.equal(table.covers(7, '10.0.2.2', 0, removed), false);
    assert.equal(table.covers(7, '10.0.3.2', 0, removed), true, 'a route of another network stays');
    const twoAddresses = OnLinkTable.from(
      [address(7, '10.0.2.1', 24), address(7, '10.0.2.7', 24)],
      [connected],
    );
    assert.equal(
      twoAddresses.covers(7, '10.0.2.2', 0, removed),
      true,
      'the other address of that network stays',
    );
    assert.equal(addressPrefixOf('not an address'), undefined);
  });

  it('covers without some gateway-less routes: only that route (table, network, metric) goes', () => {
    const lan = route({ dst: '10.0.2.0', dstLength: 24, oif: 7 });
    const other = route({ dst: '10.0.2.0', dstLength: 24, oif: 7, metric: 9 });
    const table = OnLinkTable.from([address(7, '192.168.50.1', 24)], [lan]);
    const removed = [routeNetworkOf({ cidr: '10.0.2.0/24', table: 254, metric: 0 })!];
    assert.equal(table.covers(7, '10.0.2.2'), true);
    assert.equal(table.covers(7, '10.0.2.2', 0, [], removed), false);
    assert.equal(table.covers(7, '192.168.50.2', 0, [], removed), true, 'the address stays');
    assert.equal(
      table.interfaceCovering(ipToBytes('10.0.2.2'), () => true, 0, [], removed),
      undefined,
    );
    const inTable100 = [routeNetworkOf({ cidr: '10.0.2.0/24', table: 100, metric: 0 })!];
    assert.equal(table.covers(7, '10.0.2.2', 0, [], inTable100), true, "another table's");
    const two = OnLinkTable.from([], [lan, other]);
    assert.equal(two.covers(7, '10.0.2.2', 0, [], removed), true, 'another metric of that network stays');
    assert.equal(routeNetworkOf({ cidr: 'nonsense', table: 254, metric: 0 }), undefined);
  });

  it('an IPv4 gateway-less route of global scope makes nothing on-link (the kernel would refuse the gateway)', () => {
    const global = route({ dst: '192.168.50.0', dstLength: 24, oif: 7, scope: 0 });
    const table = OnLinkTable.from([], [global]);
    assert.equal(table.covers(7, '192.168.50.1'), false);
    const v6 = route({ family: AF_INET6, dst: 'fd00:50::', dstLength: 64, oif: 7, scope: 0 });
    assert.equal(OnLinkTable.from([], [v6]).covers(7, 'fd00:50::1'), true, 'IPv6 routes have no such scope');
  });

  it('covers a gateway inside an address prefix of the same interface only', () => {
    const table = OnLinkTable.from([address(3, '10.0.2.15', 24)], []);
    assert.equal(table.covers(3, '10.0.2.2'), true);
    assert.equal(table.covers(4, '10.0.2.2'), false);
    assert.equal(table.covers(3, '10.0.3.2'), false);
    assert.equal(table.covers(3, 'fe80::1'), false);
  });

  it('follows address and route events, applied twice or not', () => {
    const table = OnLinkTable.from([], []);
    const linkRoute = route({ dst: '192.168.5.0', dstLength: 24, oif: 7 });
    assert.deepEqual(
      [...table.apply([{ topic: 'route', removed: false, route: linkRoute }])],
      [linkRoute.oif],
    );
    assert.equal(table.apply([{ topic: 'route', removed: false, route: linkRoute }]).size, 0);
    assert.equal(table.covers(7, '192.168.5.1'), true);
    assert.deepEqual(
      [...table.apply([{ topic: 'route', removed: true, route: linkRoute }])],
      [linkRoute.oif],
    );
    assert.equal(table.covers(7, '192.168.5.1'), false);

    table.apply([{ topic: 'address', removed: false, address: address(2, '2001:db8::1', 64) }]);
    assert.equal(table.covers(2, '2001:db8::ff'), true);
    table.apply([{ topic: 'address', removed: true, address: address(2, '2001:db8::1', 64) }]);
    assert.equal(table.covers(2, '2001:db8::ff'), false);
  });

  it('ignores gateway routes and addresses that failed duplicate detection', () => {
    const table = OnLinkTable.from(
      [address(2, '2001:db8::1', 64, IFA_F_DADFAILED)],
      [route({ dst: '10.9.0.0', dstLength: 16, oif: 2, gateway: '10.0.0.1' })],
    );
    assert.equal(table.covers(2, '2001:db8::2'), false);
    assert.equal(table.covers(2, '10.9.1.1'), false);
  });

  it('moves a replaced route to its new interface', () => {
    const table = OnLinkTable.from([], [route({ dst: '10.1.0.0', dstLength: 16, oif: 2 })]);
    const changed = table.apply([
      { topic: 'route', removed: false, route: route({ dst: '10.1.0.0', dstLength: 16, oif: 5 }) },
    ]);
    // Both interfaces' answers may change: the one the route left and the one it reached.
    assert.deepEqual([...changed].sort(), [2, 5]);
    assert.equal(table.covers(2, '10.1.2.3'), false);
    assert.equal(table.covers(5, '10.1.2.3'), true);
  });

  it('treats a default link route as covering every gateway of its family', () => {
    const table = OnLinkTable.from([], [route({ dstLength: 0, oif: 9 })]);
    assert.equal(table.covers(9, '203.0.113.7'), true);
    assert.equal(table.covers(9, '2001:db8::7'), false);
  });
});
