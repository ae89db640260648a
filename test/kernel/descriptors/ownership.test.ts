/**
 * Ownership, resync and drift through engine + Linux descriptors on a real kernel, checked with
 * `ip -json`: after the agent stops and a fresh one starts over a changed desired set, what is ours
 * and unwanted is removed, what is ours and wanted is kept (same ifindex, no down/up) or fixed in
 * place, and what is not ours is never touched; a resync over a right state writes nothing; links,
 * addresses, MTUs, routes and neighbours changed behind the agent's back are put back within a second.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { deleteNamespace, eventually, ip, skipUnlessRoot } from '../../helpers/kernel.js';
import type { ItemKind } from '../../../src/model/index.js';
import type { TransactionRecord } from '../../../src/scheduler/index.js';
import {
  addresses,
  arpEntry,
  hex,
  isUp,
  link,
  linkOrFail,
  named,
  neighbours,
  routes,
  TestAgent,
  veth,
  withAgent,
  writes,
} from './harness.js';

type Item = [ItemKind, string, unknown];

function carrierChanges(ns: string, name: string): number {
  const run = spawnSync('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${name}/carrier_changes`], {
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  return Number(run.stdout.trim());
}

/** Keys (config and derived) a transaction wrote to. */
function writtenKeys(record: TransactionRecord): string[] {
  return record.operations.filter((op) => op.outcome === 'done').map((op) => `${op.kind} ${op.key}`);
}

/**
 * Two namespaces, and agents started as restarts of a label would be (`start(label)`); everything
 * goes afterwards, whatever happened.
 */
async function twoNamespaceLab(
  prefix: string,
  run: (lab: { ns1: string; ns2: string; start: (label: string) => Promise<TestAgent> }) => Promise<void>,
): Promise<void> {
  const ns1 = `${prefix}${hex(3)}`;
  const ns2 = `${prefix}${hex(3)}`;
  const agents: TestAgent[] = [];
  const start = async (label: string): Promise<TestAgent> => {
    const agent = await TestAgent.start({ label });
    agents.push(agent);
    return agent;
  };
  try {
    ip(null, ['netns', 'add', ns1]);
    ip(null, ['netns', 'add', ns2]);
    await run({ ns1, ns2, start });
  } finally {
    for (const agent of agents) await agent.close();
    deleteNamespace(ns1);
    deleteNamespace(ns2);
  }
}

