/**
 * Routes and static ARP/NDP entries through engine + Linux descriptors on a real kernel, checked with
 * `ip -json`: routes put before their interface and their gateway's route converge in any order
 * (all 24); a route with a gateway and no interface waits for the gateway to be reachable;
 * a route steps back when its gateway stops being reachable; ARP entries of every state, v4 and v6,
 * wait for their interface to be up; enabled=false sends routes and ARP entries to pending.
 */
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, ip, ipTry, skipUnlessRoot } from '../../helpers/kernel.js';
import { MemoryUsedNamespaces } from '../../../src/descriptors/used-namespaces.js';
import {
  addresses,
  arpEntry,
  hex,
  isUp,
  link,
  linkOrFail,
  named,
  neighbours,
  pause,
  routes,
  veth,
  writes,
  withAgent,
  TestAgent,
  type IpNeighJson,
  type IpRouteJson,
} from './harness.js';
import type { ItemKind } from '../../../src/model/index.js';
import { NetlinkError } from '../../../src/netlink/index.js';
import { creatingGroup } from '../../../src/descriptors/ownership.js';

type Item = [ItemKind, string, unknown];

function findRoute(list: IpRouteJson[], dst: string, dev: string): IpRouteJson | undefined {
  return list.find((r) => r.dst === dst && r.dev === dev);
}

/** Two VETH ends: `a` in ns1 (no address in 10.0.2.0/24) and `b` in ns2. */
function pair(ns1: string, ns2: string, extraA: Record<string, unknown> = {}): Item[] {
  return [
    ['interface', 'a', veth('a', 'b', ns1, { host_if_name: 'ra', ip_addresses: ['10.0.9.1/24'], ...extraA })],
    ['interface', 'b', veth('b', 'a', ns2, { host_if_name: 'rb', ip_addresses: ['10.0.2.2/24'] })],
  ];
}

function gatewayRoutes(ns1: string): Item[] {
  return [
    [
      'route',
      'def',
      { name: 'def', namespace: named(ns1), default: true, interface: 'a', gw_addr: '10.0.2.2', metric: 50 },
    ],
    ['route', 'lan', { name: 'lan', namespace: named(ns1), interface: 'a', dst_ip_addr: '10.0.2.0/24' }],
  ];
}

async function putOneByOne(agent: TestAgent, items: Item[]): Promise<void> {
  for (const item of items) await agent.put(item);
}

function assertGatewayRoutes(ns1: string): void {
  const list = routes(ns1);
  const def = findRoute(list, 'default', 'ra');
  assert.ok(def, `default route in ${JSON.stringify(list)}`);
  assert.equal(def.gateway, '10.0.2.2');
  assert.equal(def.metric, 50);
  const lan = findRoute(list, '10.0.2.0/24', 'ra');
  assert.ok(lan, `10.0.2.0/24 route in ${JSON.stringify(list)}`);
  assert.equal(lan.scope, 'link');
  assert.equal(lan.gateway, undefined);
}

/**
 * What `ip monitor` reports deleted in a namespace while `run` runs (and 300 ms after it), with all
 * it reported.
 */
async function deletionsDuring(
  ns: string,
  topics: string[],
  run: () => Promise<void>,
): Promise<{ deleted: string[]; seen: string }> {
  const monitor = spawn('ip', ['-n', ns, 'monitor', ...topics]);
  let seen = '';
  monitor.stdout.setEncoding('utf8').on('data', (d: string) => (seen += d));
  try {
    await pause(200);
    await run();
    await pause(300);
  } finally {
    monitor.kill();
  }
  return { deleted: seen.split('\n').filter((l) => l.startsWith('Deleted')), seen };
}

