/**
 * Route operations of NetlinkHandle against `ip -json route show table all`, IPv4 and IPv6 (root).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AF_INET,
  AF_INET6,
  RTN_BLACKHOLE,
  RT_SCOPE_LINK,
  NetlinkError,
  type Route,
} from '../../../src/netlink/index.js';
import { eventually, ipJson, skipUnlessRoot } from '../../helpers/kernel.js';
import { PROTOCOLS, SCOPES, ipNames, nameOf, vethInside, withNetlink } from './fixtures.js';

interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
}

const TYPES: Record<string, number> = {
  unicast: 1,
  local: 2,
  broadcast: 3,
  anycast: 4,
  multicast: 5,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
};

type Comparable = Record<string, string | number | null>;

function fromIp(r: IpRoute, family: number): Comparable {
  const full = family === AF_INET ? 32 : 128;
  return {
    type: r.type ?? 'unicast',
    dst: r.dst === 'default' ? 'default' : r.dst.includes('/') ? r.dst : `${r.dst}/${full}`,
    gateway: r.gateway ?? null,
    dev: r.dev ?? null,
    table: r.table ?? 'main',
    protocol: r.protocol ?? 'boot',
    scope: r.scope ?? 'global',
    prefsrc: r.prefsrc ?? null,
    metric: r.metric ?? 0,
  };
}

function fromOurs(r: Route, names: Map<number, string>): Comparable {
  return {
    type: nameOf(TYPES, r.type),
    dst: r.dstLength === 0 ? 'default' : `${r.dst}/${r.dstLength}`,
    gateway: r.gateway ?? null,
    dev: r.oif === undefined ? null : (names.get(r.oif) ?? String(r.oif)),
    table: r.table === 254 ? 'main' : r.table === 255 ? 'local' : String(r.table),
    protocol: nameOf(PROTOCOLS, r.protocol),
    scope: nameOf(SCOPES, r.scope).replace('universe', 'global'),
    prefsrc: r.source ?? null,
    metric: r.metric ?? 0,
  };
}

const key = (r: Comparable): string => JSON.stringify(r);

/** Every route of the namespace, both families, all tables: ours and ip's must be the same set. */
/** Retried until the two dumps agree: IPv6 brings up routes of its own asynchronously. */
function compareAll(ns: string, handle: { routeList: () => Promise<Route[]> }): Promise<Comparable[]> {
  return eventually(() => compareOnce(ns, handle));
}

async function compareOnce(ns: string, handle: { routeList: () => Promise<Route[]> }): Promise<Comparable[]> {
  const names = ipNames(ns);
  const ours = (await handle.routeList())
    .map((r) => fromOurs(r, names))
    .map(key)
    .sort();
  const theirs = [
    ...ipJson<IpRoute[]>(ns, ['-4', 'route', 'show', 'table', 'all']).map((r) => fromIp(r, AF_INET)),
    ...ipJson<IpRoute[]>(ns, ['-6', 'route', 'show', 'table', 'all']).map((r) => fromIp(r, AF_INET6)),
  ]
    .map(key)
    .sort();
  assert.deepEqual(ours, theirs);
  return ours.map((k) => JSON.parse(k) as Comparable);
}