describe('ownership and resync', { skip: skipUnlessRoot() }, () => {
  test('a fresh agent over a changed desired set: ours-unwanted removed, ours-wanted kept or fixed, not ours untouched', async () => {
    const prefix = `k${hex(2)}`;
    const ns1 = `${prefix}o1${hex(2)}`;
    const ns2 = `${prefix}o2${hex(2)}`;
    const label = `kt${hex(4)}`;
    const agents: TestAgent[] = [];
    try {
      ip(null, ['netns', 'add', ns1]);
      ip(null, ['netns', 'add', ns2]);
      // Not ours: a VETH made with ip, with an address, a route and a neighbour; a link another agent marked.
      ip(ns1, ['link', 'add', 'fo0', 'mtu', '1450', 'type', 'veth', 'peer', 'name', 'fo1']);
      ip(ns1, ['link', 'set', 'fo0', 'up']);
      ip(ns1, ['addr', 'add', '10.0.1.200/24', 'dev', 'fo0']);
      ip(ns1, ['route', 'add', '10.66.0.0/16', 'dev', 'fo0']);
      ip(ns1, ['neigh', 'add', '10.0.1.77', 'lladdr', '02:00:00:00:77:77', 'dev', 'fo0', 'nud', 'permanent']);
      ip(ns1, ['link', 'add', 'ot0', 'type', 'veth', 'peer', 'name', 'ot1']);
      ip(ns1, ['link', 'set', 'ot0', 'alias', `netns-agent:other${label}:c`]);
      const foreignBefore = {
        fo0: linkOrFail(ns1, 'fo0'),
        ot0: linkOrFail(ns1, 'ot0'),
        addresses: addresses(ns1, 'fo0'),
        routes: JSON.stringify(routes(ns1).filter((r) => r.dev === 'fo0')),
        neighbours: JSON.stringify(neighbours(ns1, 'fo0')),
      };

      const keep: Item[] = [
        [
          'interface',
          'a',
          veth('a', 'b', ns1, {
            host_if_name: 'ka',
            mtu: 1500,
            ip_addresses: ['10.0.1.1/24', 'fd00:1::1/64'],
          }),
        ],
        ['interface', 'b', veth('b', 'a', ns2, { host_if_name: 'kb', ip_addresses: ['10.0.1.2/24'] })],
        ['interface', 'f', veth('f', 'e', ns2, { host_if_name: 'kf' })],
        ['route', 'r1', { name: 'r1', namespace: named(ns1), interface: 'a', dst_ip_addr: '10.20.0.0/16' }],
        [
          'route',
          'r3',
          {
            name: 'r3',
            namespace: named(ns1),
            interface: 'a',
            dst_ip_addr: '10.30.0.0/16',
            gw_addr: '10.0.1.2',
            metric: 5,
          },
        ],
        ['arp', 'n1', arpEntry('n1', ns1, 'a', '10.0.1.50', '02:00:00:00:00:50')],
      ];
      const e = (mtu: number): Item => ['interface', 'e', veth('e', 'f', ns1, { host_if_name: 'ke', mtu })];
      const unwanted: Item[] = [
        ['interface', 'c', veth('c', 'd', ns1, { host_if_name: 'uc', ip_addresses: ['10.0.3.1/24'] })],
        ['interface', 'd', veth('d', 'c', ns2, { host_if_name: 'ud' })],
        ['route', 'r2', { name: 'r2', namespace: named(ns1), interface: 'a', dst_ip_addr: '10.21.0.0/16' }],
        ['arp', 'n2', arpEntry('n2', ns1, 'a', '10.0.1.51', '02:00:00:00:00:51')],
      ];

      const first = await TestAgent.start({ label });
      agents.push(first);
      await first.replaceAll(...keep, e(1500), ...unwanted);
      await first.waitConfigured(
        ...[...keep, e(1500), ...unwanted].map(([kind, name]) => [kind, name] as [ItemKind, string]),
      );
      const before = {
        ka: linkOrFail(ns1, 'ka'),
        kb: linkOrFail(ns2, 'kb'),
        ke: linkOrFail(ns1, 'ke'),
        kaCarrier: carrierChanges(ns1, 'ka'),
        kbCarrier: carrierChanges(ns2, 'kb'),
      };
      linkOrFail(ns1, 'uc');
      await first.close();

      // The kernel stays as it was.
      linkOrFail(ns1, 'uc');
      assert.ok(routes(ns1).some((r) => r.dst === '10.21.0.0/16'));

      const second = await TestAgent.start({ label });
      agents.push(second);
      const record = await second.replaceAll(...keep, e(1400));
      await second.engine.idle();
      await second.waitConfigured(
        ...[...keep, e(1400)].map(([kind, name]) => [kind, name] as [ItemKind, string]),
      );

      // Ours and unwanted: removed.
      await eventually(() => {
        assert.equal(link(ns1, 'uc'), undefined, 'uc removed');
        assert.equal(link(ns2, 'ud'), undefined, 'ud removed');
        assert.equal(
          routes(ns1).find((r) => r.dst === '10.21.0.0/16'),
          undefined,
          'route r2 removed',
        );
        assert.equal(
          neighbours(ns1, 'ka').find((n) => n.dst === '10.0.1.51'),
          undefined,
          'neighbour n2 removed',
        );
      });
      // Ours and wanted: kept, not flapped.
      const ka = linkOrFail(ns1, 'ka');
      const kb = linkOrFail(ns2, 'kb');
      assert.equal(ka.ifindex, before.ka.ifindex);
      assert.equal(kb.ifindex, before.kb.ifindex);
      assert.ok(isUp(ka) && isUp(kb));
      assert.equal(carrierChanges(ns1, 'ka'), before.kaCarrier, 'ka never went down');
      assert.equal(carrierChanges(ns2, 'kb'), before.kbCarrier, 'kb never went down');
      assert.deepEqual(addresses(ns1, 'ka'), ['10.0.1.1/24', 'fd00:1::1/64']);
      assert.ok(routes(ns1).some((r) => r.dst === '10.20.0.0/16' && r.dev === 'ka'));
      assert.ok(routes(ns1).some((r) => r.dst === '10.30.0.0/16' && r.gateway === '10.0.1.2'));
      assert.ok(neighbours(ns1, 'ka').some((n) => n.dst === '10.0.1.50' && n.lladdr === '02:00:00:00:00:50'));
      const touched = writtenKeys(record);
      for (const [kind, name] of keep) {
        const key = second.key(kind, name);
        assert.deepEqual(
          touched.filter((t) => t.endsWith(` ${key}`) || t.includes(` ${key}/`)),
          [],
          `nothing written for ${key}: ${touched.join(', ')}`,
        );
      }
      // Ours, wanted with a change: fixed in place.
      const ke = linkOrFail(ns1, 'ke');
      assert.equal(ke.ifindex, before.ke.ifindex);
      assert.equal(ke.mtu, 1400);

      // Not ours: untouched.
      const fo0 = linkOrFail(ns1, 'fo0');
      assert.equal(fo0.ifindex, foreignBefore.fo0.ifindex);
      assert.equal(fo0.mtu, 1450);
      assert.ok(isUp(fo0));
      assert.deepEqual(addresses(ns1, 'fo0'), foreignBefore.addresses);
      assert.equal(JSON.stringify(routes(ns1).filter((r) => r.dev === 'fo0')), foreignBefore.routes);
      assert.equal(JSON.stringify(neighbours(ns1, 'fo0')), foreignBefore.neighbours);
      const ot0 = linkOrFail(ns1, 'ot0');
      assert.equal(ot0.ifindex, foreignBefore.ot0.ifindex);
      assert.equal(ot0.ifalias, `netns-agent:other${label}:c`);

      // A resync over the right state writes nothing, in process ...
      const resync = await second.engine.resync();
      assert.equal(writes([resync]), 0, `resync writes: ${writtenKeys(resync).join(', ')}`);
      await second.close();

      // ... and after another restart with the same configuration.
      const third = await TestAgent.start({ label });
      agents.push(third);
      const again = await third.replaceAll(...keep, e(1400));
      assert.equal(writes([again]), 0, `restart resync writes: ${writtenKeys(again).join(', ')}`);
      await third.waitConfigured(
        ...[...keep, e(1400)].map(([kind, name]) => [kind, name] as [ItemKind, string]),
      );
      assert.equal(linkOrFail(ns1, 'ka').ifindex, before.ka.ifindex);
      assert.equal(carrierChanges(ns1, 'ka'), before.kaCarrier);
    } finally {
      for (const agent of agents) await agent.close();
      deleteNamespace(ns1);
      deleteNamespace(ns2);
    }
  });
});