describe('routes', { skip: skipUnlessRoot() }, () => {
  /** Every order of the four items (24). */
  function permutations<T>(list: T[]): T[][] {
    if (list.length <= 1) return [list];
    return list.flatMap((first, i) =>
      permutations([...list.slice(0, i), ...list.slice(i + 1)]).map((rest) => [first, ...rest]),
    );
  }
  test('a default route via 10.0.2.2 and the 10.0.2.0/24 link route through the same interface converge in any order', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      for (const items of permutations([...pair(ns1!, ns2!), ...gatewayRoutes(ns1!)])) {
        const what = items.map(([, name]) => name).join(', ');
        await putOneByOne(agent, items);
        await agent
          .waitConfigured(['interface', 'a'], ['interface', 'b'], ['route', 'def'], ['route', 'lan'])
          .catch((error: unknown) => {
            throw new Error(`${what}: ${String(error)}`);
          });
        assertGatewayRoutes(ns1!);
        await agent.del(['route', 'def'], ['route', 'lan'], ['interface', 'a'], ['interface', 'b']);
        await eventually(() => {
          assert.equal(routes(ns1!).filter((r) => r.dev === 'ra').length, 0, `${what}: routes gone`);
          assert.equal(findRoute(routes(ns1!), 'default', 'ra'), undefined);
        });
      }
    }));

  test('routes wait with a reason, and step back when their gateway stops being reachable', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const [def, lan] = gatewayRoutes(ns1!);
      await agent.put(def!);
      await agent.waitFor('route', 'def', 'pending', /waiting for interface a to exist/);
      await agent.put(...pair(ns1!, ns2!));
      await agent.waitFor(
        'route',
        'def',
        'pending',
        /waiting for gateway 10\.0\.2\.2 to be reachable through a/,
      );
      await agent.put(lan!);
      await agent.waitConfigured(['route', 'def'], ['route', 'lan']);
      assertGatewayRoutes(ns1!);

      await agent.del(['route', 'lan']);
      await agent.waitFor('route', 'def', 'pending', /gateway 10\.0\.2\.2/);
      await eventually(() =>
        assert.equal(findRoute(routes(ns1!), 'default', 'ra'), undefined, 'default route removed'),
      );

      // An address in the gateway's network makes it reachable as well.
      await agent.put([
        'interface',
        'a',
        veth('a', 'b', ns1!, { host_if_name: 'ra', ip_addresses: ['10.0.9.1/24', '10.0.2.1/24'] }),
      ]);
      await agent.waitConfigured(['route', 'def']);
      assert.ok(findRoute(routes(ns1!), 'default', 'ra'));
    }));

  test('an interface item deleted: the routes and ARP entry naming it wait, with no failed request', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      // Named by config name, which is also the host name: with the item gone, the name means the
      // host link, still there when the deletion is planned.
      await agent.put(
        ['interface', 'wa1', veth('wa1', 'wb1', ns1!, { ip_addresses: ['10.0.7.1/24'] })],
        ['interface', 'wb1', veth('wb1', 'wa1', ns2!, { ip_addresses: ['10.0.7.2/24'] })],
        [
          'route',
          'via',
          { namespace: named(ns1!), interface: 'wa1', dst_ip_addr: '10.8.0.0/16', gw_addr: '10.0.7.2' },
        ],
        [
          'route',
          'link',
          { namespace: named(ns1!), interface: 'wa1', dst_ip_addr: '10.9.0.0/16', scope: { type: 'LINK' } },
        ],
        ['arp', 'n', arpEntry('n', ns1!, 'wa1', '10.0.7.9', '02:00:00:00:07:09')],
      );
      await agent.waitConfigured(['route', 'via'], ['route', 'link'], ['arp', 'n']);
      const record = await agent.del(['interface', 'wa1']);
      assert.equal(
        record.counts.failed,
        0,
        JSON.stringify(record.operations.filter((o) => o.outcome === 'failed')),
      );
      assert.equal(
        record.counts.create,
        0,
        JSON.stringify(record.operations.filter((o) => o.kind === 'create')),
      );
      await agent.waitFor('route', 'via', 'pending', /wa1/);
      await agent.waitFor('route', 'link', 'pending', /wa1/);
      await agent.waitFor('arp', 'n', 'pending', /wa1/);
      assert.equal(link(ns1!, 'wa1'), undefined);
    }));

  for (const change of ['its VETH peer deleted', 'moved to another namespace'] as const)
    test(`an interface ${change}: the routes and ARP entry naming it where it was wait, with no failed request`, () =>
      withAgent(3, async (agent, [ns1, ns2, ns3]) => {
        const wa1 = veth('wa1', 'wb1', ns1!, { ip_addresses: ['10.0.7.1/24'] });
        await agent.put(
          ['interface', 'wa1', wa1],
          ['interface', 'wb1', veth('wb1', 'wa1', ns2!, { ip_addresses: ['10.0.7.2/24'] })],
          [
            'route',
            'via',
            { namespace: named(ns1!), interface: 'wa1', dst_ip_addr: '10.8.0.0/16', gw_addr: '10.0.7.2' },
          ],
          ['arp', 'n', arpEntry('n', ns1!, 'wa1', '10.0.7.9', '02:00:00:00:07:09')],
        );
        await agent.waitConfigured(['route', 'via'], ['arp', 'n']);
        const record =
          change === 'its VETH peer deleted'
            ? await agent.del(['interface', 'wb1'])
            : await agent.put(['interface', 'wa1', { ...wa1, namespace: named(ns3!) }]);
        assert.equal(
          record.counts.failed,
          0,
          JSON.stringify(record.operations.filter((o) => o.outcome === 'failed')),
        );
        assert.deepEqual(
          record.operations.filter((o) => o.kind === 'create' && /route|arp/.test(o.key)),
          [],
          'not made again where the link is no more',
        );
        await agent.waitFor('route', 'via', 'pending', /wa1/);
        await agent.waitFor('arp', 'n', 'pending', /wa1/);
        assert.equal(link(ns1!, 'wa1'), undefined);
        await pause(300);
        assert.ok(
          agent.engine.transactions().every((t) => t.counts.failed === 0),
          JSON.stringify(agent.engine.transactions().flatMap((t) => t.errors)),
        );
      }));

  test('a route with a gateway and no interface waits for the gateway to be reachable through an interface that is up', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const route: Item = [
        'route',
        'via',
        { name: 'via', namespace: named(ns1!), dst_ip_addr: '10.77.0.0/16', gw_addr: '10.0.2.2' },
      ];
      await agent.put(route);
      await agent.waitFor('route', 'via', 'pending', /waiting for gateway 10\.0\.2\.2 to be reachable in/);
      // 10.0.2.2 is not in a's network yet: still waiting.
      await agent.put(...pair(ns1!, ns2!));
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
      await agent.waitFor('route', 'via', 'pending', /gateway 10\.0\.2\.2/);
      const inGatewayNetwork = (enabled: boolean): Item => [
        'interface',
        'a',
        veth('a', 'b', ns1!, { host_if_name: 'ra', ip_addresses: ['10.0.2.1/24'], enabled }),
      ];
      await agent.put(inGatewayNetwork(true));
      await agent.waitConfigured(['route', 'via']);
      const made = findRoute(routes(ns1!), '10.77.0.0/16', 'ra');
      assert.equal(made?.gateway, '10.0.2.2', JSON.stringify(routes(ns1!)));
      // Our own route, through the interface the kernel picked, is not taken for someone else's.
      await pause(1000);
      assert.ok(
        !agent.logs.some((l) => /route replaced outside the agent/.test(l.message ?? '')),
        JSON.stringify(agent.logs.filter((l) => /route/.test(l.message ?? ''))),
      );
      assert.equal(agent.status('route', 'via')?.state, 'configured');

      // Down and up again at once (the kernel flushes the route unannounced): made again.
      ip(ns1!, ['link', 'set', 'ra', 'down']);
      ip(ns1!, ['link', 'set', 'ra', 'up']);
      await eventually(() => assert.ok(findRoute(routes(ns1!), '10.77.0.0/16', 'ra'), 'made again'));

      // The interface down: the gateway is reachable no more, the route steps back; up: made again.
      await agent.put(inGatewayNetwork(false));
      await agent.waitFor('route', 'via', 'pending', /gateway 10\.0\.2\.2/);
      await agent.put(inGatewayNetwork(true));
      await agent.waitConfigured(['route', 'via']);
      assert.ok(findRoute(routes(ns1!), '10.77.0.0/16', 'ra'));
    }));

  // Found in CI: the agent set the link up again so fast that the down and the up reached the
  // engine together, the "link is up" fact looked unchanged, and the routes the kernel had flushed
  // with the link going down were never made again.
  test('a link set down and up again at once: the routes and ARP entry the kernel flushed are made again', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(...pair(ns1!, ns2!), ...gatewayRoutes(ns1!), [
        'arp',
        'gw',
        arpEntry('gw', ns1!, 'a', '10.0.2.9', '02:00:00:00:02:09'),
      ]);
      await agent.waitConfigured(['route', 'def'], ['route', 'lan'], ['arp', 'gw']);
      for (let round = 0; round < 3; round++) {
        ip(ns1!, ['link', 'set', 'ra', 'down']);
        ip(ns1!, ['link', 'set', 'ra', 'up']);
        await eventually(() => {
          assertGatewayRoutes(ns1!);
          assert.ok(
            neighbours(ns1!, 'ra').some((n) => n.dst === '10.0.2.9' && n.lladdr === '02:00:00:00:02:09'),
            `round ${round}: ARP entry back`,
          );
        }, 3000);
      }
    }));

  test('an IPv6 route via a link-local gateway needs only its link up, not a network there (none without a link-local address)', () =>
    withAgent(1, async (agent, [ns1]) => {
      ip(ns1!, ['link', 'add', 'hl0', 'type', 'veth', 'peer', 'name', 'hl1']);
      ip(ns1!, ['link', 'set', 'hl0', 'addrgenmode', 'none']);
      ip(ns1!, ['link', 'set', 'hl0', 'up']);
      await agent.put([
        'route',
        'll',
        { namespace: named(ns1!), interface: 'hl0', dst_ip_addr: '2001:db8:a2::/48', gw_addr: 'fe80::1' },
      ]);
      await agent.waitConfigured(['route', 'll']);
      const route = routes(ns1!, 6).find((r) => r.dst === '2001:db8:a2::/48');
      assert.equal(route?.gateway, 'fe80::1', JSON.stringify(routes(ns1!, 6)));
      assert.equal(route?.dev, 'hl0');
    }));

  test('a route and an ARP entry through a host interface the agent does not manage: wait for it to exist and be up, never touch it', () =>
    withAgent(1, async (agent, [ns1]) => {
      await agent.put(
        [
          'route',
          'hr',
          { name: 'hr', namespace: named(ns1!), interface: 'hx0', dst_ip_addr: '10.40.0.0/16' },
        ],
        ['arp', 'hn', arpEntry('hn', ns1!, 'hx0', '10.40.0.9', '02:00:00:00:40:09')],
      );
      await agent.waitFor('route', 'hr', 'pending', /waiting for interface hx0 to exist/);
      await agent.waitFor('arp', 'hn', 'pending', /waiting for interface hx0 to exist/);
      ip(ns1!, ['link', 'add', 'hx0', 'type', 'veth', 'peer', 'name', 'hx1']);
      await agent.waitFor('route', 'hr', 'pending', /waiting for interface hx0 to be up/);
      await agent.waitFor('arp', 'hn', 'pending', /waiting for interface hx0 to be up/);
      ip(ns1!, ['link', 'set', 'hx0', 'up']);
      await agent.waitConfigured(['route', 'hr'], ['arp', 'hn']);
      assert.ok(findRoute(routes(ns1!), '10.40.0.0/16', 'hx0'));
      assert.ok(
        neighbours(ns1!, 'hx0').some((n) => n.dst === '10.40.0.9' && n.lladdr === '02:00:00:00:40:09'),
      );

      ip(ns1!, ['link', 'set', 'hx0', 'down']);
      await agent.waitFor('route', 'hr', 'pending', /waiting for interface hx0 to be up/);
      await agent.waitFor('arp', 'hn', 'pending', /waiting for interface hx0 to be up/);
      ip(ns1!, ['link', 'set', 'hx0', 'up']);
      await agent.waitConfigured(['route', 'hr'], ['arp', 'hn']);
      assert.ok(findRoute(routes(ns1!), '10.40.0.0/16', 'hx0'));

      const before = linkOrFail(ns1!, 'hx0');
      await agent.del(['route', 'hr'], ['arp', 'hn']);
      await eventually(() => {
        assert.equal(findRoute(routes(ns1!), '10.40.0.0/16', 'hx0'), undefined);
        assert.equal(
          neighbours(ns1!, 'hx0').find((n) => n.dst === '10.40.0.9'),
          undefined,
        );
      });
      const after = linkOrFail(ns1!, 'hx0');
      assert.equal(after.ifindex, before.ifindex);
      assert.ok(isUp(after));
      assert.equal(after.ifalias, undefined);
    }));

  test("another label's route and ARP entry on a host interface (our protocol number, made after the start) stay through the re-reads that heal ours", () =>
    withAgent(1, async (agent, [ns1]) => {
      ip(ns1!, ['link', 'add', 'hz0', 'type', 'veth', 'peer', 'name', 'hz1']);
      ip(ns1!, ['link', 'set', 'hz0', 'up']);
      ip(ns1!, ['addr', 'add', '10.94.0.1/24', 'dev', 'hz0']);
      await agent.put(
        [
          'route',
          'mine',
          { name: 'mine', namespace: named(ns1!), interface: 'hz0', dst_ip_addr: '10.81.0.0/16' },
        ],
        ['arp', 'mn', arpEntry('mn', ns1!, 'hz0', '10.94.0.7', '02:00:00:00:94:07')],
      );
      await agent.waitConfigured(['route', 'mine'], ['arp', 'mn']);
      // As an agent of another label makes them: the same protocol number, on a link nobody marked.
      ip(ns1!, ['route', 'add', '10.82.0.0/16', 'dev', 'hz0', 'proto', '144']);
      ip(ns1!, [
        'neigh',
        'add',
        '10.94.0.8',
        'lladdr',
        '02:00:00:00:94:08',
        'dev',
        'hz0',
        'nud',
        'permanent',
        'protocol',
        '144',
      ]);
      // Ours removed by someone: the agent re-reads the namespace's routes and entries, and heals.
      ip(ns1!, ['route', 'del', '10.81.0.0/16', 'dev', 'hz0']);
      ip(ns1!, ['neigh', 'del', '10.94.0.7', 'dev', 'hz0']);
      await eventually(() => {
        assert.ok(findRoute(routes(ns1!), '10.81.0.0/16', 'hz0'), 'our route made again');
        assert.ok(
          neighbours(ns1!, 'hz0').some((n) => n.dst === '10.94.0.7'),
          'our entry made again',
        );
      }, 3000);
      await pause(500);
      assert.ok(findRoute(routes(ns1!), '10.82.0.0/16', 'hz0'), "the other label's route is still there");
      assert.ok(
        neighbours(ns1!, 'hz0').some((n) => n.dst === '10.94.0.8'),
        "the other label's entry is still there",
      );
      // Ours still go with their items.
      await agent.del(['route', 'mine'], ['arp', 'mn']);
      await eventually(() => {
        assert.equal(findRoute(routes(ns1!), '10.81.0.0/16', 'hz0'), undefined);
        assert.equal(
          neighbours(ns1!, 'hz0').find((n) => n.dst === '10.94.0.7'),
          undefined,
        );
      });
    }));

  test("a route and an ARP entry the kernel did not make for us (their place taken) leave their place: another label's made there later stay through the re-reads that heal ours", () =>
    withAgent(1, async (agent, [ns1]) => {
      ip(ns1!, ['link', 'add', 'gp0', 'type', 'veth', 'peer', 'name', 'gp1']);
      ip(ns1!, ['link', 'set', 'gp0', 'up']);
      ip(ns1!, ['addr', 'add', '10.95.0.1/24', 'dev', 'gp0']);
      await agent.put(
        [
          'route',
          'mine',
          { name: 'mine', namespace: named(ns1!), interface: 'gp0', dst_ip_addr: '10.83.0.0/16' },
        ],
        ['arp', 'mn', arpEntry('mn', ns1!, 'gp0', '10.95.0.7', '02:00:00:00:95:07')],
      );
      await agent.waitConfigured(['route', 'mine'], ['arp', 'mn']);
      // Someone's static route and entry hold the places: ours are refused, not made.
      ip(ns1!, ['route', 'add', '10.84.0.0/16', 'dev', 'gp0', 'proto', 'static']);
      ip(ns1!, [
        'neigh',
        'add',
        '10.95.0.8',
        'lladdr',
        '02:00:00:00:95:99',
        'dev',
        'gp0',
        'nud',
        'permanent',
      ]);
      await agent.put(
        [
          'route',
          'late',
          { name: 'late', namespace: named(ns1!), interface: 'gp0', dst_ip_addr: '10.84.0.0/16' },
        ],
        ['arp', 'ln', arpEntry('ln', ns1!, 'gp0', '10.95.0.8', '02:00:00:00:95:08')],
      );
      await agent.waitFor('route', 'late', 'failed', /not made by this agent: not replaced/);
      await agent.waitFor('arp', 'ln', 'failed');
      await agent.del(['route', 'late'], ['arp', 'ln']);
      // Those go; an agent of another label makes its own there (our protocol number, a link nobody marked).
      ip(ns1!, ['route', 'del', '10.84.0.0/16', 'dev', 'gp0']);
      ip(ns1!, ['neigh', 'del', '10.95.0.8', 'dev', 'gp0']);
      ip(ns1!, ['route', 'add', '10.84.0.0/16', 'dev', 'gp0', 'proto', '144']);
      ip(ns1!, [
        'neigh',
        'add',
        '10.95.0.8',
        'lladdr',
        '02:00:00:00:95:08',
        'dev',
        'gp0',
        'nud',
        'permanent',
        'protocol',
        '144',
      ]);
      // Ours removed by someone: the agent re-reads the namespace's routes and entries, and heals.
      ip(ns1!, ['route', 'del', '10.83.0.0/16', 'dev', 'gp0']);
      ip(ns1!, ['neigh', 'del', '10.95.0.7', 'dev', 'gp0']);
      await eventually(() => {
        assert.ok(findRoute(routes(ns1!), '10.83.0.0/16', 'gp0'), 'our route made again');
        assert.ok(
          neighbours(ns1!, 'gp0').some((n) => n.dst === '10.95.0.7'),
          'our entry made again',
        );
      }, 3000);
      await pause(500);
      assert.ok(findRoute(routes(ns1!), '10.84.0.0/16', 'gp0'), "the other label's route is still there");
      assert.ok(
        neighbours(ns1!, 'gp0').some((n) => n.dst === '10.95.0.8'),
        "the other label's entry is still there",
      );
    }));

  test("another label's IPv6 route at the place of one of ours (same network and metric, another host interface) stays through the re-reads that heal ours", () =>
    withAgent(1, async (agent, [ns1]) => {
      ip(ns1!, ['link', 'add', 'hw0', 'type', 'veth', 'peer', 'name', 'hw1']);
      ip(ns1!, ['link', 'set', 'hw0', 'up']);
      ip(ns1!, ['link', 'set', 'hw1', 'up']);
      const route6 = (name: string, dst: string): Item => [
        'route',
        name,
        { name, namespace: named(ns1!), interface: 'hw0', dst_ip_addr: dst },
      ];
      await agent.put(route6('mine6', '2001:db8:81::/64'), route6('heal6', '2001:db8:82::/64'));
      await agent.waitConfigured(['route', 'mine6'], ['route', 'heal6']);
      // IPv6 holds both at one place (network, table, metric), one per link, as `append` makes them.
      ip(ns1!, ['-6', 'route', 'append', '2001:db8:81::/64', 'dev', 'hw1', 'metric', '1024', 'proto', '144']);
      // Another route of ours removed by someone: the agent re-reads the namespace's routes, and heals.
      ip(ns1!, ['-6', 'route', 'del', '2001:db8:82::/64', 'dev', 'hw0']);
      await eventually(
        () => assert.ok(findRoute(routes(ns1!, 6), '2001:db8:82::/64', 'hw0'), 'made again'),
        3000,
      );
      await pause(500);
      assert.ok(findRoute(routes(ns1!, 6), '2001:db8:81::/64', 'hw0'), 'ours is there');
      assert.ok(
        findRoute(routes(ns1!, 6), '2001:db8:81::/64', 'hw1'),
        "the other label's route is still there",
      );
    }));

  test('the last IPv4 address of a host interface removed (the kernel drops its routes unannounced): the route is made again', () =>
    withAgent(1, async (agent, [ns1]) => {
      ip(ns1!, ['link', 'add', 'hy0', 'type', 'veth', 'peer', 'name', 'hy1']);
      ip(ns1!, ['link', 'set', 'hy0', 'up']);
      ip(ns1!, ['addr', 'add', '10.93.0.1/24', 'dev', 'hy0']);
      await agent.put([
        'route',
        'hr',
        { name: 'hr', namespace: named(ns1!), interface: 'hy0', dst_ip_addr: '10.80.0.0/16' },
      ]);
      await agent.waitConfigured(['route', 'hr']);
      ip(ns1!, ['addr', 'del', '10.93.0.1/24', 'dev', 'hy0']);
      await eventually(() => assert.ok(findRoute(routes(ns1!), '10.80.0.0/16', 'hy0'), 'made again'), 3000);
      assert.equal(agent.status('route', 'hr')?.state, 'configured');
    }));

  test('the last IPv4 address of one of our links removed: the address is put back, and the gateway-less route through it made again', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(...pair(ns1!, ns2!), [
        'route',
        'own',
        { name: 'own', namespace: named(ns1!), interface: 'a', dst_ip_addr: '10.85.0.0/16' },
      ]);
      await agent.waitConfigured(['interface', 'a'], ['route', 'own']);
      ip(ns1!, ['addr', 'del', '10.0.9.1/24', 'dev', 'ra']);
      await eventually(() => {
        assert.deepEqual(addresses(ns1!, 'ra'), ['10.0.9.1/24']);
        assert.ok(findRoute(routes(ns1!), '10.85.0.0/16', 'ra'), 'made again');
      }, 3000);
    }));

  test("the configuration drops a link's last IPv4 address: the gateway-less routes through it (main and another table), which the kernel drops unannounced, are made again", () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const [a, b] = pair(ns1!, ns2!, { ip_addresses: ['10.0.9.1/24', '2001:db8:9::1/64'] });
      const through = (name: string, dst: string, extra: Record<string, unknown> = {}): Item => [
        'route',
        name,
        { name, namespace: named(ns1!), interface: 'a', dst_ip_addr: dst, ...extra },
      ];
      await agent.put(
        a!,
        b!,
        through('own', '10.85.0.0/16'),
        through('host', '10.86.0.5/32', { scope: { type: 'HOST' } }),
        through('other', '10.87.0.0/16', { table: 200 }),
      );
      await agent.waitConfigured(['interface', 'a'], ['route', 'own'], ['route', 'host'], ['route', 'other']);
      await agent.put(pair(ns1!, ns2!, { ip_addresses: ['2001:db8:9::1/64'] })[0]!);
      await agent.waitConfigured(['interface', 'a']);
      await eventually(() => {
        assert.deepEqual(addresses(ns1!, 'ra'), ['2001:db8:9::1/64']);
        assert.ok(findRoute(routes(ns1!), '10.85.0.0/16', 'ra'), '10.85.0.0/16 made again');
        assert.ok(findRoute(routes(ns1!), '10.86.0.5', 'ra'), '10.86.0.5 made again');
        assert.ok(findRoute(routes(ns1!, 4, '200'), '10.87.0.0/16', 'ra'), 'table 200 route made again');
      }, 3000);
      for (const name of ['own', 'host', 'other'])
        assert.equal(agent.status('route', name)?.state, 'configured');
    }));

  test('the scope of our route changed by someone (`ip route change`): put back, and the route via a gateway it serves made again', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(
        ...pair(ns1!, ns2!),
        [
          'route',
          'lnk',
          { name: 'lnk', namespace: named(ns1!), interface: 'a', dst_ip_addr: '10.89.0.0/16' },
        ],
        [
          'route',
          'hst',
          {
            name: 'hst',
            namespace: named(ns1!),
            interface: 'a',
            dst_ip_addr: '10.90.0.5/32',
            scope: { type: 'HOST' },
          },
        ],
        [
          'route',
          'rec',
          {
            name: 'rec',
            namespace: named(ns1!),
            interface: 'a',
            dst_ip_addr: '10.95.0.0/16',
            gw_addr: '10.89.0.1',
          },
        ],
        [
          'route',
          'v6',
          { name: 'v6', namespace: named(ns1!), interface: 'a', dst_ip_addr: '2001:db8:95::/64' },
        ],
      );
      await agent.waitConfigured(['route', 'lnk'], ['route', 'hst'], ['route', 'rec'], ['route', 'v6']);
      const scopes = (): Record<string, string | undefined> => ({
        lnk: findRoute(routes(ns1!), '10.89.0.0/16', 'ra')?.scope,
        hst: findRoute(routes(ns1!), '10.90.0.5', 'ra')?.scope,
        rec: findRoute(routes(ns1!), '10.95.0.0/16', 'ra')?.gateway,
      });
      assert.deepEqual(scopes(), { lnk: 'link', hst: 'host', rec: '10.89.0.1' });
      // The kernel takes the gateway route away with its gateway's link route gone global.
      ip(ns1!, ['route', 'change', '10.89.0.0/16', 'dev', 'ra', 'scope', 'global', 'proto', '144']);
      ip(ns1!, ['route', 'change', '10.90.0.5/32', 'dev', 'ra', 'scope', 'link', 'proto', '144']);
      await eventually(
        () => assert.deepEqual(scopes(), { lnk: 'link', hst: 'host', rec: '10.89.0.1' }),
        3000,
      );
      for (const name of ['lnk', 'hst', 'rec', 'v6'])
        assert.equal(agent.status('route', name)?.state, 'configured');
      // A resync finds nothing to do (IPv6 routes read back as global whatever was asked).
      const resync = await agent.engine.resync();
      assert.equal(writes([resync]), 0, JSON.stringify(resync.operations));
    }));

  test('the IPv6 source address of our route removed (the kernel clears the source unannounced): address and source put back', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(
        ...pair(ns1!, ns2!, { ip_addresses: ['10.0.9.1/24', '2001:db8:9::1/64', '2001:db8:9::200/64'] }),
        [
          'route',
          'src6',
          {
            name: 'src6',
            namespace: named(ns1!),
            interface: 'a',
            dst_ip_addr: '2001:db8:60::/64',
            src_ip_addr: '2001:db8:9::200',
          },
        ],
      );
      await agent.waitConfigured(['interface', 'a'], ['route', 'src6']);
      const src = (): string | undefined =>
        routes(ns1!, 6).find((r) => r.dst === '2001:db8:60::/64' && r.dev === 'ra')?.prefsrc;
      assert.equal(src(), '2001:db8:9::200');
      ip(ns1!, ['addr', 'del', '2001:db8:9::200/64', 'dev', 'ra']);
      await eventually(() => {
        assert.ok(addresses(ns1!, 'ra').includes('2001:db8:9::200/64'), 'address put back');
        assert.equal(src(), '2001:db8:9::200', 'the route has its source again');
      }, 5000);
      assert.equal(agent.engine.status(agent.key('route', 'src6'))?.state, 'configured');
    }));

  test('a route through an interface named by its config name (host name another), put again alone: nothing sent, no moment without it', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const route = {
        name: 'gw',
        namespace: named(ns1!),
        interface: 'a',
        dst_ip_addr: '10.87.0.0/16',
        gw_addr: '10.0.9.5',
      };
      await agent.putPrepared(...pair(ns1!, ns2!), ['route', 'gw', route]);
      await agent.waitConfigured(['interface', 'a'], ['route', 'gw']);
      const { deleted } = await deletionsDuring(ns1!, ['route'], async () => {
        await agent.putPrepared(['route', 'gw', route]);
        await agent.putPrepared(['route', 'gw', { ...route, description: 'described' }]);
        await pause(200);
      });
      assert.deepEqual(deleted, []);
      assert.equal(agent.status('route', 'gw')?.state, 'configured');
    }));

  test('a source change the kernel refuses on one of our links: failed, and the route as it was stays, also through a resync', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const route = { name: 'src', namespace: named(ns1!), interface: 'a', dst_ip_addr: '10.86.0.0/16' };
      await agent.put(...pair(ns1!, ns2!), ['route', 'src', { ...route, src_ip_addr: '10.0.9.1' }]);
      await agent.waitConfigured(['interface', 'a'], ['route', 'src']);
      const refused = await agent.put(['route', 'src', { ...route, src_ip_addr: '10.250.250.250' }]);
      assert.equal(refused.counts.failed, 1);
      await agent.engine.resync();
      assert.deepEqual(
        routes(ns1!)
          .filter((r) => r.dst === '10.86.0.0/16')
          .map((r) => r.prefsrc),
        ['10.0.9.1'],
        'kept by the resync',
      );
      await agent.put(['route', 'src', route]);
      await agent.waitConfigured(['route', 'src']);
    }));

  test("routes the kernel refuses for one field's sake fail naming it: a source no interface has, a gateway that cannot be a next hop", () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const base = { namespace: named(ns1!), interface: 'a' };
      await agent.put(...pair(ns1!, ns2!), [
        'route',
        'nosrc',
        { name: 'nosrc', ...base, dst_ip_addr: '10.123.0.0/16', src_ip_addr: '10.0.9.77' },
      ]);
      await agent.waitFor(
        'route',
        'nosrc',
        'failed',
        /source address 10\.0\.9\.77 is not an address of an interface in /,
      );
      const refused = agent.status('route', 'nosrc')?.error;
      assert.equal(refused?.field, 'src_ip_addr');
      assert.equal(refused?.code, 'ERR_ROUTE_REFUSED');
      assert.match(refused?.message ?? '', /EINVAL \(Invalid prefsrc address\)/, 'the kernel says why, too');
      await agent.put([
        'route',
        'bcast',
        { name: 'bcast', ...base, dst_ip_addr: '10.124.0.0/16', gw_addr: '10.0.9.255' },
      ]);
      await agent.waitFor(
        'route',
        'bcast',
        'failed',
        /gateway 10\.0\.9\.255 cannot be the next hop through ra in /,
      );
      assert.equal(agent.status('route', 'bcast')?.error?.field, 'gw_addr');
      // The source address made: the route follows (retried as the kernel's error is).
      await agent.put(...pair(ns1!, ns2!, { ip_addresses: ['10.0.9.1/24', '10.0.9.77/24'] }));
      await agent.waitConfigured(['route', 'nosrc']);
    }));

  test("a route refused as the kernel's own route holds its place is made once the address that route comes with goes", () =>
    withAgent(1, async (agent, [ns1]) => {
      // A host interface with addresses: the kernel's routes of their networks (IPv6: metric 256).
      ip(ns1!, ['link', 'add', 'hk0', 'type', 'veth', 'peer', 'name', 'hk1']);
      ip(ns1!, ['link', 'set', 'hk0', 'up']);
      ip(ns1!, ['addr', 'add', '10.77.0.1/24', 'dev', 'hk0']);
      ip(ns1!, ['addr', 'add', '2001:db8:8::1/64', 'dev', 'hk0', 'nodad']);
      const base = { namespace: named(ns1!), interface: 'hk0' };
      await agent.put(
        ['route', 'net4', { name: 'net4', ...base, dst_ip_addr: '10.77.0.0/24' }],
        ['route', 'net6', { name: 'net6', ...base, dst_ip_addr: '2001:db8:8::/64', metric: 256 }],
      );
      for (const name of ['net4', 'net6'])
        await agent.waitFor('route', name, 'failed', /kernel's own route, not made by this agent/);
      // The addresses go, and the kernel's routes with them: the agent's event socket does not take
      // the IPv4 route's removal (the kernel drops it there), only the address's.
      ip(ns1!, ['addr', 'del', '10.77.0.1/24', 'dev', 'hk0']);
      ip(ns1!, ['addr', 'del', '2001:db8:8::1/64', 'dev', 'hk0']);
      await agent.waitConfigured(['route', 'net4'], ['route', 'net6']);
      for (const [family, dst] of [
        [4, '10.77.0.0/24'],
        [6, '2001:db8:8::/64'],
      ] as const) {
        const made = routes(ns1!, family).find((r) => r.dst === dst);
        assert.equal(made?.dev, 'hk0', dst);
        assert.notEqual(made?.protocol, 'kernel', dst);
      }
    }));

  test('an IPv6 route whose source no interface has fails naming src_ip_addr, as an IPv4 one does, and is made once the address is there', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const v6 = { ip_addresses: ['10.0.9.1/24', '2001:db8:9::1/64'] };
      await agent.put(...pair(ns1!, ns2!, v6), [
        'route',
        'nosrc6',
        {
          name: 'nosrc6',
          namespace: named(ns1!),
          interface: 'a',
          dst_ip_addr: '2001:db8:123::/64',
          src_ip_addr: '2001:db8:9::77',
        },
      ]);
      await agent.waitFor(
        'route',
        'nosrc6',
        'failed',
        /source address 2001:db8:9::77 is not an address of an interface in /,
      );
      const refused = agent.status('route', 'nosrc6')?.error;
      assert.equal(refused?.field, 'src_ip_addr');
      assert.equal(refused?.code, 'ERR_ROUTE_REFUSED');
      assert.match(refused?.message ?? '', /EINVAL \(Invalid source address\)/, 'the kernel says why, too');
      await agent.put(...pair(ns1!, ns2!, { ip_addresses: [...v6.ip_addresses, '2001:db8:9::77/64'] }));
      await agent.waitConfigured(['route', 'nosrc6']);
      assert.ok(routes(ns1!, 6).some((r) => r.dst === '2001:db8:123::/64' && r.prefsrc === '2001:db8:9::77'));
    }));

  test('an IPv6 route given another scope (which IPv6 ignores): nothing sent, no moment without it, also through a resync', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const route = {
        name: 'v6',
        namespace: named(ns1!),
        interface: 'a',
        dst_ip_addr: '2001:db8:71::/64',
        scope: { type: 'HOST' },
      };
      await agent.put(...pair(ns1!, ns2!), ['route', 'v6', route]);
      await agent.waitConfigured(['route', 'v6']);
      const requests = agent.plugin.views.netlinkTotals().requests;
      const { deleted, seen } = await deletionsDuring(ns1!, ['route'], async () => {
        await agent.put(['route', 'v6', { ...route, scope: { type: 'LINK' } }]);
        const { scope: _scope, ...unscoped } = route;
        await agent.put(['route', 'v6', unscoped]);
      });
      assert.deepEqual(deleted, [], seen);
      assert.equal(agent.plugin.views.netlinkTotals().requests, requests, 'no request');
      assert.equal(agent.status('route', 'v6')?.state, 'configured');
      const resync = await agent.engine.resync();
      assert.equal(writes([resync]), 0, JSON.stringify(resync.operations));
      assert.ok(routes(ns1!, 6).some((r) => r.dst === '2001:db8:71::/64' && r.dev === 'ra'));
    }));

  test('a route changed in place: description (no request), source and scope (one replace); metric: made again at its new place', () =>
    withAgent(1, async (agent, [ns1]) => {
      ip(ns1!, ['link', 'add', 'hz0', 'type', 'veth', 'peer', 'name', 'hz1']);
      ip(ns1!, ['link', 'set', 'hz0', 'up']);
      ip(ns1!, ['addr', 'add', '10.94.0.1/24', 'dev', 'hz0']);
      const route = { name: 'hr', namespace: named(ns1!), interface: 'hz0', dst_ip_addr: '10.82.0.0/16' };
      await agent.put(['route', 'hr', route]);
      await agent.waitConfigured(['route', 'hr']);
      const counts = async (value: object) => {
        const { create, update, delete: removed } = (await agent.put(['route', 'hr', value])).counts;
        return { create, update, removed };
      };
      const requests = agent.plugin.views.netlinkTotals().requests;
      assert.deepEqual(await counts({ ...route, description: 'now described' }), {
        create: 0,
        update: 1,
        removed: 0,
      });
      assert.equal(agent.plugin.views.netlinkTotals().requests, requests, 'no request for a description');
      assert.deepEqual(await counts({ ...route, src_ip_addr: '10.94.0.1', scope: { type: 'HOST' } }), {
        create: 0,
        update: 1,
        removed: 0,
      });
      const replaced = routes(ns1!).filter((r) => r.dst === '10.82.0.0/16');
      assert.equal(replaced.length, 1, JSON.stringify(replaced));
      assert.equal(replaced[0]!.prefsrc, '10.94.0.1');
      assert.equal(replaced[0]!.scope, 'host');
      // A source the kernel refuses: failed, and the route as it was stays, also through a resync.
      const refused = await agent.put(['route', 'hr', { ...route, src_ip_addr: '10.250.250.250' }]);
      assert.equal(refused.counts.failed, 1);
      await agent.engine.resync();
      assert.deepEqual(
        routes(ns1!)
          .filter((r) => r.dst === '10.82.0.0/16')
          .map((r) => r.prefsrc),
        ['10.94.0.1'],
        'kept by the resync',
      );
      await agent.put(['route', 'hr', { ...route, src_ip_addr: '10.94.0.1', scope: { type: 'HOST' } }]);
      await agent.waitConfigured(['route', 'hr']);

      // IPv6: ours deleted, then the new one added (a replace could take another program's).
      ip(ns1!, ['addr', 'add', 'fd00:94::1/64', 'dev', 'hz0', 'nodad']);
      const six = { name: 'h6', namespace: named(ns1!), interface: 'hz0', dst_ip_addr: 'fd00:95::/64' };
      await agent.put(['route', 'h6', six]);
      await agent.waitConfigured(['route', 'h6']);
      const { counts: sixCounts } = await agent.put(['route', 'h6', { ...six, src_ip_addr: 'fd00:94::1' }]);
      assert.deepEqual([sixCounts.create, sixCounts.update, sixCounts.delete], [0, 1, 0]);
      const sixRoutes = routes(ns1!, 6).filter((r) => r.dst === 'fd00:95::/64');
      assert.deepEqual(
        sixRoutes.map((r) => r.prefsrc),
        ['fd00:94::1'],
      );
      assert.deepEqual(await counts({ ...route, metric: 7 }), { create: 1, update: 0, removed: 1 });
      const moved = routes(ns1!).filter((r) => r.dst === '10.82.0.0/16');
      assert.deepEqual(
        moved.map((r) => [r.metric, r.prefsrc]),
        [[7, undefined]],
      );
      await agent.waitConfigured(['route', 'hr']);
    }));

  test("a gateway is reachable through a link route of the route's own table, or of main, not of another table", () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const route = (name: string, json: Record<string, unknown>): Item => [
        'route',
        name,
        { name, namespace: named(ns1!), interface: 'a', ...json },
      ];
      await agent.put(
        ...pair(ns1!, ns2!),
        route('link100', { dst_ip_addr: '10.90.0.0/16', scope: { type: 'LINK' }, table: 100 }),
        route('via-main', { dst_ip_addr: '10.91.0.0/16', gw_addr: '10.90.1.1' }),
        route('via-100', { dst_ip_addr: '10.92.0.0/16', gw_addr: '10.90.1.1', table: 100 }),
        route('via-200', { dst_ip_addr: '10.93.0.0/16', gw_addr: '10.90.1.1', table: 200 }),
      );
      await agent.waitConfigured(['route', 'link100'], ['route', 'via-100']);
      // The kernel would refuse these ("Nexthop has invalid gateway"): they wait, and are not tried.
      await agent.waitFor('route', 'via-main', 'pending', /waiting for gateway 10\.90\.1\.1 to be reachable/);
      await agent.waitFor('route', 'via-200', 'pending', /waiting for gateway 10\.90\.1\.1 to be reachable/);
      assert.ok(routes(ns1!, 4, '100').some((r) => r.dst === '10.92.0.0/16'));

      // The same network in main: now reachable for main and for table 200 too (their lookups
      // end in main).
      await agent.put(route('link-main', { dst_ip_addr: '10.90.0.0/16', scope: { type: 'LINK' } }));
      await agent.waitConfigured(['route', 'via-main'], ['route', 'via-200']);
      assert.ok(findRoute(routes(ns1!), '10.91.0.0/16', 'ra'));
      assert.ok(routes(ns1!, 4, '200').some((r) => r.dst === '10.93.0.0/16'));
    }));

  test('table, metric, scope, source and IPv6 routes', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(
        ...pair(ns1!, ns2!, { ip_addresses: ['10.0.9.1/24', 'fd00:9::1/64'] }),
        [
          'route',
          't100',
          {
            name: 't100',
            namespace: named(ns1!),
            interface: 'a',
            dst_ip_addr: '10.7.0.0/16',
            gw_addr: '10.0.9.254',
            table: 100,
            metric: 7,
          },
        ],
        [
          'route',
          'host',
          {
            name: 'host',
            namespace: named(ns1!),
            interface: 'a',
            dst_ip_addr: '10.8.0.1/32',
            scope: { type: 'LINK' },
            src_ip_addr: '10.0.9.1',
          },
        ],
        [
          'route',
          'v6',
          {
            name: 'v6',
            namespace: named(ns1!),
            interface: 'a',
            dst_ip_addr: 'fd00:77::/48',
            gw_addr: 'fd00:9::fe',
            metric: 300,
          },
        ],
      );
      await agent.waitConfigured(['route', 't100'], ['route', 'host'], ['route', 'v6']);
      const t100 = routes(ns1!, 4, '100').find((r) => r.dst === '10.7.0.0/16');
      assert.ok(t100, 'route in table 100');
      assert.equal(t100.gateway, '10.0.9.254');
      assert.equal(t100.metric, 7);
      const host = routes(ns1!).find((r) => r.dst === '10.8.0.1');
      assert.ok(host, 'host route');
      assert.equal(host.scope, 'link');
      assert.equal((host as IpRouteJson & { prefsrc?: string }).prefsrc, '10.0.9.1');
      const v6 = routes(ns1!, 6).find((r) => r.dst === 'fd00:77::/48');
      assert.ok(v6, 'v6 route');
      assert.equal(v6.gateway, 'fd00:9::fe');
      assert.equal(v6.metric, 300);

      // A dry run of another gateway changes nothing: the real route keeps its gateway watched,
      // stays configured and in the kernel.
      const moved = {
        name: 't100',
        namespace: named(ns1!),
        interface: 'a',
        dst_ip_addr: '10.7.0.0/16',
        gw_addr: '10.0.9.250',
        table: 100,
        metric: 7,
      };
      const seenBefore = agent.engine.transactions().length;
      agent.engine.plan({
        puts: [agent.parse('route', 't100', moved)],
      });
      await pause(400);
      const afterPlan = agent.engine.transactions().slice(seenBefore);
      assert.equal(
        writes(afterPlan),
        0,
        `a plan wrote: ${JSON.stringify(afterPlan.map((t) => t.operations))}`,
      );
      assert.equal(agent.status('route', 't100')?.state, 'configured');
      assert.equal(routes(ns1!, 4, '100').find((r) => r.dst === '10.7.0.0/16')?.gateway, '10.0.9.254');

      // Two items for one place in the table (another gateway): the later one is refused, naming
      // the other, instead of each replacing the other for ever.
      await agent.put([
        'route',
        't100b',
        {
          name: 't100b',
          namespace: named(ns1!),
          interface: 'a',
          dst_ip_addr: '10.7.0.0/16',
          gw_addr: '10.0.9.253',
          table: 100,
          metric: 7,
        },
      ]);
      await agent.waitFor('route', 't100b', 'invalid', /already claimed by \S+route\/t100/);
      // The same namespace named through its file is the same place.
      await agent.put([
        'route',
        't100f',
        {
          name: 't100f',
          namespace: { type: 'FILE_REF_NS', filepath: `/var/run/netns/${ns1!}` },
          interface: 'ra',
          dst_ip_addr: '10.7.0.0/16',
          gw_addr: '10.0.9.252',
          table: 100,
          metric: 7,
        },
      ]);
      await agent.waitFor('route', 't100f', 'invalid', /already claimed by \S+route\/t100/);
      await agent.del(['route', 't100f']);
      await pause(300);
      assert.equal(routes(ns1!, 4, '100').find((r) => r.dst === '10.7.0.0/16')?.gateway, '10.0.9.254');
      await agent.del(['route', 't100b']);

      // The place of the kernel's own route of an address's network: not replaced (deleting ours
      // later would have cut the network off), failed with a reason, the kernel's route intact.
      await agent.put([
        'route',
        'net',
        { name: 'net', namespace: named(ns1!), interface: 'a', dst_ip_addr: '10.0.9.0/24' },
      ]);
      await agent.waitFor('route', 'net', 'failed', /kernel's own route, not made by this agent/);
      const kernelRoute = () => routes(ns1!).find((r) => r.dst === '10.0.9.0/24');
      assert.equal(kernelRoute()?.protocol, 'kernel');
      await agent.del(['route', 'net']);
      await pause(200);
      assert.equal(kernelRoute()?.protocol, 'kernel', 'still there');

      // A source address the interface does not have: refused (EINVAL), and tried again as soon
      // as the address is there.
      await agent.put([
        'route',
        'src',
        {
          name: 'src',
          namespace: named(ns1!),
          interface: 'a',
          dst_ip_addr: '10.9.0.0/16',
          gw_addr: '10.0.9.254',
          src_ip_addr: '10.0.9.50',
        },
      ]);
      await agent.waitFor('route', 'src', 'failed', /dev ra \(#\d+\).*EINVAL|EINVAL.*dev ra \(#\d+\)/);
      await agent.put(...pair(ns1!, ns2!, { ip_addresses: ['10.0.9.1/24', 'fd00:9::1/64', '10.0.9.50/24'] }));
      await agent.waitConfigured(['route', 'src']);
      assert.ok(
        routes(ns1!).some((r) => r.dst === '10.9.0.0/16'),
        'the route once its source is there',
      );

      // An IPv6 route without a metric: the kernel keeps it as metric 1024, which is the route
      // asked for (it was replaced by every resync its own notification started, for ever).
      const v6d = {
        name: 'v6d',
        namespace: named(ns1!),
        interface: 'a',
        dst_ip_addr: 'fd00:78::/48',
        gw_addr: 'fd00:9::fe',
      };
      await agent.put(['route', 'v6d', v6d]);
      await agent.waitConfigured(['route', 'v6d']);
      assert.equal(routes(ns1!, 6).find((r) => r.dst === 'fd00:78::/48')?.metric, 1024);
      await pause(300);
      const seen = agent.engine.transactions().length;
      await pause(700);
      const later = agent.engine.transactions().slice(seen);
      assert.equal(writes(later), 0, JSON.stringify(later.map((t) => t.operations)));
      const full = await agent.replaceAll(
        ...pair(ns1!, ns2!, { ip_addresses: ['10.0.9.1/24', 'fd00:9::1/64'] }),
        ['route', 'v6d', v6d],
      );
      assert.equal(
        full.operations.filter((op) => op.key.includes('v6d')).length,
        0,
        `a full read leaves it: ${JSON.stringify(full.operations)}`,
      );

      // Routes deleted from the configuration: their gateways are no longer followed.
      assert.ok(agent.plugin.facts.watchedGateways > 0);
      await agent.replaceAll(...pair(ns1!, ns2!, { ip_addresses: ['10.0.9.1/24', 'fd00:9::1/64'] }));
      await eventually(() => assert.equal(agent.plugin.facts.watchedGateways, 0));
    }));
});