describe('routes', { skip: skipUnlessRoot() }, () => {
  test('routeAdd: gateway, metric, table > 255, scope link with prefsrc, output interface, defaults, v4 and v6', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { va } = vethInside(a!.name, { v4: '10.1.0.1/24', v6: '2001:db8:1::1/64' });
      await h!.routeAdd({ dst: '10.5.0.0', dstLength: 16, gateway: '10.1.0.2', oif: va, metric: 7 });
      await h!.routeAdd({ dst: '10.6.0.0', dstLength: 16, gateway: '10.1.0.2', table: 1000 });
      await h!.routeAdd({
        dst: '10.7.0.0',
        dstLength: 16,
        oif: va,
        scope: RT_SCOPE_LINK,
        source: '10.1.0.1',
        table: 100,
      });
      await h!.routeAdd({ dst: '10.8.0.9', dstLength: 32, oif: va, scope: RT_SCOPE_LINK });
      await h!.routeAdd({ dstLength: 0, family: AF_INET, gateway: '10.1.0.254', metric: 100 });
      await h!.routeAdd({ dstLength: 0, family: AF_INET, gateway: '10.1.0.253', table: 70000 });
      await h!.routeAdd({
        dst: '2001:db8:9::',
        dstLength: 48,
        gateway: '2001:db8:1::2',
        oif: va,
        metric: 1024,
      });
      await h!.routeAdd({ dstLength: 0, family: AF_INET6, gateway: '2001:db8:1::fe', oif: va, table: 1000 });
      await h!.routeAdd({ dst: '10.66.0.0', dstLength: 16, type: RTN_BLACKHOLE });
      const all = await compareAll(a!.name, h!);
      const has = (fields: Comparable): boolean =>
        all.some((r) => Object.entries(fields).every(([k, v]) => r[k] === v));
      assert.ok(
        has({
          dst: '10.5.0.0/16',
          gateway: '10.1.0.2',
          dev: 'va',
          metric: 7,
          table: 'main',
          protocol: 'static',
        }),
      );
      assert.ok(has({ dst: '10.6.0.0/16', table: '1000', dev: 'va' }));
      assert.ok(has({ dst: '10.7.0.0/16', scope: 'link', prefsrc: '10.1.0.1', table: '100' }));
      assert.ok(has({ dst: '10.8.0.9/32', scope: 'link' }));
      assert.ok(has({ dst: 'default', gateway: '10.1.0.254', metric: 100 }));
      assert.ok(has({ dst: 'default', gateway: '10.1.0.253', table: '70000' }));
      assert.ok(has({ dst: '2001:db8:9::/48', gateway: '2001:db8:1::2', metric: 1024 }));
      assert.ok(has({ dst: 'default', gateway: '2001:db8:1::fe', table: '1000' }));
      assert.ok(has({ dst: '10.66.0.0/16', type: 'blackhole' }));
    }));

  test('routeList filters by family and table (also > 255)', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      vethInside(a!.name, { v4: '10.1.0.1/24', v6: '2001:db8:1::1/64' });
      await h!.routeAdd({ dst: '10.6.0.0', dstLength: 16, gateway: '10.1.0.2', table: 1000 });
      await h!.routeAdd({ dst: '2001:db8:6::', dstLength: 48, gateway: '2001:db8:1::2', table: 1000 });
      await h!.routeAdd({ dst: '10.9.0.0', dstLength: 16, gateway: '10.1.0.2', table: 100000 });
      const t1000 = await h!.routeList({ table: 1000 });
      assert.deepEqual(t1000.map((r) => r.dst).sort(), ['10.6.0.0', '2001:db8:6::']);
      const v4 = await h!.routeList({ family: AF_INET, table: 1000 });
      assert.deepEqual(
        v4.map((r) => r.dst),
        ['10.6.0.0'],
      );
      const big = await h!.routeList({ table: 100000 });
      assert.deepEqual(
        big.map((r) => [r.dst, r.table]),
        [['10.9.0.0', 100000]],
      );
      const v6 = await h!.routeList({ family: AF_INET6 });
      assert.ok(v6.length > 0 && v6.every((r) => r.family === AF_INET6));
    }));

  test("routeList by protocol: only the routes of that protocol, none of the kernel's, v4 and v6", () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      vethInside(a!.name, { v4: '10.1.0.1/24', v6: '2001:db8:1::1/64' });
      await h!.routeAdd({ dst: '10.6.0.0', dstLength: 16, gateway: '10.1.0.2', protocol: 144 });
      await h!.routeAdd({ dst: '2001:db8:6::', dstLength: 48, gateway: '2001:db8:1::2', protocol: 144 });
      await h!.routeAdd({ dst: '10.7.0.0', dstLength: 16, gateway: '10.1.0.2', table: 1000, protocol: 144 });
      await h!.routeAdd({ dst: '10.8.0.0', dstLength: 16, gateway: '10.1.0.2', protocol: PROTOCOLS.static });
      const ours = await h!.routeList({ protocol: 144 });
      assert.deepEqual(ours.map((r) => `${r.dst}/${r.dstLength} t${r.table}`).sort(), [
        '10.6.0.0/16 t254',
        '10.7.0.0/16 t1000',
        '2001:db8:6::/48 t254',
      ]);
      const all = await h!.routeList();
      assert.ok(all.length > ours.length + 1, 'the kernel holds routes of its own and the static one');
      assert.deepEqual(
        (await h!.routeList({ protocol: PROTOCOLS.static })).map((r) => r.dst),
        ['10.8.0.0'],
      );
      await h!.routeAdd({ dst: '10.66.0.0', dstLength: 16, type: RTN_BLACKHOLE });
      const unicast = await h!.routeList({ routeType: 1 });
      assert.ok(unicast.some((r) => r.dst === '10.6.0.0'));
      assert.ok(
        unicast.every((r) => r.type === 1),
        'no local, broadcast, multicast or blackhole route',
      );
      assert.ok(
        all.some((r) => r.type !== 1),
        'the kernel holds routes of other types',
      );
    }));

  test('routeReplace creates or changes a route in place; routeAdd of an existing one is EEXIST', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { va } = vethInside(a!.name, { v4: '10.1.0.1/24', v6: '2001:db8:1::1/64' });
      await h!.routeReplace({ dst: '10.5.0.0', dstLength: 16, gateway: '10.1.0.2', table: 1000 });
      await h!.routeReplace({ dst: '10.5.0.0', dstLength: 16, gateway: '10.1.0.3', oif: va, table: 1000 });
      await h!.routeReplace({ dst: '2001:db8:5::', dstLength: 48, gateway: '2001:db8:1::2', oif: va });
      await h!.routeReplace({ dst: '2001:db8:5::', dstLength: 48, gateway: '2001:db8:1::3', oif: va });
      const all = await compareAll(a!.name, h!);
      assert.deepEqual(
        all.filter((r) => r.dst === '10.5.0.0/16').map((r) => r.gateway),
        ['10.1.0.3'],
      );
      assert.deepEqual(
        all.filter((r) => r.dst === '2001:db8:5::/48').map((r) => r.gateway),
        ['2001:db8:1::3'],
      );
      await assert.rejects(
        h!.routeAdd({ dst: '10.5.0.0', dstLength: 16, gateway: '10.1.0.3', table: 1000 }),
        (e: unknown) => {
          assert.ok(e instanceof NetlinkError);
          assert.equal(e.errnoName, 'EEXIST');
          return true;
        },
      );
    }));

  test('routeDel removes exactly the route named (dst, table, metric), v4 and v6', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { va } = vethInside(a!.name, { v4: '10.1.0.1/24', v6: '2001:db8:1::1/64' });
      await h!.routeAdd({ dst: '10.5.0.0', dstLength: 16, gateway: '10.1.0.2', metric: 10 });
      await h!.routeAdd({ dst: '10.5.0.0', dstLength: 16, gateway: '10.1.0.3', metric: 20 });
      await h!.routeAdd({ dst: '10.5.0.0', dstLength: 16, gateway: '10.1.0.4', table: 1000 });
      await h!.routeAdd({ dstLength: 0, family: AF_INET6, gateway: '2001:db8:1::fe', oif: va });
      await h!.routeDel({ dst: '10.5.0.0', dstLength: 16, metric: 20 });
      await h!.routeDel({ dstLength: 0, family: AF_INET6, oif: va });
      const all = await compareAll(a!.name, h!);
      assert.deepEqual(
        all
          .filter((r) => r.dst === '10.5.0.0/16')
          .map((r) => [r.gateway, r.metric, r.table])
          .sort(),
        [
          ['10.1.0.2', 10, 'main'],
          ['10.1.0.4', 0, '1000'],
        ],
      );
      assert.ok(!all.some((r) => r.dst === 'default'));
      await assert.rejects(h!.routeDel({ dst: '10.5.0.0', dstLength: 16, metric: 20 }), (e: unknown) => {
        assert.ok(e instanceof NetlinkError);
        assert.equal(e.errnoName, 'ESRCH');
        return true;
      });
    }));

  test('a gateway that is not reachable on-link: the kernel extended-ack message', () =>
    withNetlink(1, async ({ namespaces: [a], handles: [h] }) => {
      const { va } = vethInside(a!.name, { v4: '10.1.0.1/24' });
      await assert.rejects(
        h!.routeAdd({ dst: '10.5.0.0', dstLength: 16, gateway: '10.99.0.1', oif: va }),
        (e: unknown) => {
          assert.ok(e instanceof NetlinkError);
          assert.equal(e.kernelMessage, 'Nexthop has invalid gateway');
          assert.ok(['ENETUNREACH', 'EINVAL'].includes(e.errnoName), e.errnoName);
          assert.match(e.message, /route add 10\.5\.0\.0\/16 via 10\.99\.0\.1/);
          assert.match(e.message, /Nexthop has invalid gateway/);
          assert.equal(e.retriable, false);
          return true;
        },
      );
    }));
});