describe('addresses changed while the agent was down', { skip: skipUnlessRoot() }, () => {
  test('an address a VETH no longer lists is taken off its link at the restart (the link kept); the IPv6 link-local stays', () =>
    twoNamespaceLab('kd', async ({ ns1, ns2, start }) => {
      const label = `kda${hex(3)}`;
      const pair = (addressesA: string[]): Item[] => [
        ['interface', 'a', veth('a', 'b', ns1, { host_if_name: 'ra', ip_addresses: addressesA })],
        ['interface', 'b', veth('b', 'a', ns2, { host_if_name: 'rb', ip_addresses: ['10.7.0.2/24'] })],
      ];
      const first = await start(label);
      await first.replaceAll(...pair(['10.7.0.1/24', 'fd07::1/64']));
      await first.waitConfigured(['interface', 'a'], ['interface', 'b']);
      const index = linkOrFail(ns1, 'ra').ifindex;
      await first.close();

      const second = await start(label);
      await second.replaceAll(...pair(['10.7.0.11/24']));
      await second.waitConfigured(['interface', 'a'], ['interface', 'b']);
      await eventually(() => assert.deepEqual(addresses(ns1, 'ra'), ['10.7.0.11/24']));
      assert.equal(linkOrFail(ns1, 'ra').ifindex, index, 'the same link');
      // Someone's address added later is not taken off by a resync of the running agent.
      ip(ns1, ['addr', 'add', '10.7.0.100/24', 'dev', 'ra']);
      const later = await second.engine.resync();
      assert.equal(writes([later]), 0, `resync writes: ${writtenKeys(later).join(', ')}`);
      assert.deepEqual(addresses(ns1, 'ra').sort(), ['10.7.0.100/24', '10.7.0.11/24']);
      const linkLocal = ip(ns1, ['-6', 'addr', 'show', 'dev', 'ra', 'scope', 'link']);
      assert.match(linkLocal, /fe80::/, 'the link-local address stays');
    }));
});