describe('ARP entries', { skip: skipUnlessRoot() }, () => {
  const entries: [string, string, string, string][] = [
    ['perm4', '10.0.9.11', '02:00:00:00:00:11', 'PERMANENT'],
    ['noarp4', '10.0.9.12', '02:00:00:00:00:12', 'NOARP'],
    ['reach4', '10.0.9.13', '02:00:00:00:00:13', 'REACHABLE'],
    ['stale4', '10.0.9.14', '02:00:00:00:00:14', 'STALE'],
    ['perm6', 'fd00:9::11', '02:00:00:00:00:21', 'PERMANENT'],
    ['noarp6', 'fd00:9::12', '02:00:00:00:00:22', 'NOARP'],
    ['reach6', 'fd00:9::13', '02:00:00:00:00:23', 'REACHABLE'],
    ['stale6', 'fd00:9::14', '02:00:00:00:00:24', 'STALE'],
  ];

  function arpItems(ns1: string): Item[] {
    return entries.map(([name, ipAddr, mac, state]) => [
      'arp',
      name,
      {
        name,
        namespace: named(ns1),
        interface: 'a',
        ip_addr: ipAddr,
        hw_address: mac,
        state: { type: state },
      },
    ]);
  }

  function assertNeighbours(ns1: string): void {
    const list = neighbours(ns1, 'ra');
    for (const [, ipAddr, mac, state] of entries) {
      const entry = list.find((n) => n.dst === ipAddr);
      assert.ok(entry, `${ipAddr} in ${JSON.stringify(list)}`);
      assert.equal(entry.lladdr, mac);
      // REACHABLE ages (to STALE, or DELAY/PROBE once used); the others stay as set.
      if (state !== 'REACHABLE')
        assert.ok(entry.state?.includes(state), `${ipAddr}: ${JSON.stringify(entry.state)} has ${state}`);
    }
  }

  /** A permanent ARP item in ns1 on `iface` (config name `a` or host name `ra` of one link). */
  function arp(ns1: string, name: string, iface: string, ipAddr: string, mac: string): Item {
    return ['arp', name, { name, namespace: named(ns1), interface: iface, ip_addr: ipAddr, hw_address: mac }];
  }

  /** The kernel's entry for `ipAddr` on `ra` in ns1. */
  function entryOf(ns1: string, ipAddr: string): IpNeighJson | undefined {
    return neighbours(ns1, 'ra').find((n) => n.dst === ipAddr);
  }

  /**
   * `holder` (by config name) makes the entry; the agent restarts with `other` (by host name) listed
   * first, so that it is made first in the start's one transaction; the holder keeps the entry.
   * Returns the restarted agent (the caller closes it).
   */
  async function restartedWithDispute(agent: TestAgent, ns1: string, ns2: string, holder: Item, other: Item) {
    await agent.put(...pair(ns1, ns2));
    await agent.put(holder);
    await agent.waitFor('arp', 'holder', 'configured');
    await agent.close();
    const restarted = await TestAgent.start({ label: agent.label });
    try {
      await restarted.replaceAll(...pair(ns1, ns2), other, holder);
      await restarted.waitFor('arp', 'holder', 'configured');
      await restarted.waitFor('arp', 'other', 'failed', /already configured by \S+arp\/holder/);
    } catch (error) {
      await restarted.close();
      throw error;
    }
    return restarted;
  }

  /**
   * The kernel refuses the next entry with `mac` in ns1 once, with `errno`. Returns how many it
   * refused so far, and how to stop refusing.
   */
  function refuseOnce(agent: TestAgent, ns1: string, mac: string, errno: number) {
    const handle = agent.plugin.views.get(`named/${ns1}`)!.handle;
    const neighAdd = handle.neighAdd.bind(handle);
    let refused = 0;
    handle.neighAdd = async (spec) => {
      if (spec.mac === mac && refused++ === 0)
        throw new NetlinkError(errno, `neigh add ${spec.address} (refused by the test)`);
      return neighAdd(spec);
    };
    return { refused: () => refused, restore: () => (handle.neighAdd = neighAdd) };
  }

  test('every state, v4 and v6: pending until the interface is up, then in the kernel', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(...arpItems(ns1!));
      for (const [name] of entries)
        await agent.waitFor('arp', name, 'pending', /waiting for interface a to exist/);
      await agent.put(...pair(ns1!, ns2!, { ip_addresses: ['10.0.9.1/24', 'fd00:9::1/64'] }));
      for (const [name] of entries) await agent.waitFor('arp', name, 'configured');
      assertNeighbours(ns1!);

      // Removing the config removes the entries.
      await agent.del(...entries.map(([name]) => ['arp', name] as [ItemKind, string]));
      await eventually(() => {
        const left = neighbours(ns1!, 'ra').filter((n) => entries.some(([, ipAddr]) => ipAddr === n.dst));
        assert.deepEqual(left, []);
      });
    }));

  test('a STALE entry someone made PERMANENT is made STALE again (it would never age or learn)', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(...pair(ns1!, ns2!));
      const [kind, name, value] = arp(ns1!, 'dyn', 'a', '10.0.9.50', '02:00:00:00:00:51');
      await agent.put([kind, name, { ...(value as object), state: { type: 'STALE' } }]);
      await agent.waitFor('arp', 'dyn', 'configured');
      assert.deepEqual(entryOf(ns1!, '10.0.9.50')?.state, ['STALE']);
      ip(ns1!, [
        'neigh',
        'replace',
        '10.0.9.50',
        'dev',
        'ra',
        'lladdr',
        '02:00:00:00:00:51',
        'nud',
        'permanent',
      ]);
      await eventually(() => assert.deepEqual(entryOf(ns1!, '10.0.9.50')?.state, ['STALE']), 3000);
    }));

  test('two ARP items for one entry, one naming the link by config name, the other by host name: the later one fails, no fight', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const byName = arp(ns1!, 'byname', 'a', '10.0.9.40', '02:00:00:00:00:41');
      const entry = () => entryOf(ns1!, '10.0.9.40');
      await agent.put(...pair(ns1!, ns2!));
      await agent.put(byName);
      await agent.waitFor('arp', 'byname', 'configured');
      await agent.put(arp(ns1!, 'byhost', 'ra', '10.0.9.40', '02:00:00:00:00:42'));
      await agent.waitFor(
        'arp',
        'byhost',
        'failed',
        /10\.0\.9\.40 on ra .* is already configured by \S+arp\/byname/,
      );
      const seen = agent.engine.transactions().length;
      await pause(1200);
      assert.equal(entry()?.lladdr, '02:00:00:00:00:41');
      assert.equal(writes(agent.engine.transactions().slice(seen)), 0, 'no item wrote over the other');

      // A restart keeps the entry with the item whose value the kernel holds, whichever key sorts
      // first (here the holder's key sorts after the other's).
      // (the full read lists the other first, as a store listing keys in order would)
      const items = [
        ...pair(ns1!, ns2!),
        arp(ns1!, 'abyhost', 'ra', '10.0.9.40', '02:00:00:00:00:42'),
        byName,
      ];
      await agent.del(['arp', 'byhost']);
      await agent.put(items[2]!);
      await agent.waitFor('arp', 'abyhost', 'failed', /already configured by \S+arp\/byname/);
      await agent.close();
      const restarted = await TestAgent.start({ label: agent.label });
      try {
        const before = restarted.engine.transactions().length;
        await restarted.replaceAll(...items);
        await restarted.waitFor('arp', 'byname', 'configured');
        await restarted.waitFor('arp', 'abyhost', 'failed', /already configured by \S+arp\/byname/);
        await pause(300);
        assert.equal(entry()?.lladdr, '02:00:00:00:00:41', 'the kernel keeps its holder');
        assert.equal(writes(restarted.engine.transactions().slice(before)), 0, 'the start wrote nothing');
      } finally {
        await restarted.close();
      }
    }));

  test('a static ARP entry someone else made is not replaced (nor deleted with the item); one the kernel learned is', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const ours = (name: string, ipAddr: string): Item => arp(ns1!, name, 'a', ipAddr, '02:00:00:00:00:51');
      const entry = (ipAddr: string) => entryOf(ns1!, ipAddr);
      await agent.put(...pair(ns1!, ns2!));
      await agent.waitConfigured(['interface', 'a']);
      ip(ns1!, ['neigh', 'add', '10.0.9.50', 'lladdr', '02:00:00:00:00:99', 'dev', 'ra', 'nud', 'permanent']);
      ip(ns1!, ['neigh', 'add', '10.0.9.51', 'lladdr', '02:00:00:00:00:98', 'dev', 'ra', 'nud', 'stale']);
      await agent.put(ours('theirs', '10.0.9.50'), ours('learned', '10.0.9.51'));
      await agent.waitFor(
        'arp',
        'theirs',
        'failed',
        /10\.0\.9\.50 on ra .* is a static \(permanent\) entry not made by this agent \(lladdr 02:00:00:00:00:99\): not replaced/,
      );
      await agent.waitFor('arp', 'learned', 'configured');
      assert.equal(entry('10.0.9.51')?.lladdr, '02:00:00:00:00:51');
      assert.equal(entry('10.0.9.50')?.lladdr, '02:00:00:00:00:99');
      // Failed for good: not tried again and again (its own failure freed the entry it noted).
      const before = agent.engine.transactions().length;
      await pause(2500);
      const retries = agent.engine
        .transactions()
        .slice(before)
        .filter((t) => t.causes.includes('retry'));
      assert.ok(retries.length <= 1, `${retries.length} retry transactions in 2.5 s`);
      await agent.del(['arp', 'theirs']);
      await pause(200);
      assert.equal(entry('10.0.9.50')?.lladdr, '02:00:00:00:00:99', 'still theirs');

      // Put again, then theirs goes: the item is tried again and makes its own.
      await agent.put(ours('theirs', '10.0.9.50'));
      await agent.waitFor('arp', 'theirs', 'failed', /not made by this agent/);
      ip(ns1!, ['neigh', 'del', '10.0.9.50', 'dev', 'ra']);
      await agent.waitFor('arp', 'theirs', 'configured');
      assert.equal(entry('10.0.9.50')?.lladdr, '02:00:00:00:00:51');
    }));

  test('on a link without ARP, a NOARP entry (as the kernel makes them there) is replaced', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(...pair(ns1!, ns2!));
      await agent.waitConfigured(['interface', 'a']);
      ip(ns1!, ['link', 'set', 'ra', 'arp', 'off']);
      ip(ns1!, ['neigh', 'add', '10.0.9.60', 'lladdr', '02:00:00:00:00:97', 'dev', 'ra', 'nud', 'noarp']);
      await agent.put(arp(ns1!, 'noarp', 'a', '10.0.9.60', '02:00:00:00:00:60'));
      await agent.waitFor('arp', 'noarp', 'configured');
      assert.equal(entryOf(ns1!, '10.0.9.60')?.lladdr, '02:00:00:00:00:60');
    }));

  test("on a loopback or point-to-point link an IPv4 entry (filed by the kernel under 0.0.0.0) fails naming the link, an earlier run's 0.0.0.0 entry is removed once, no delete/re-create loop; IPv6 on lo is kept", () =>
    withAgent(1, async (agent, [ns1]) => {
      const tun = `tn${hex(3)}`;
      ip(ns1!, ['link', 'set', 'lo', 'up']);
      ip(ns1!, ['tuntap', 'add', 'dev', tun, 'mode', 'tun']);
      ip(ns1!, ['link', 'set', tun, 'up']);
      // As an earlier run left it: the kernel filed 10.9.9.9 under 0.0.0.0.
      ip(ns1!, [
        'neigh',
        'add',
        '10.9.9.9',
        'lladdr',
        '02:00:00:00:09:09',
        'dev',
        'lo',
        'nud',
        'permanent',
        'proto',
        '144',
      ]);
      assert.deepEqual(
        neighbours(ns1!, 'lo').map((n) => n.dst),
        ['0.0.0.0'],
      );
      const items: Item[] = [
        ['arp', 'lo4', arpEntry('lo4', ns1!, 'lo', '10.9.9.9', '02:00:00:00:09:09')],
        ['arp', 'tun4', arpEntry('tun4', ns1!, tun, '10.9.9.8', '02:00:00:00:09:08')],
        ['arp', 'tun6', arpEntry('tun6', ns1!, tun, 'fd00:9::8', '02:00:00:00:09:18')],
        ['arp', 'lo6', arpEntry('lo6', ns1!, 'lo', 'fd00:9::9', '02:00:00:00:09:19')],
      ];
      await agent.replaceAll(...items); // as at a start
      const refused = async (name: string, message: RegExp): Promise<void> => {
        const status = await agent.waitFor('arp', name, 'failed', message);
        assert.equal(status.error?.code, 'ERR_NO_NEIGHBOURS_ON_LINK');
        assert.equal(status.error?.retriable, false);
        assert.equal(status.nextRetryAt, undefined, 'no retry timer');
      };
      await refused('lo4', /ARP entry 10\.9\.9\.9 on lo in .*: lo is a loopback link/);
      await refused(
        'tun4',
        new RegExp(`ARP entry 10\\.9\\.9\\.8 on ${tun} in .*: ${tun} is a point-to-point link`),
      );
      await refused('tun6', new RegExp(`ARP entry fd00:9::8 on ${tun} in .*: ${tun} has no MAC address`));
      await agent.waitFor('arp', 'lo6', 'configured');
      // The earlier run's entry is removed, and nothing of ours is on the tun.
      await eventually(() =>
        assert.deepEqual(
          neighbours(ns1!, 'lo').map((n) => `${n.dst} ${n.lladdr}`),
          ['fd00:9::9 02:00:00:00:09:19'],
        ),
      );
      assert.deepEqual(neighbours(ns1!, tun), []);
      // A re-check of the ARP entries (a managed entry removed by someone): lo6 is put back, once,
      // and nothing else is written.
      await pause(300);
      const seen = agent.engine.transactions().length;
      ip(ns1!, ['neigh', 'del', 'fd00:9::9', 'dev', 'lo']);
      await eventually(() =>
        assert.ok(
          neighbours(ns1!, 'lo').some((n) => n.dst === 'fd00:9::9'),
          'lo6 put back',
        ),
      );
      await pause(1000);
      const later = agent.engine.transactions().slice(seen);
      const ops = later.flatMap((t) => t.operations.map((o) => `${o.kind} ${o.key} ${o.outcome}`));
      assert.ok(writes(later) <= 1, `writes after the re-check: ${JSON.stringify(ops)}`);
      const orphanDeletes = agent.engine
        .transactions()
        .flatMap((t) => t.operations)
        .filter((o) => o.key.includes('.orphan-') && o.kind === 'delete');
      assert.equal(orphanDeletes.length, 1, JSON.stringify(orphanDeletes));
      assert.deepEqual(
        neighbours(ns1!, 'lo').map((n) => n.dst),
        ['fd00:9::9'],
      );
      for (const name of ['lo4', 'tun4', 'tun6']) assert.equal(agent.status('arp', name)?.state, 'failed');
    }));

  test('two ARP items for one entry put in one transaction: one makes it, the other fails', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(...pair(ns1!, ns2!));
      await agent.waitConfigured(['interface', 'a']);
      await agent.put(
        arp(ns1!, 'one', 'a', '10.0.9.45', '02:00:00:00:00:45'),
        arp(ns1!, 'two', 'ra', '10.0.9.45', '02:00:00:00:00:46'),
      );
      await eventually(() => {
        const states = [agent.status('arp', 'one')?.state, agent.status('arp', 'two')?.state].sort();
        assert.deepEqual(states, ['configured', 'failed']);
      });
      const holder =
        agent.status('arp', 'one')?.state === 'configured' ? '02:00:00:00:00:45' : '02:00:00:00:00:46';
      await pause(500);
      assert.equal(entryOf(ns1!, '10.0.9.45')?.lladdr, holder);
    }));

  test('two ARP items, the holder goes: the other is tried again', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const entry = () => entryOf(ns1!, '10.0.9.40');
      await agent.put(...pair(ns1!, ns2!));
      await agent.put(arp(ns1!, 'byname', 'a', '10.0.9.40', '02:00:00:00:00:41'));
      await agent.waitFor('arp', 'byname', 'configured');
      await agent.put(arp(ns1!, 'byhost', 'ra', '10.0.9.40', '02:00:00:00:00:42'));
      await agent.waitFor('arp', 'byhost', 'failed', /already configured by/);
      // The holder goes: the other is tried again and takes the entry.
      await agent.del(['arp', 'byname']);
      await agent.waitFor('arp', 'byhost', 'configured');
      await eventually(() => assert.equal(entry()?.lladdr, '02:00:00:00:00:42'));
      await agent.del(['arp', 'byhost']);
      await eventually(() => assert.equal(entry(), undefined));
    }));

  test('an ARP item that failed as taken is not tried again when unrelated entries go', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(...pair(ns1!, ns2!));
      await agent.put(arp(ns1!, 'holder', 'a', '10.0.9.46', '02:00:00:00:00:46'));
      await agent.waitFor('arp', 'holder', 'configured');
      await agent.put(arp(ns1!, 'other', 'ra', '10.0.9.46', '02:00:00:00:00:4b'));
      await agent.waitFor('arp', 'other', 'failed', /already configured by/);
      await pause(1100); // past the once-a-second limit of retries
      const seen = agent.engine.transactions().length;
      // As learned entries age out: added and removed by someone else, at other addresses.
      for (let i = 0; i < 3; i++) {
        ip(ns1!, [
          'neigh',
          'add',
          `10.0.9.${90 + i}`,
          'lladdr',
          '02:00:00:00:00:90',
          'dev',
          'ra',
          'nud',
          'stale',
        ]);
        ip(ns1!, ['neigh', 'del', `10.0.9.${90 + i}`, 'dev', 'ra']);
      }
      await pause(600);
      const tried = agent.engine
        .transactions()
        .slice(seen)
        .flatMap((t) => t.operations.filter((op) => op.key === agent.key('arp', 'other')));
      assert.deepEqual(tried, [], 'not tried again');
      assert.equal(agent.status('arp', 'other')?.state, 'failed');
    }));

  test('the holder of a disputed ARP entry keeps it through link flaps, whichever item is made first', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const holder = arp(ns1!, 'holder', 'a', '10.0.9.47', '02:00:00:00:00:47');
      const other = arp(ns1!, 'other', 'ra', '10.0.9.47', '02:00:00:00:00:48');
      const restarted = await restartedWithDispute(agent, ns1!, ns2!, holder, other);
      try {
        for (let flap = 0; flap < 3; flap++) {
          ip(ns1!, ['link', 'set', 'ra', 'down']);
          await restarted.waitFor('arp', 'holder', 'pending', /waiting for interface a to be up/);
          // The agent sets its link up again (drift); both items are made again at once.
          await restarted.waitFor('arp', 'holder', 'configured');
          await restarted.waitFor('arp', 'other', 'failed', /already configured by \S+arp\/holder/);
          await eventually(() => assert.equal(entryOf(ns1!, '10.0.9.47')?.lladdr, '02:00:00:00:00:47'));
        }
      } finally {
        await restarted.close();
      }
    }));

  test('the holder of a disputed ARP entry fails to make it again: the other is tried again and takes it', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(...pair(ns1!, ns2!));
      await agent.put(arp(ns1!, 'holder', 'a', '10.0.9.48', '02:00:00:00:00:49'));
      await agent.waitFor('arp', 'holder', 'configured');
      await agent.put(arp(ns1!, 'other', 'ra', '10.0.9.48', '02:00:00:00:00:4a'));
      await agent.waitFor('arp', 'other', 'failed', /already configured by \S+arp\/holder/);
      // The kernel refuses the holder's next entry (once, EPERM): it holds nothing then.
      const refusing = refuseOnce(agent, ns1!, '02:00:00:00:00:49', 1);
      try {
        ip(ns1!, ['link', 'set', 'ra', 'down']);
        await agent.waitFor('arp', 'other', 'configured');
        // Failed with the kernel's refusal (its own failure does not have it tried again at once).
        await agent.waitFor('arp', 'holder', 'failed', /refused by the test/);
        assert.equal(refusing.refused() >= 1, true);
        await eventually(() => assert.equal(entryOf(ns1!, '10.0.9.48')?.lladdr, '02:00:00:00:00:4a'));
      } finally {
        refusing.restore();
      }
    }));

  test('the holder of a disputed ARP entry keeps it when its link is deleted and made again (a new ifindex)', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const holder = arp(ns1!, 'holder', 'a', '10.0.9.49', '02:00:00:00:00:4b');
      const other = arp(ns1!, 'other', 'ra', '10.0.9.49', '02:00:00:00:00:4c');
      const restarted = await restartedWithDispute(agent, ns1!, ns2!, holder, other);
      try {
        for (let round = 0; round < 3; round++) {
          const before = linkOrFail(ns1!, 'ra').ifindex;
          ip(ns1!, ['link', 'del', 'ra']);
          // The agent makes its pair again (drift): a new ifindex, both items tried again.
          await eventually(() => assert.notEqual(link(ns1!, 'ra')?.ifindex ?? before, before), 3000);
          await restarted.waitFor('arp', 'holder', 'configured');
          await restarted.waitFor('arp', 'other', 'failed', /already configured by \S+arp\/holder/);
          await eventually(() => assert.equal(entryOf(ns1!, '10.0.9.49')?.lladdr, '02:00:00:00:00:4b'));
        }
      } finally {
        await restarted.close();
      }
    }));

  test('the holder of a disputed ARP entry refused for a moment (EBUSY) keeps it: tried again, the other stays failed', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(...pair(ns1!, ns2!));
      await agent.put(arp(ns1!, 'holder', 'a', '10.0.9.50', '02:00:00:00:00:4d'));
      await agent.waitFor('arp', 'holder', 'configured');
      await agent.put(arp(ns1!, 'other', 'ra', '10.0.9.50', '02:00:00:00:00:4e'));
      await agent.waitFor('arp', 'other', 'failed', /already configured by \S+arp\/holder/);
      const refusing = refuseOnce(agent, ns1!, '02:00:00:00:00:4d', 16); // EBUSY
      try {
        ip(ns1!, ['link', 'set', 'ra', 'down']);
        await eventually(() => assert.equal(refusing.refused() >= 1, true), 3000);
        await agent.waitFor('arp', 'holder', 'configured');
        await pause(300);
        assert.equal(agent.engine.status(agent.key('arp', 'other'))?.state, 'failed');
        await eventually(() => assert.equal(entryOf(ns1!, '10.0.9.50')?.lladdr, '02:00:00:00:00:4d'));
      } finally {
        refusing.restore();
      }
    }));

  test('readdressed (the IPv4 addresses replaced: same network, another, two at once): routes and static ARP entries of the link are never flushed', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const a = (...addressList: string[]): Item => [
        'interface',
        'a',
        veth('a', 'b', ns1!, { host_if_name: 'ra', ip_addresses: addressList }),
      ];
      const route: Item = [
        'route',
        'far',
        {
          name: 'far',
          namespace: named(ns1!),
          interface: 'a',
          dst_ip_addr: '10.50.0.0/16',
          gw_addr: '10.0.2.2',
        },
      ];
      const entry = arp(ns1!, 'gw', 'a', '10.0.2.2', '02:00:00:00:00:22');
      await agent.put(a('10.0.2.1/24'), pair(ns1!, ns2!)[1]!, route, entry);
      await agent.waitFor('route', 'far', 'configured');
      await agent.waitFor('arp', 'gw', 'configured');
      const { deleted, seen } = await deletionsDuring(ns1!, ['route', 'neigh'], async () => {
        // The same network: the new address is a secondary until the old primary goes.
        await agent.put(a('10.0.2.5/24'));
        await eventually(() => assert.deepEqual(addresses(ns1!, 'ra'), ['10.0.2.5/24']));
        await agent.waitFor('route', 'far', 'configured');
        // Another network: the route's gateway is no longer reachable (it waits), the entry stays.
        await agent.put(a('10.0.3.1/24'));
        await eventually(() => assert.deepEqual(addresses(ns1!, 'ra'), ['10.0.3.1/24']));
        await agent.waitFor('route', 'far', 'pending', /gateway 10\.0\.2\.2/);
        // Two networks, both readdressed at once (their removals run side by side).
        await agent.put(a('10.0.3.1/24', '10.0.4.1/24'));
        await eventually(() => assert.deepEqual(addresses(ns1!, 'ra'), ['10.0.3.1/24', '10.0.4.1/24']));
        await agent.put(a('10.0.3.5/24', '10.0.4.5/24'));
        await eventually(() => assert.deepEqual(addresses(ns1!, 'ra'), ['10.0.3.5/24', '10.0.4.5/24']));
        await agent.waitFor('interface', 'a', 'configured');
      });
      assert.deepEqual(
        deleted.filter((l) => l.includes('10.0.2.2 dev ra lladdr')),
        [],
        `the static entry was never flushed: ${seen}`,
      );
      // The route went once, when its gateway became unreachable: not with the first readdressing.
      assert.equal(deleted.filter((l) => l.includes('10.50.0.0/16')).length, 1, seen);
      assert.equal(entryOf(ns1!, '10.0.2.2')?.lladdr, '02:00:00:00:00:22');
    }));

  test('one network of a link readdressed (IPv4 beside another network, IPv6): routes via its gateways stay in the kernel', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const a = (v4: string, v6: string): Item => [
        'interface',
        'a',
        veth('a', 'b', ns1!, { host_if_name: 'ra', ip_addresses: ['10.1.0.1/24', v4, v6] }),
      ];
      const via = (name: string, dst: string, gw: string): Item => [
        'route',
        name,
        { name, namespace: named(ns1!), interface: 'a', dst_ip_addr: dst, gw_addr: gw },
      ];
      await agent.put(
        a('10.3.0.1/24', '2001:db8:1::9/64'),
        pair(ns1!, ns2!)[1]!,
        via('v4', '10.60.0.0/16', '10.3.0.2'),
        via('v6', '2001:db8:99::/48', '2001:db8:1::2'),
      );
      await agent.waitFor('route', 'v4', 'configured');
      await agent.waitFor('route', 'v6', 'configured');
      const { deleted, seen } = await deletionsDuring(ns1!, ['route'], async () => {
        await agent.put(a('10.3.0.5/24', '2001:db8:1::7/64'));
        await eventually(() =>
          assert.deepEqual(
            addresses(ns1!, 'ra').filter((c) => !c.startsWith('fe80')),
            ['10.1.0.1/24', '10.3.0.5/24', '2001:db8:1::7/64'],
          ),
        );
        await agent.waitFor('interface', 'a', 'configured');
      });
      assert.deepEqual(
        deleted.filter((l) => l.includes('10.60.0.0/16') || l.includes('2001:db8:99::/48')),
        [],
        seen,
      );
    }));

  test('enabled=false: the link goes down, its routes and ARP entries go pending; enabled again: back', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const [def, lan] = gatewayRoutes(ns1!);
      const items = pair(ns1!, ns2!, { ip_addresses: ['10.0.9.1/24', 'fd00:9::1/64'] });
      await agent.put(...items, def!, lan!, ...arpItems(ns1!));
      await agent.waitConfigured(
        ['route', 'def'],
        ['route', 'lan'],
        ...entries.map(([name]) => ['arp', name] as [ItemKind, string]),
      );
      const index = linkOrFail(ns1!, 'ra').ifindex;

      await agent.put([
        'interface',
        'a',
        veth('a', 'b', ns1!, {
          host_if_name: 'ra',
          ip_addresses: ['10.0.9.1/24', 'fd00:9::1/64'],
          enabled: false,
        }),
      ]);
      await agent.waitFor('route', 'def', 'pending', /waiting for interface a to be up/);
      await agent.waitFor('route', 'lan', 'pending', /waiting for interface a to be up/);
      for (const [name] of entries)
        await agent.waitFor('arp', name, 'pending', /waiting for interface a to be up/);
      await agent.waitConfigured(['interface', 'a']);
      const down = linkOrFail(ns1!, 'ra');
      assert.equal(isUp(down), false, 'ra is down');
      assert.equal(down.ifindex, index, 'same link');
      await eventually(() => {
        assert.equal(
          routes(ns1!).filter((r) => r.dev === 'ra' && r.protocol !== 'kernel').length,
          0,
          'routes removed',
        );
      });

      await agent.put(items[0]!);
      await agent.waitConfigured(
        ['route', 'def'],
        ['route', 'lan'],
        ...entries.map(([name]) => ['arp', name] as [ItemKind, string]),
      );
      assert.ok(isUp(linkOrFail(ns1!, 'ra')));
      assert.equal(linkOrFail(ns1!, 'ra').ifindex, index, 'same link');
      assertGatewayRoutes(ns1!);
      assertNeighbours(ns1!);
    }));
});

describe('namespaces used by an earlier run', { skip: skipUnlessRoot() }, () => {
  test('links an earlier run left half made are removed at the start; the routes of the namespace stay untouched', async () => {
    const label = `kh${hex(4)}`;
    const [ns1, ns2] = [`khn${hex(4)}`, `khm${hex(4)}`];
    const agents: TestAgent[] = [];
    const start = async (): Promise<TestAgent> => {
      const agent = await TestAgent.start({ label });
      agents.push(agent);
      return agent;
    };
    const config = [...pair(ns1, ns2), ...gatewayRoutes(ns1)] as Item[];
    try {
      ip(null, ['netns', 'add', ns1]);
      ip(null, ['netns', 'add', ns2]);
      const first = await start();
      await first.replaceAll(...config);
      await first.waitConfigured(['route', 'def'], ['route', 'lan']);
      await first.close();
      // Killed between making pairs and marking them: in the creating group, no alias.
      for (let i = 0; i < 3; i++)
        ip(ns1, [
          'link',
          'add',
          `hm${i}`,
          'group',
          String(creatingGroup(label)),
          'type',
          'veth',
          'peer',
          'name',
          `hp${i}`,
          'netns',
          ns2,
        ]);
      const second = await start();
      const record = await second.replaceAll(...config);
      await eventually(() => assert.equal(link(ns1, 'hm0'), undefined, 'half-made links removed'));
      await pause(300);
      const routeOps = second.engine
        .transactions()
        .flatMap((t) =>
          t.operations
            .filter((o) => o.descriptor === 'route')
            .map((o) => `${t.seq} ${o.kind} ${o.key} ${o.why}`),
        );
      assert.deepEqual(
        routeOps,
        [],
        `route operations at the start: ${JSON.stringify(routeOps)} (first record ${record.seq})`,
      );
      assertGatewayRoutes(ns1);
    } finally {
      for (const agent of agents) await agent.close();
      ipTry(null, ['netns', 'del', ns1]);
      ipTry(null, ['netns', 'del', ns2]);
    }
  });

  test('a route deleted while the agent was down, the last item of a namespace someone else made: removed at the next start', async () => {
    const label = `kr${hex(4)}`;
    const ns1 = `krn${hex(4)}`;
    const used = new MemoryUsedNamespaces();
    const agents: TestAgent[] = [];
    const start = async (): Promise<TestAgent> => {
      const agent = await TestAgent.start({ label, usedNamespaces: used });
      agents.push(agent);
      return agent;
    };
    try {
      ip(null, ['netns', 'add', ns1]);
      ip(ns1, ['link', 'add', 'rx0', 'type', 'veth', 'peer', 'name', 'rx1']);
      ip(ns1, ['link', 'set', 'rx0', 'up']);
      ip(ns1, ['addr', 'add', '10.61.0.1/24', 'dev', 'rx0']);
      const first = await start();
      await first.replaceAll([
        'route',
        'r',
        {
          name: 'r',
          namespace: named(ns1),
          interface: 'rx0',
          dst_ip_addr: '10.62.0.0/16',
          gw_addr: '10.61.0.2',
        },
      ]);
      // Written down as soon as the configuration names it (a crash then must not lose it).
      assert.deepEqual(used.ids(), [`named/${ns1}`]);
      await first.waitConfigured(['route', 'r']);
      await first.close();
      assert.deepEqual(used.ids(), [`named/${ns1}`], 'where it made something is written down');

      // A start stopped before its first full read (a store that does not answer) forgets nothing.
      await (await start()).close();
      assert.deepEqual(used.ids(), [`named/${ns1}`], 'still written down');

      // The store lost the route meanwhile: the next start has no item naming ns1.
      const second = await start();
      await second.replaceAll();
      await eventually(() => assert.ok(!routes(ns1).some((r) => r.dst === '10.62.0.0/16'), 'route removed'));
      assert.ok(
        routes(ns1).some((r) => r.dst === '10.61.0.0/24'),
        "the kernel's own route stays",
      );
      await pause(1300); // written down a second after the change
      assert.deepEqual(used.ids(), [], 'nothing of ours is left there');
      assert.equal(second.plugin.views.get(`named/${ns1}`), undefined, 'and its view is closed');
      await second.close();
    } finally {
      for (const agent of agents) await agent.close();
      ipTry(null, ['netns', 'del', ns1]);
    }
  });
});