describe('agents with other labels on the host', { skip: skipUnlessRoot() }, () => {
  test("another label's routes and ARP entries (through its links) are never taken as ours: not removed at a restart, their place not taken", () =>
    twoNamespaceLab('ko', async ({ ns1, ns2, start }) => {
      const [labelA, labelB] = [`koa${hex(3)}`, `kob${hex(3)}`];
      // Each agent its own pair between ns1 and ns2; A a route and an ARP entry in ns1 through its own.
      const pairOf = (p: string, net: number): Item[] => [
        ['interface', `${p}1`, veth(`${p}1`, `${p}2`, ns1, { ip_addresses: [`10.${net}.0.1/24`] })],
        ['interface', `${p}2`, veth(`${p}2`, `${p}1`, ns2, { ip_addresses: [`10.${net}.0.2/24`] })],
      ];
      const routeVia = (p: string, gateway: string): Item => [
        'route',
        'shared',
        {
          name: 'shared',
          namespace: named(ns1),
          interface: `${p}1`,
          dst_ip_addr: '10.50.0.0/16',
          gw_addr: gateway,
          metric: 100,
        },
      ];
      const arpA: Item = ['arp', 'n', arpEntry('n', ns1, 'oa1', '10.61.0.9', '02:00:00:00:61:09')];
      const a = await start(labelA);
      const itemsA = [...pairOf('oa', 61), routeVia('oa', '10.61.0.2'), arpA];
      await a.replaceAll(...itemsA);
      await a.waitConfigured(...itemsA.map(([kind, name]) => [kind, name] as [ItemKind, string]));
      // B's own route naming no interface: the kernel sends it through A's link (its gateway's
      // network): still B's.
      const itemsB: Item[] = [
        ...pairOf('ob', 62),
        [
          'route',
          'via-a',
          { name: 'via-a', namespace: named(ns1), dst_ip_addr: '10.70.0.0/16', gw_addr: '10.61.0.2' },
        ],
      ];
      const b = await start(labelB);
      await b.replaceAll(...itemsB);
      await b.waitConfigured(...itemsB.map(([kind, name]) => [kind, name] as [ItemKind, string]));
      await a.close(); // A down: nothing would put its entries back

      // B restarts: A's route and entry are not B's "ours and no longer wanted".
      await b.close();
      const b2 = await start(labelB);
      const restart = await b2.replaceAll(...itemsB);
      assert.equal(writes([restart]), 0, `B's restart writes: ${JSON.stringify(restart.operations)}`);
      await b2.waitConfigured(...itemsB.map(([kind, name]) => [kind, name] as [ItemKind, string]));
      assert.ok(
        routes(ns1).some((r) => r.dst === '10.70.0.0/16' && r.dev === 'oa1'),
        "B's route through A's link kept",
      );
      const routeA = (): boolean =>
        routes(ns1).some((r) => r.dst === '10.50.0.0/16' && r.gateway === '10.61.0.2' && r.dev === 'oa1');
      assert.ok(routeA(), "A's route kept");
      assert.ok(
        neighbours(ns1, 'oa1').some((n) => n.dst === '10.61.0.9'),
        "A's ARP entry kept",
      );

      // B wants the same place: refused, naming A; A's route stays.
      await b2.put(routeVia('ob', '10.62.0.2'));
      const failed = await b2.waitFor('route', 'shared', 'failed', new RegExp(`agent labelled ${labelA}`));
      assert.match(failed.error?.message ?? '', /not replaced/);
      assert.ok(routeA(), "A's route still there");

      // B's route and ARP entry naming A's link: not made (they would pass for A's), naming A.
      await b2.put(
        [
          'route',
          'on-a',
          { name: 'on-a', namespace: named(ns1), interface: 'oa1', dst_ip_addr: '10.63.0.0/24' },
        ],
        ['arp', 'on-a', arpEntry('on-a', ns1, 'oa1', '10.61.0.77', '02:00:00:00:61:77')],
      );
      for (const kind of ['route', 'arp'] as const) {
        const refused = await b2.waitFor(
          kind,
          'on-a',
          'failed',
          new RegExp(`link of the agent labelled ${labelA}`),
        );
        assert.equal(refused.error?.code, 'ERR_LINK_OF_ANOTHER_AGENT');
      }
      assert.ok(!routes(ns1).some((r) => r.dst === '10.63.0.0/24'), "no route on A's link");
      assert.ok(!neighbours(ns1, 'oa1').some((n) => n.dst === '10.61.0.77'), "no entry on A's link");
    }));
});