describe('routes and ARP entries naming an interface item', { skip: skipUnlessRoot() }, () => {
  test("wait for that item: never put on someone else's link that has its host name while the item fails", () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const a = (host: string): Record<string, unknown> =>
        veth('a', 'b', ns1!, { host_if_name: host, ip_addresses: ['10.0.5.1/24'] });
      const items: [ItemKind, string, unknown][] = [
        ['interface', 'a', a('ha')],
        ['interface', 'b', veth('b', 'a', ns2!, { host_if_name: 'hb', ip_addresses: ['10.0.5.2/24'] })],
        [
          'route',
          'r',
          {
            name: 'r',
            namespace: named(ns1!),
            interface: 'a',
            dst_ip_addr: '10.35.0.0/16',
            gw_addr: '10.0.5.2',
          },
        ],
        ['arp', 'n', arpEntry('n', ns1!, 'a', '10.0.5.50', '02:00:00:00:05:50')],
      ];
      await agent.put(...items);
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b'], ['route', 'r'], ['arp', 'n']);
      // Someone's pair in ns1, up, in the same network; then the item asks for its host name.
      ip(ns1!, ['link', 'add', 'hx', 'type', 'veth', 'peer', 'name', 'hy']);
      ip(ns1!, ['link', 'set', 'hx', 'up']);
      ip(ns1!, ['link', 'set', 'hy', 'up']);
      ip(ns1!, ['addr', 'add', '10.0.5.77/24', 'dev', 'hx']);
      await agent.put(['interface', 'a', a('hx')]);
      await agent.waitFor('interface', 'a', 'failed', /hx/);
      await pause(300);
      assert.ok(
        !routes(ns1!).some((r) => r.dev === 'hx' && r.dst === '10.35.0.0/16'),
        'no route of ours through their link',
      );
      assert.ok(
        !neighbours(ns1!, 'hx').some((n) => n.dst === '10.0.5.50'),
        'no ARP entry of ours on their link',
      );
    }));
});

describe('an IPv6 gateway route in a table of its own, across a restart', { skip: skipUnlessRoot() }, () => {
  /** Runs fn with two fresh named namespaces and an agent; cleans up whatever happens. */
  async function withRestarts(fn: (ns1: string, ns2: string, label: string) => Promise<void>): Promise<void> {
    const prefix = `wtd${hex(2)}`;
    const [ns1, ns2] = [`${prefix}n1`, `${prefix}n2`];
    try {
      for (const ns of [ns1, ns2]) ip(null, ['netns', 'add', ns]);
      await fn(ns1, ns2, `wtd${hex(3)}`);
    } finally {
      for (const ns of [ns1, ns2]) ipTry(null, ['netns', 'del', ns]);
    }
  }

  function items(ns1: string, ns2: string, withAddress = true): Item[] {
    return [
      [
        'interface',
        'a',
        veth('a', 'b', ns1, {
          host_if_name: 'p7a',
          ...(withAddress ? { ip_addresses: ['fd77:7::2/64'] } : {}),
        }),
      ],
      ['interface', 'b', veth('b', 'a', ns2, { host_if_name: 'p7b', ip_addresses: ['fd77:7::1/64'] })],
      [
        'route',
        'host',
        {
          name: 'host',
          namespace: named(ns1),
          interface: 'a',
          dst_ip_addr: 'fd77:7::112/128',
          gw_addr: 'fd77:7::1',
          table: 212,
        },
      ],
      [
        'route',
        'def',
        {
          name: 'def',
          namespace: named(ns1),
          interface: 'a',
          default: true,
          gw_addr: 'fd77:7::1',
          table: 212,
        },
      ],
    ];
  }

  async function started(
    label: string,
    all: Item[],
    before?: () => Promise<void> | void,
  ): Promise<TestAgent> {
    await before?.();
    const agent = await TestAgent.start({ label });
    await agent.replaceAll(...all);
    return agent;
  }

  /** The routes in the kernel's table 212 of ns1 (waited for), and every item configured. */
  async function assertConfigured(agent: TestAgent, ns1: string): Promise<void> {
    await eventually(() => {
      const list = routes(ns1, 6, '212');
      assert.ok(
        list.some((r) => r.dst === 'fd77:7::112' && r.gateway === 'fd77:7::1'),
        JSON.stringify(list),
      );
      assert.ok(
        list.some((r) => r.dst === 'default' && r.gateway === 'fd77:7::1'),
        JSON.stringify(list),
      );
    }, 4000);
    await agent.waitConfigured(['interface', 'a'], ['interface', 'b'], ['route', 'host'], ['route', 'def']);
  }

  const cases: [string, (ns1: string, ns2: string) => void, boolean?][] = [
    ['nothing changed', () => undefined],
    ['the pair deleted while down (made again at the start)', (ns1) => void ip(ns1, ['link', 'del', 'p7a'])],
    ['the address removed while down', (ns1) => void ip(ns1, ['addr', 'flush', 'dev', 'p7a'])],
    ['the link set down while down', (ns1) => void ip(ns1, ['link', 'set', 'p7a', 'down'])],
    [
      'the namespace deleted and made again while down',
      (ns1) => {
        ip(null, ['netns', 'del', ns1]);
        ip(null, ['netns', 'add', ns1]);
      },
    ],
    ['the address put just before the stop', () => undefined, true],
  ];
  for (const quick of [true, false])
    test(`the namespace deleted and made again while the agent runs (${quick ? 'at once' : 'after it noticed'}): configured again`, () =>
      withRestarts(async (ns1, ns2, label) => {
        const agent = await started(label, items(ns1, ns2));
        try {
          await assertConfigured(agent, ns1);
          ip(null, ['netns', 'del', ns1]);
          if (!quick) await agent.waitFor('route', 'host', 'pending');
          ip(null, ['netns', 'add', ns1]);
          await assertConfigured(agent, ns1);
        } finally {
          await agent.close();
        }
      }));
  for (const [what, whileDown, addressLast] of cases)
    test(`${what}: configured after the restart`, () =>
      withRestarts(async (ns1, ns2, label) => {
        let agent = await started(label, items(ns1, ns2, !addressLast));
        try {
          if (addressLast) {
            await agent.waitFor('route', 'host', 'pending', /waiting for gateway fd77:7::1/);
            await agent.put(...items(ns1, ns2));
          } else await assertConfigured(agent, ns1);
          await agent.close();
          agent = await started(label, items(ns1, ns2), () => whileDown(ns1, ns2));
          await assertConfigured(agent, ns1);
        } finally {
          await agent.close();
        }
      }));
});