describe('drift', { skip: skipUnlessRoot() }, () => {
  const WITHIN = 1000;

  test("a VETH end moved into a namespace the agent looks into (its peer's, the agent's own) is made again where it belongs", () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const items: Item[] = [
        ['interface', 'a', veth('a', 'b', ns1!, { host_if_name: 'vma', ip_addresses: ['10.0.4.1/24'] })],
        ['interface', 'b', veth('b', 'a', ns2!, { host_if_name: 'vmb', ip_addresses: ['10.0.4.2/24'] })],
      ];
      await agent.put(...items);
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
      const whole = (): void => {
        assert.deepEqual(addresses(ns1!, 'vma'), ['10.0.4.1/24']);
        assert.deepEqual(addresses(ns2!, 'vmb'), ['10.0.4.2/24']);
        assert.equal(link(null, 'vma'), undefined, 'nothing left in the default namespace');
        assert.equal(link(ns2!, 'vma'), undefined, `nothing left in ${ns2}`);
      };
      // (`ip -n` cannot name a namespace as the target: through `ip netns exec`.)
      ip(null, ['netns', 'exec', ns1!, 'ip', 'link', 'set', 'vma', 'netns', ns2!]);
      await eventually(whole, 3000);
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
      ip(null, ['netns', 'exec', ns1!, 'ip', 'link', 'set', 'vma', 'netns', '1']);
      await eventually(whole, 3000);
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
    }));

  test('a static ARP entry of ours made dynamic (nud stale) by someone is made static again within a second', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const items: Item[] = [
        ['interface', 'a', veth('a', 'b', ns1!, { host_if_name: 'sa', ip_addresses: ['10.0.3.1/24'] })],
        ['interface', 'b', veth('b', 'a', ns2!, { host_if_name: 'sb' })],
        ['arp', 'n', arpEntry('n', ns1!, 'a', '10.0.3.50', '02:00:00:00:03:50')],
      ];
      await agent.put(...items);
      await agent.waitConfigured(...items.map(([kind, name]) => [kind, name] as [ItemKind, string]));
      const state = (): string[] => neighbours(ns1!, 'sa').find((n) => n.dst === '10.0.3.50')?.state ?? [];
      assert.deepEqual(state(), ['PERMANENT']);
      ip(ns1!, ['neigh', 'change', '10.0.3.50', 'lladdr', '02:00:00:00:03:50', 'dev', 'sa', 'nud', 'stale']);
      await eventually(() => assert.deepEqual(state(), ['PERMANENT']), WITHIN);
      assert.ok(agent.logs.some((l) => /neighbour entry changed outside the agent/.test(l.message ?? '')));
    }));

  test('a managed VETH deleted, an address removed, an MTU changed, a route or neighbour deleted or replaced: put back within a second', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const items: Item[] = [
        [
          'interface',
          'a',
          veth('a', 'b', ns1!, {
            host_if_name: 'da',
            mtu: 1500,
            ip_addresses: ['10.0.1.1/24', 'fd00:1::1/64'],
          }),
        ],
        [
          'interface',
          'b',
          veth('b', 'a', ns2!, { host_if_name: 'db', mtu: 1500, ip_addresses: ['10.0.1.2/24'] }),
        ],
        [
          'route',
          'r',
          {
            name: 'r',
            namespace: named(ns1!),
            interface: 'a',
            dst_ip_addr: '10.30.0.0/16',
            gw_addr: '10.0.1.2',
          },
        ],
        ['arp', 'n', arpEntry('n', ns1!, 'a', '10.0.1.50', '02:00:00:00:00:50')],
      ];
      await agent.put(...items);
      await agent.waitConfigured(...items.map(([kind, name]) => [kind, name] as [ItemKind, string]));
      const whole = (): void => {
        const da = linkOrFail(ns1!, 'da');
        const db = linkOrFail(ns2!, 'db');
        assert.ok(isUp(da) && isUp(db), 'both ends up');
        assert.equal(da.mtu, 1500);
        assert.deepEqual(addresses(ns1!, 'da'), ['10.0.1.1/24', 'fd00:1::1/64']);
        assert.deepEqual(addresses(ns2!, 'db'), ['10.0.1.2/24']);
        assert.ok(
          routes(ns1!).some((r) => r.dst === '10.30.0.0/16' && r.gateway === '10.0.1.2' && r.dev === 'da'),
          'route back',
        );
        assert.ok(
          neighbours(ns1!, 'da').some((n) => n.dst === '10.0.1.50'),
          'neighbour back',
        );
      };

      const index = linkOrFail(ns1!, 'da').ifindex;
      ip(ns1!, ['link', 'del', 'da']);
      await eventually(whole, WITHIN);
      assert.notEqual(linkOrFail(ns1!, 'da').ifindex, index, 'a new pair');
      await agent.waitConfigured(...items.map(([kind, name]) => [kind, name] as [ItemKind, string]));

      // The fact is logged.
      assert.ok(
        agent.logs.some(
          (l) =>
            /changed outside the agent/.test(l.message ?? '') &&
            JSON.stringify(l.fields).includes(agent.key('interface', 'a')),
        ),
        JSON.stringify(agent.logs),
      );

      ip(ns1!, ['addr', 'del', '10.0.1.1/24', 'dev', 'da']);
      await eventually(whole, WITHIN);
      assert.ok(
        agent.logs.some((l) => /address removed outside the agent/.test(l.message ?? '')),
        'address drift logged',
      );

      ip(ns1!, ['link', 'set', 'da', 'mtu', '1300']);
      await eventually(whole, WITHIN);

      ip(ns1!, ['link', 'set', 'da', 'down']);
      await eventually(whole, WITHIN);

      ip(ns1!, ['route', 'del', '10.30.0.0/16']);
      await eventually(whole, WITHIN);
      const logged = (pattern: RegExp): boolean => agent.logs.some((l) => pattern.test(l.message ?? ''));
      assert.ok(logged(/route removed outside the agent/), 'route drift logged');

      // Changed, not removed: another route put at its place (the kernel reports only the new one).
      ip(ns1!, ['route', 'replace', '10.30.0.0/16', 'dev', 'da']);
      await eventually(whole, WITHIN);
      assert.ok(logged(/route replaced outside the agent/), 'route replacement logged');

      ip(ns1!, ['neigh', 'del', '10.0.1.50', 'dev', 'da']);
      await eventually(whole, WITHIN);

      ip(ns1!, [
        'neigh',
        'replace',
        '10.0.1.50',
        'lladdr',
        '02:00:00:00:00:99',
        'dev',
        'da',
        'nud',
        'permanent',
      ]);
      await eventually(() => {
        assert.deepEqual(
          neighbours(ns1!, 'da')
            .filter((n) => n.dst === '10.0.1.50')
            .map((n) => n.lladdr),
          ['02:00:00:00:00:50'],
          'the MAC put back',
        );
      }, WITHIN);
      assert.ok(logged(/neighbour entry changed outside the agent/), 'neighbour change logged');

      // The peer's end deleted from its side works the same.
      ip(ns2!, ['link', 'del', 'db']);
      await eventually(whole, WITHIN);
      await agent.waitConfigured(...items.map(([kind, name]) => [kind, name] as [ItemKind, string]));
    }));
});
