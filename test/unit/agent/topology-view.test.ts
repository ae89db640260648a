// The pure parts behind the topology page and the plan: the topology built from desired values and
// states, the per-item plan summary, the assumed kernel facts, and the POST /v1/plan body.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseItem, type LinuxInterface, type LinuxRoute } from '../../../src/model/index.js';
import { buildTopology, type TopologyInput } from '../../../src/agent/topology.js';
import { assumedFacts, foreseeFailures, prefixCovers, summarizePlan } from '../../../src/agent/plan-view.js';
import { PlanBodyError, parsePlanBody } from '../../../src/api/plan-request.js';
import type { DryRun } from '../../../src/scheduler/index.js';
import { rig } from '../scheduler/setup.js';

const label = 'vpp1';
const key = (kind: string, name: string): string => `/vnf-agent/${label}/linux/config/v1/${kind}/${name}`;
const value = <T>(k: string, json: unknown): T => parseItem(k, json).value as T;

const veth1 = value<LinuxInterface>(key('interface', 'veth1'), {
  name: 'veth1',
  type: 'VETH',
  enabled: true,
  host_if_name: 'veth1Name',
  ip_addresses: ['192.168.22.1/24'],
  namespace: { type: 'NAMED_NS', name: 'ns1' },
  veth: { peer_if_name: 'veth2' },
});
const msEnd = value<LinuxInterface>(key('interface', 'ms-eth0'), {
  type: 'DUMMY',
  namespace: { type: 'MICROSERVICE_REF_NS', microservice: 'ms-a' },
});
const route = value<LinuxRoute>(key('route', 'to-lan'), {
  namespace: { type: 'NAMED_NS', name: 'ns1' },
  interface: 'veth1',
  dst_ip_addr: '10.10.0.0/16',
  gw_addr: '192.168.22.2',
});

describe('buildTopology', () => {
  const items: TopologyInput[] = [
    { key: key('interface', 'veth1'), status: { state: 'configured' }, value: veth1 },
    {
      key: key('interface', 'ms-eth0'),
      status: { state: 'pending', reason: 'waiting for microservice ms-a' },
      value: msEnd,
    },
    {
      key: key('route', 'to-lan'),
      status: { state: 'pending', reason: 'waiting for gateway' },
      value: route,
    },
    {
      key: key('arp', 'bad'),
      status: { state: 'invalid', fieldErrors: [{ field: 'ip_addr', message: 'no' }] },
      value: undefined,
    },
  ];
  const topology = buildTopology({
    label,
    items,
    kernel: new Map([
      [
        key('interface', 'veth1'),
        {
          name: 'veth1',
          hostIfName: 'veth1Name',
          namespace: 'named/ns1',
          ifindex: 7,
          operState: 'up',
          mtu: 1500,
        },
      ],
    ]),
    available: new Set(['named/ns1']),
    container: (l) => (l === 'ms-a' ? { id: 'c0ffee', name: 'web', pid: 42 } : undefined),
  });

  test('namespaces by kind with titles, availability and the container of a microservice', () => {
    assert.deepEqual(
      topology.namespaces.map((n) => [n.id, n.title, n.available, n.container?.id]),
      [
        ['microservice/ms-a', 'microservice ms-a', false, 'c0ffee'],
        ['named/ns1', 'named ns1', true, undefined],
      ],
    );
  });

  test('interfaces with their peer key, kernel view and state; routes; never-valid items unplaced', () => {
    const v = topology.interfaces.find((i) => i.name === 'veth1');
    assert.equal(v?.peer, key('interface', 'veth2'));
    assert.equal(v?.kernel?.ifindex, 7);
    assert.equal(v?.hostIfName, 'veth1Name');
    const ms = topology.interfaces.find((i) => i.name === 'ms-eth0');
    assert.equal(ms?.state, 'pending');
    assert.equal(ms?.reason, 'waiting for microservice ms-a');
    assert.equal(topology.routes[0]?.gateway, '192.168.22.2');
    assert.equal(topology.routes[0]?.namespace, 'named/ns1');
    assert.deepEqual(
      topology.unplaced.map((u) => [u.kind, u.name, u.state]),
      [['arp', 'bad', 'invalid']],
    );
  });
});

/** A dry run as the engine returns it, with only what the summary reads. */
function dryRun(parts: {
  deletes?: { key: string; descriptor: string; recreate?: boolean; why?: string; value?: unknown }[];
  applies?: {
    key: string;
    descriptor: string;
    kind?: 'create' | 'update';
    recreate?: boolean;
    why?: string;
  }[];
  outcomes?: [string, { state: 'pending'; reason: string } | { state: 'configured' | 'removed' }][];
  refused?: { key: string; fieldErrors: { field: string; message: string }[] }[];
  revalidated?: { key: string; fieldErrors: { field: string; message: string }[] }[];
}): DryRun {
  const op =
    (kind: string) =>
    (o: {
      key: string;
      descriptor: string;
      kind?: string;
      recreate?: boolean;
      why?: string;
      value?: unknown;
    }) => ({
      kind: o.kind ?? kind,
      key: o.key,
      value: o.value,
      descriptor: { name: o.descriptor },
      recreate: o.recreate ?? false,
      why: o.why ?? 'new',
    });
  return {
    actions: [],
    plan: {
      deletes: (parts.deletes ?? []).map(op('delete')),
      applies: (parts.applies ?? []).map(op('create')),
      outcomes: new Map(parts.outcomes ?? []),
      regionSize: 0,
    },
    refused: parts.refused ?? [],
    revalidated: parts.revalidated ?? [],
  } as unknown as DryRun;
}

describe('summarizePlan', () => {
  test('one entry per item: derived addresses fold into their interface; re-create, remove, pending', () => {
    const i1 = key('interface', 'veth1');
    const entries = summarizePlan(
      dryRun({
        deletes: [
          { key: i1, descriptor: 'interface', recreate: true },
          { key: key('interface', 'old'), descriptor: 'interface', why: 'no longer desired' },
          { key: `${key('interface', 'dummy0')}/address/10.0.0.1/24`, descriptor: 'address' },
          { key: `${key('interface', 'dummy1')}/address/10.0.1.1/24`, descriptor: 'address' },
        ],
        applies: [
          { key: 'named-namespace/ns1', descriptor: 'named-namespace' },
          { key: key('interface', 'dummy1'), descriptor: 'interface', kind: 'update', why: 'value changed' },
          { key: `${key('interface', 'dummy1')}/address/10.0.2.1/24`, descriptor: 'address' },
          { key: `${key('interface', 'dummy1')}/address/fd00::1/64`, descriptor: 'address' },
          { key: i1, descriptor: 'interface', recreate: true, why: 'value changed' },
          { key: `${i1}/veth-end`, descriptor: 'veth-end' },
        ],
        outcomes: [
          [key('route', 'r'), { state: 'pending', reason: 'waiting for interface veth1 to be up' }],
          [`${key('interface', 'x')}/veth-end`, { state: 'pending', reason: 'ignored: derived' }],
        ],
      }),
      label,
      (_key, reason) => `${reason}!`,
    );
    assert.deepEqual(
      entries.map((e) => [e.key.replace(`/vnf-agent/${label}/linux/config/v1/`, ''), e.change, e.why]),
      [
        ['interface/dummy0', 'change', 'removes address 10.0.0.1/24'],
        [
          'interface/dummy1',
          'change',
          'value changed; removes address 10.0.1.1/24; adds address 10.0.2.1/24; adds address fd00::1/64',
        ],
        ['interface/old', 'remove', 'no longer desired'],
        ['interface/veth1', 'recreate', 'value changed'],
        ['route/r', 'pending', 'waiting for interface veth1 to be up!'],
        ['named-namespace/ns1', 'create', 'new'],
      ],
    );
  });
});

test('summarizePlan: a new value refused while the current one stays in effect is invalid', () => {
  const entries = summarizePlan(
    dryRun({
      outcomes: [[key('interface', 'veth1'), { state: 'configured' }]],
      refused: [
        { key: key('interface', 'veth1'), fieldErrors: [{ field: 'host_if_name', message: 'claimed' }] },
      ],
    }),
    label,
    (_key, reason) => reason,
  );
  assert.deepEqual(
    entries.map((e) => [e.change, e.why]),
    [['invalid', 'host_if_name: claimed (its current value stays in effect)']],
  );
});

describe('summarizePlan: invalid items made valid, named namespaces left in place', () => {
  test('an invalid item the file makes valid is listed, also when its applied value stays as it is', async () => {
    const r = rig({}, { prefix: key('interface', '') });
    const a = key('interface', 'a');
    const b = key('interface', 'b');
    await r.put([a, { x: 1 }]);
    // Written straight into the store: invalid, its last valid value stays applied.
    await r.put([a, { x: 1, bad: true }], [b, { bad: true }]);
    assert.equal(r.state(a), 'invalid');
    for (const replace of [false, true]) {
      const dry = r.engine.plan({
        puts: [
          { key: a, value: { x: 1 } },
          { key: b, value: {} },
        ],
        replace,
      });
      assert.deepEqual(
        summarizePlan(dry, label, (_key, reason) => reason).map((e) => [e.key, e.change, e.why]),
        [
          [a, 'change', 'valid again, as it is in the kernel (was invalid: bad: is bad)'],
          [b, 'create', 'new (was invalid: bad: is bad)'],
        ],
        `replace: ${replace}`,
      );
    }
  });

  test('a named namespace no longer needed that the agent did not make is not removed', () => {
    const plan = dryRun({
      deletes: [
        { key: 'named-namespace/theirs', descriptor: 'named-namespace', why: 'no longer desired' },
        { key: 'named-namespace/ours', descriptor: 'named-namespace', why: 'no longer desired' },
      ],
      outcomes: [
        ['named-namespace/theirs', { state: 'removed' }],
        ['named-namespace/ours', { state: 'removed' }],
      ],
    });
    const summary = (kept?: Set<string>): string[][] =>
      summarizePlan(plan, label, (_key, reason) => reason, new Set(), kept).map((e) => [e.key, e.change]);
    assert.deepEqual(summary(new Set(['theirs'])), [['named-namespace/ours', 'remove']]);
    assert.deepEqual(summary(), [
      ['named-namespace/ours', 'remove'],
      ['named-namespace/theirs', 'remove'],
    ]);
  });
});

describe('assumedFacts', () => {
  test('a created named namespace is available, an enabled interface up, a gateway on its new network reachable', () => {
    const values = new Map<string, unknown>([
      [key('interface', 'veth1'), veth1],
      [key('route', 'to-lan'), route],
    ]);
    const facts = assumedFacts(
      dryRun({
        applies: [
          { key: 'named-namespace/ns1', descriptor: 'named-namespace' },
          { key: key('interface', 'veth1'), descriptor: 'interface' },
          { key: `${key('interface', 'veth1')}/address/192.168.22.1/24`, descriptor: 'address' },
        ],
        outcomes: [[key('route', 'to-lan'), { state: 'pending', reason: 'waiting for gateway' }]],
      }),
      label,
      (k) => values.get(k),
    );
    assert.deepEqual(
      facts.map((f) => f.key),
      [
        'fact/ns/named/ns1',
        'fact/link/named/ns1/veth1Name',
        'fact/link-up/named/ns1/veth1Name',
        'fact/reach/named/ns1/veth1Name/192.168.22.2',
      ],
    );
  });

  test("a gateway on the network of a link route the plan makes through the same interface is reachable (its table's or main's, link or host scope)", () => {
    const gatewayRoute = { ...route, gateway: '10.211.0.1', table: 200 };
    const linkRoute = (name: string, extra: Partial<LinuxRoute>): [string, LinuxRoute] => [
      key('route', name),
      { ...route, name, gateway: undefined, dst: '10.211.0.0/16', ...extra },
    ];
    const reach = 'fact/reach/named/ns1/veth1Name/10.211.0.1@200';
    const run = (made: [string, LinuxRoute]): string[] => {
      const values = new Map<string, unknown>([
        [key('interface', 'veth1'), veth1],
        [key('route', 'to-lan'), gatewayRoute],
        made,
      ]);
      return assumedFacts(
        dryRun({
          applies: [{ key: made[0], descriptor: 'route' }],
          outcomes: [[key('route', 'to-lan'), { state: 'pending', reason: 'waiting for gateway' }]],
        }),
        label,
        (k) => values.get(k),
      ).map((f) => f.key);
    };
    assert.deepEqual(run(linkRoute('main', { table: 0 })), [reach], 'main');
    assert.deepEqual(run(linkRoute('same', { table: 200 })), [reach], 'its own table');
    assert.deepEqual(run(linkRoute('host', { table: 0, scope: 'HOST' })), [reach], 'host scope');
    assert.deepEqual(run(linkRoute('other', { table: 300 })), [], 'another table');
    assert.deepEqual(run(linkRoute('global', { table: 0, scope: 'GLOBAL' })), [], 'global scope');
    assert.deepEqual(
      run(linkRoute('via', { table: 0, gateway: '192.168.22.2' })),
      [],
      'a route via a gateway',
    );
    assert.deepEqual(
      run(linkRoute('elsewhere', { table: 0, interface: 'veth9' })),
      [],
      'through another interface',
    );
  });

  test('an interface of ours given another host name: the link is there under the new name, no longer under the old', () => {
    const renamed = { ...veth1, hostIfName: 'veth1New' };
    const facts = assumedFacts(
      dryRun({ applies: [{ key: key('interface', 'veth1'), descriptor: 'interface', kind: 'update' }] }),
      label,
      (k) => (k === key('interface', 'veth1') ? renamed : undefined),
      {
        factHolds: (k) => k === 'fact/link-up/named/ns1/veth1Name' || k === 'fact/link/named/ns1/veth1Name',
        valueNow: (k) => (k === key('interface', 'veth1') ? veth1 : undefined),
      },
    );
    assert.deepEqual(
      facts.map((f) => `${f.key}${'deleted' in f ? ' deleted' : ''}`),
      [
        'fact/link/named/ns1/veth1New',
        'fact/link/named/ns1/veth1Name deleted',
        'fact/link-up/named/ns1/veth1Name deleted',
        'fact/link-up/named/ns1/veth1New',
      ],
    );
  });

  test('an interface removed, updated to disabled, or re-created elsewhere is no longer up where it was', () => {
    const veth2 = { ...veth1, name: 'veth2', hostIfName: 'veth2Name' };
    const values = new Map<string, unknown>([
      [key('interface', 'veth2'), { ...veth2, enabled: false }],
      [key('interface', 'veth3'), veth1],
      [key('interface', 'veth4'), { ...veth1, hostIfName: 'moved' }],
    ]);
    const facts = assumedFacts(
      dryRun({
        deletes: [
          { key: key('interface', 'veth1'), descriptor: 'interface', value: veth1 },
          { key: key('interface', 'veth3'), descriptor: 'interface', value: veth1, recreate: true },
          { key: key('interface', 'veth4'), descriptor: 'interface', value: veth2, recreate: true },
        ],
        applies: [
          { key: key('interface', 'veth2'), descriptor: 'interface', kind: 'update' },
          { key: key('interface', 'veth3'), descriptor: 'interface', recreate: true },
        ],
      }),
      label,
      (k) => values.get(k),
    );
    assert.deepEqual(facts, [
      { key: 'fact/link-up/named/ns1/veth1Name', deleted: true },
      { key: 'fact/link/named/ns1/veth1Name', deleted: true },
      { key: 'fact/link-up/named/ns1/veth2Name', deleted: true },
      { key: 'fact/link/named/ns1/veth2Name', deleted: true },
      { key: 'fact/link-up/named/ns1/veth2Name', deleted: true },
      // veth3, re-created in place, exists and is up again.
      { key: 'fact/link/named/ns1/veth1Name', value: { planned: true } },
      { key: 'fact/link-up/named/ns1/veth1Name', value: { planned: true } },
    ]);
  });

  test("an address the plan removes takes its gateway's reachability with it, unless another address or the kernel still reaches it", () => {
    const gateway = 'fact/reach/named/ns1/veth1Name/192.168.22.2';
    const withoutAddress = { ...veth1, ipAddresses: [] };
    const run = (
      after: LinuxInterface,
      reachable: boolean | undefined,
      added: string[] = [],
    ): { facts: string[]; asked: (readonly string[] | undefined)[] } => {
      const values = new Map<string, unknown>([
        [key('interface', 'veth1'), after],
        [key('route', 'to-lan'), route],
      ]);
      const asked: (readonly string[] | undefined)[] = [];
      const facts = assumedFacts(
        dryRun({
          deletes: [{ key: `${key('interface', 'veth1')}/address/192.168.22.1/24`, descriptor: 'address' }],
          applies: added.map((cidr) => ({
            key: `${key('interface', 'veth1')}/address/${cidr}`,
            descriptor: 'address',
          })),
          outcomes: [[key('route', 'to-lan'), { state: 'configured' }]],
        }),
        label,
        (k) => values.get(k),
        {
          reachableNow: (_ns, _host, _gw, _table, without) => {
            asked.push(without);
            return reachable;
          },
          plannedKeys: values.keys(),
        },
      );
      return { facts: facts.map((f) => `${f.key}${'deleted' in f ? ' deleted' : ''}`), asked };
    };
    const lost = run(withoutAddress, false);
    assert.deepEqual(lost.facts, [`${gateway} deleted`]);
    assert.deepEqual(lost.asked, [['192.168.22.1/24']], 'the kernel is asked without the removed address');
    assert.deepEqual(run(withoutAddress, true).facts, [], 'the kernel reaches it another way');
    assert.deepEqual(run(withoutAddress, undefined).facts, [], 'not known: assumed kept');
    assert.deepEqual(run({ ...veth1, ipAddresses: ['192.168.22.9/24'] }, false, ['192.168.22.9/24']).facts, [
      // The new address's network holds it: not lost. (Its reach fact is the pending loop's business.)
    ]);
    const otherNetwork = { ...veth1, ipAddresses: ['10.9.0.1/24'] };
    assert.deepEqual(run(otherNetwork, false, ['10.9.0.1/24']).facts, [`${gateway} deleted`]);
  });

  test("a link route the plan removes, or changes to global scope, takes its gateway's reachability with it, unless another network or the kernel still reaches it", () => {
    // The seeds' case: a default route via 10.0.2.2, which only a 10.0.2.0/24 route through the
    // same interface makes reachable (the interface has no address there).
    const gatewayRoute = { ...route, gateway: '10.0.2.2' };
    const reach = 'fact/reach/named/ns1/veth1Name/10.0.2.2';
    const lan: LinuxRoute = { ...route, name: 'lan', gateway: undefined, dst: '10.0.2.0/24' };
    const run = (
      plan: Parameters<typeof dryRun>[0],
      reachable: boolean | undefined,
      planned: [string, unknown][] = [],
    ): { facts: string[]; asked: unknown[] } => {
      const values = new Map<string, unknown>([
        [key('interface', 'veth1'), veth1],
        [key('route', 'to-lan'), gatewayRoute],
        ...planned,
      ]);
      const asked: unknown[] = [];
      const facts = assumedFacts(dryRun(plan), label, (k) => values.get(k), {
        reachableNow: (_ns, _host, _gw, _table, without, withoutRoutes) => {
          asked.push([without, withoutRoutes]);
          return reachable;
        },
        plannedKeys: values.keys(),
        factHolds: () => true,
        valueNow: (k) => (k === key('route', 'lan') ? lan : values.get(k)),
      });
      return { facts: facts.map((f) => `${f.key}${'deleted' in f ? ' deleted' : ''}`), asked };
    };
    const configured: [string, { state: 'configured' }] = [key('route', 'to-lan'), { state: 'configured' }];
    const removed = {
      deletes: [{ key: key('route', 'lan'), descriptor: 'route', value: lan }],
      outcomes: [configured],
    };
    const lost = run(removed, false);
    assert.deepEqual(lost.facts, [`${reach} deleted`]);
    assert.deepEqual(
      lost.asked,
      [[[], [{ cidr: '10.0.2.0/24', table: 254, metric: 0 }]]],
      'the kernel is asked without the removed route',
    );
    assert.deepEqual(run(removed, true).facts, [], 'the kernel reaches it another way');
    assert.deepEqual(run(removed, undefined).facts, [], 'not known: assumed kept');
    // Another route of that network made by the plan: kept.
    const other: LinuxRoute = { ...lan, name: 'lan2', metric: 7 };
    assert.deepEqual(
      run({ ...removed, applies: [{ key: key('route', 'lan2'), descriptor: 'route' }] }, false, [
        [key('route', 'lan2'), other],
      ]).facts,
      [],
    );
    // Changed in place to global scope: the kernel resolves no gateway through it.
    const update = {
      applies: [{ key: key('route', 'lan'), descriptor: 'route', kind: 'update' as const }],
      outcomes: [configured],
    };
    assert.deepEqual(run(update, false, [[key('route', 'lan'), { ...lan, scope: 'GLOBAL' }]]).facts, [
      `${reach} deleted`,
    ]);
    assert.deepEqual(
      run(update, false, [[key('route', 'lan'), { ...lan, description: 'd' }]]).facts,
      [],
      'a description',
    );
  });

  test('a route naming no interface: an address of any interface of its namespace makes or takes its gateway', () => {
    const anyRoute = { ...route, interface: undefined };
    const reach = 'fact/reach/named/ns1//192.168.22.2';
    const address = `${key('interface', 'veth1')}/address/192.168.22.1/24`;
    const values = new Map<string, unknown>([
      [key('interface', 'veth1'), veth1],
      [key('route', 'to-lan'), anyRoute],
    ]);
    const asked: string[] = [];
    const facts = (
      plan: Parameters<typeof dryRun>[0],
      reachable: boolean | undefined,
      holds: boolean,
    ): string[] =>
      assumedFacts(dryRun(plan), label, (k) => values.get(k), {
        reachableNow: (_ns, host, _gw, _table, without) => {
          asked.push(`${host}|${(without ?? []).join(',')}`);
          return reachable;
        },
        plannedKeys: values.keys(),
        factHolds: () => holds,
      }).map((f) => `${f.key}${'deleted' in f ? ' deleted' : ''}`);
    // The address comes: the waiting route's gateway is reachable through it.
    assert.deepEqual(
      facts(
        {
          applies: [{ key: address, descriptor: 'address' }],
          outcomes: [[key('route', 'to-lan'), { state: 'pending', reason: 'waiting' }]],
        },
        false,
        false,
      ),
      [reach],
    );
    // Already reachable (its fact holds, with the covering link's value): left as it is.
    assert.deepEqual(
      facts(
        {
          applies: [{ key: address, descriptor: 'address' }],
          outcomes: [[key('route', 'to-lan'), { state: 'configured' }]],
        },
        true,
        true,
      ),
      [],
    );
    // The address goes and nothing else there holds the gateway: lost.
    asked.length = 0;
    assert.deepEqual(
      facts(
        {
          deletes: [{ key: address, descriptor: 'address' }],
          outcomes: [[key('route', 'to-lan'), { state: 'configured' }]],
        },
        false,
        true,
      ),
      [`${reach} deleted`],
    );
    assert.deepEqual(
      asked,
      ['|192.168.22.1/24'],
      'the kernel is asked about any interface, without the address',
    );
    // The interface deleted, or set down: its networks go with it.
    const gone = facts(
      {
        deletes: [{ key: key('interface', 'veth1'), descriptor: 'interface', value: veth1 }],
        outcomes: [[key('route', 'to-lan'), { state: 'configured' }]],
      },
      false,
      true,
    );
    assert.ok(gone.includes(`${reach} deleted`), JSON.stringify(gone));
    values.set(key('interface', 'veth1'), { ...veth1, enabled: false });
    const down = facts(
      {
        applies: [{ key: key('interface', 'veth1'), descriptor: 'interface', kind: 'update' }],
        outcomes: [[key('route', 'to-lan'), { state: 'configured' }]],
      },
      false,
      true,
    );
    assert.ok(down.includes(`${reach} deleted`), JSON.stringify(down));
  });

  test('what the plan leaves as it is but makes possible: a waiting route whose gateway a new address holds, a link set up again', () => {
    const reach = 'fact/reach/named/ns1/veth1Name/192.168.22.2';
    const up = 'fact/link-up/named/ns1/veth1Name';
    const values = new Map<string, unknown>([
      [key('interface', 'veth1'), veth1],
      [key('route', 'to-lan'), route],
    ]);
    const plan = (holds: (fact: string) => boolean): string[] =>
      assumedFacts(
        dryRun({
          applies: [
            { key: key('interface', 'veth1'), descriptor: 'interface', kind: 'update' },
            { key: `${key('interface', 'veth1')}/address/192.168.22.1/24`, descriptor: 'address' },
          ],
        }),
        label,
        (k) => values.get(k),
        { plannedKeys: values.keys(), factHolds: holds },
      ).map((f) => f.key);
    // The link exists (down): its up fact and the gateway are assumed, not the link itself.
    assert.deepEqual(
      plan((fact) => fact.startsWith('fact/link/')),
      [up, reach],
      'down and waiting now: both assumed',
    );
    // Renamed in place (no link of the new name yet): it is assumed to exist too.
    assert.deepEqual(
      plan(() => false),
      ['fact/link/named/ns1/veth1Name', up, reach],
    );
    assert.deepEqual(
      plan(() => true),
      [],
      "up and reachable now: the kernel's facts stay",
    );
  });

  test('a TAP moved to another namespace comes home under its temporary name first, where its item takes it again', () => {
    const tap = value<LinuxInterface>(key('interface', 'tap1'), {
      name: 'tap1',
      type: 'AUTO_TAP',
      enabled: true,
      host_if_name: 'tapHost',
      namespace: { type: 'NAMED_NS', name: 'ns1' },
      tap: { temp_if_name: 'tapTemp' },
    });
    const moved = { ...tap, namespace: { kind: 'named', name: 'ns2' } };
    const facts = assumedFacts(
      dryRun({
        deletes: [{ key: key('interface', 'tap1'), descriptor: 'interface', value: tap, recreate: true }],
        applies: [{ key: key('interface', 'tap1'), descriptor: 'interface', recreate: true }],
      }),
      label,
      (k) => (k === key('interface', 'tap1') ? moved : undefined),
    );
    assert.ok(
      facts.some((f) => f.key === 'fact/link/default/tapTemp' && !('deleted' in f)),
      JSON.stringify(facts),
    );
  });

  test('prefixCovers', () => {
    assert.equal(prefixCovers('192.168.22.1/24', '192.168.22.200'), true);
    assert.equal(prefixCovers('192.168.22.1/24', '192.168.23.1'), false);
    assert.equal(prefixCovers('10.0.0.1/30', '10.0.0.3'), true);
    assert.equal(prefixCovers('10.0.0.1/30', '10.0.0.4'), false);
    assert.equal(prefixCovers('2001:db8::1/64', '2001:db8::ffff'), true);
    assert.equal(prefixCovers('2001:db8::1/64', '192.168.0.1'), false);
  });
});

describe('POST /v1/plan body', () => {
  test('puts and deletes as netnsctl sends them', async () => {
    const { request } = await parsePlanBody(
      JSON.stringify({ puts: [{ key: 'k', value: { a: 1 } }], deletes: ['d'], replace: true }),
      label,
    );
    assert.deepEqual(request, { puts: [{ key: 'k', valueText: '{"a":1}' }], deletes: ['d'], replace: true });
  });

  test('a put without a key or a value is refused, naming its place and key (the value was a 500)', async () => {
    const k = key('interface', 'veth1');
    const cases: [object, RegExp][] = [
      [{ puts: [{ key: k, value: {} }, { value: {} }] }, /^puts\[1\]: every put needs a key$/],
      [{ puts: [null] }, /^puts\[0\]: every put needs a key$/],
      [{ puts: [{ key: k }] }, new RegExp(`^puts\\[0\\] \\(${k}\\): no value`)],
    ];
    for (const [body, message] of cases)
      await assert.rejects(parsePlanBody(JSON.stringify(body), label), (error: unknown) => {
        assert.ok(error instanceof PlanBodyError);
        assert.match(error.message, message);
        return true;
      });
  });

  test('one change per key: the same key twice (puts, the document, deletes) is refused, naming both places', async () => {
    const k = key('interface', 'veth1');
    const cases: [object, RegExp][] = [
      [
        {
          puts: [
            { key: k, value: {} },
            { key: k, value: {} },
          ],
        },
        /given twice: puts\[0\] and puts\[1\]/,
      ],
      [{ puts: [{ key: k, value: {} }], deletes: [k] }, /given twice: puts\[0\] and deletes\[0\]/],
      [
        { puts: [{ key: k, value: {} }], document: 'kind: interface\nname: veth1\ntype: DUMMY' },
        /given twice: puts\[0\] and the document/,
      ],
      [{ deletes: ['x', 'x'] }, /x is given twice: deletes\[0\] and deletes\[1\]/],
    ];
    for (const [body, message] of cases)
      await assert.rejects(parsePlanBody(JSON.stringify(body), label), (error: unknown) => {
        assert.ok(error instanceof PlanBodyError);
        assert.match(error.message, message);
        return true;
      });
  });

  test('a YAML document as `apply -f` takes it becomes keyed puts; bad documents are reported', async () => {
    const document = [
      'kind: interface',
      'name: veth1',
      'type: VETH',
      'veth: {peer_if_name: veth2}',
      '---',
      'kind: bogus',
    ].join('\n');
    const { request, documentProblems } = await parsePlanBody(
      JSON.stringify({ document, topology: true }),
      label,
    );
    assert.equal(request.puts[0]?.key, key('interface', 'veth1'));
    assert.equal(request.topology, true);
    assert.equal(documentProblems[0]?.index, 1);
  });

  test('a replace plan of a document with an invalid item is refused, naming it (it would show removed what applying keeps)', async () => {
    const document = 'kind: interface\nname: veth1\nvalue: {mtu: 5}';
    await assert.rejects(
      parsePlanBody(JSON.stringify({ document, replace: true }), label),
      (error: unknown) =>
        error instanceof PlanBodyError && /1 invalid item.*interface\/veth1.*mtu/.test(error.message),
    );
    const { documentProblems } = await parsePlanBody(JSON.stringify({ document }), label);
    assert.equal(documentProblems.length, 1, 'without replace: planned, the problem reported');
  });

  test('what is not a plan request is refused', async () => {
    for (const body of [
      'puts: nope',
      '[]',
      JSON.stringify({ puts: 3 }),
      JSON.stringify({ document: 5 }),
      JSON.stringify({ document: 'a: [' }),
      JSON.stringify({ bogus: 1 }),
      JSON.stringify({ puts: [], delete: ['k'] }),
      JSON.stringify({ puts: [], replace: 'yes' }),
      JSON.stringify({ puts: [], topology: 1 }),
      JSON.stringify({ deletes: Array.from({ length: 20_001 }, (_, i) => `k${i}`) }),
    ]) {
      await assert.rejects(() => parsePlanBody(body, label), PlanBodyError, body);
    }
  });
});

test('foreseeFailures: a VETH whose peer names another, a host name a foreign link holds', () => {
  const veth3 = value<LinuxInterface>(key('interface', 'veth2'), {
    type: 'VETH',
    enabled: true,
    namespace: { type: 'NAMED_NS', name: 'ns2' },
    veth: { peer_if_name: 'veth3' },
  });
  const values = new Map<string, unknown>([
    [key('interface', 'veth1'), veth1],
    [key('interface', 'veth2'), veth3],
  ]);
  const entries = foreseeFailures(
    [
      { key: key('interface', 'veth1'), change: 'create', why: 'new' },
      { key: key('route', 'to-lan'), change: 'create', why: 'new' },
    ],
    label,
    (k) => values.get(k),
    (nsId, name) => (nsId === 'named/ns1' && name === 'veth1Name' ? { alias: 'someone else' } : undefined),
  );
  assert.equal(
    entries[0]!.why,
    'new; would fail: its peer veth2 names veth3 as its peer; veth1Name already exists there and is not managed by this agent',
  );
  assert.equal(entries[1]!.why, 'new', 'only interfaces');
});

test('foreseeFailures: the other end of a VETH end that would fail stays pending (a pair is made whole)', () => {
  const veth2 = value<LinuxInterface>(key('interface', 'veth2'), {
    type: 'VETH',
    enabled: true,
    namespace: { type: 'NAMED_NS', name: 'ns2' },
    veth: { peer_if_name: 'veth1' },
  });
  const values = new Map<string, unknown>([
    [key('interface', 'veth1'), veth1],
    [key('interface', 'veth2'), veth2],
  ]);
  const entries = foreseeFailures(
    [
      { key: key('interface', 'veth1'), change: 'create', why: 'new' },
      { key: key('interface', 'veth2'), change: 'create', why: 'new' },
    ],
    label,
    (k) => values.get(k),
    (nsId, name) => (nsId === 'named/ns1' && name === 'veth1Name' ? { alias: 'someone else' } : undefined),
  );
  assert.match(entries[0]!.why, /would fail: veth1Name already exists there/);
  assert.equal(entries[1]!.why, 'new; would stay pending: its VETH peer veth1 would fail');
  // The other end's name taken: the end that makes the pair (veth1, first by name) fails for it.
  const reverse = foreseeFailures(
    [
      { key: key('interface', 'veth1'), change: 'create', why: 'new' },
      { key: key('interface', 'veth2'), change: 'create', why: 'new' },
    ],
    label,
    (k) => values.get(k),
    (nsId, name) => (nsId === 'named/ns2' && name === 'veth2' ? { alias: 'someone else' } : undefined),
  );
  assert.equal(
    reverse[0]!.why,
    'new; would fail: veth2 (host name of its VETH peer veth2) already exists there and is not managed by this agent',
  );
  assert.equal(reverse[1]!.why, 'new; would stay pending: its VETH peer veth1 would fail');
});

/** An ARP item for 192.168.22.9 in ns1 on `iface` (a config or host name), keyed. */
function arp(name: string, iface: string): [string, unknown] {
  const k = key('arp', name);
  return [
    k,
    value(k, {
      namespace: { type: 'NAMED_NS', name: 'ns1' },
      interface: iface,
      ip_addr: '192.168.22.9',
      hw_address: '02:00:00:00:00:09',
    }),
  ];
}

test('foreseeFailures: an ARP item for an entry another makes or holds, naming its link another way', () => {
  const values = new Map<string, unknown>([
    [key('interface', 'veth1'), veth1],
    arp('held', 'veth1'),
    arp('by-host', 'veth1Name'),
    arp('same-way', 'veth1'),
    arp('elsewhere', 'veth9'),
  ]);
  const entries = foreseeFailures(
    [
      { key: key('arp', 'by-host'), change: 'create', why: 'new' },
      { key: key('arp', 'same-way'), change: 'create', why: 'new' },
      { key: key('arp', 'elsewhere'), change: 'create', why: 'new' },
    ],
    label,
    (k) => values.get(k),
    () => undefined,
    values.keys(),
  );
  // `held` is applied already (no change planned): it keeps the entry.
  assert.equal(
    entries[0]!.why,
    `new; would fail: ARP entry 192.168.22.9 on veth1Name is already configured by ${key('arp', 'held')}`,
  );
  assert.equal(entries[1]!.why, 'new', 'named the same way: a claim the engine refuses already');
  assert.equal(entries[2]!.why, 'new', 'another link');
});

test('foreseeFailures: an unchanged ARP item that failed holds nothing; one that is configured does', () => {
  // Listed first: the item that failed as `held` holds the entry.
  const values = new Map<string, unknown>([
    [key('interface', 'veth1'), veth1],
    arp('lost', 'veth1Name'),
    arp('held', 'veth1'),
    arp('new', 'veth1Name'),
  ]);
  const states = new Map([
    [key('arp', 'lost'), 'failed'],
    [key('arp', 'held'), 'configured'],
  ]);
  const [entry] = foreseeFailures(
    [{ key: key('arp', 'new'), change: 'create', why: 'new' }],
    label,
    (k) => values.get(k),
    () => undefined,
    values.keys(),
    (k) => states.get(k),
  );
  assert.equal(
    entry!.why,
    `new; would fail: ARP entry 192.168.22.9 on veth1Name is already configured by ${key('arp', 'held')}`,
  );
  // Only a failed item and new ones: the first the plan makes holds it, not the failed one.
  values.delete(key('arp', 'held'));
  values.set(...arp('newer', 'veth1'));
  const entries = foreseeFailures(
    [
      { key: key('arp', 'new'), change: 'create', why: 'new' },
      { key: key('arp', 'newer'), change: 'create', why: 'new' },
    ],
    label,
    (k) => values.get(k),
    () => undefined,
    values.keys(),
    (k) => states.get(k),
  );
  assert.deepEqual(
    entries.map((e) => e.why),
    [
      'new',
      `new; would fail: ARP entry 192.168.22.9 on veth1Name is already configured by ${key('arp', 'new')}`,
    ],
  );
});

test('foreseeFailures: a gateway the kernel refuses (IPv4 broadcast of the interface, IPv6 local address)', () => {
  const routeTo = (name: string, json: Record<string, unknown>): [string, unknown] => {
    const k = key('route', name);
    return [
      k,
      value(k, { namespace: { type: 'NAMED_NS', name: 'ns1' }, dst_ip_addr: '10.10.0.0/16', ...json }),
    ];
  };
  const dual = value<LinuxInterface>(key('interface', 'veth1'), {
    name: 'veth1',
    type: 'VETH',
    enabled: true,
    host_if_name: 'veth1Name',
    ip_addresses: ['192.168.22.1/24', 'fd00:22::1/64', '10.0.0.1/31', 'fe80::22/64'],
    namespace: { type: 'NAMED_NS', name: 'ns1' },
    veth: { peer_if_name: 'veth2' },
  });
  const v6Route = (name: string, iface: string, gw: string): [string, unknown] => [
    key('route', name),
    value(key('route', name), {
      namespace: { type: 'NAMED_NS', name: 'ns1' },
      interface: iface,
      dst_ip_addr: 'fd09::/64',
      gw_addr: gw,
    }),
  ];
  const values = new Map<string, unknown>([
    [key('interface', 'veth1'), dual],
    // A link-local address is local to its own link only (checked with ip on this kernel).
    v6Route('ll-own', 'veth1', 'fe80::22'),
    v6Route('ll-other', 'veth9', 'fe80::22'),
    routeTo('bcast', { interface: 'veth1', gw_addr: '192.168.22.255' }),
    routeTo('bcast-by-host', { interface: 'veth1Name', gw_addr: '192.168.22.255' }),
    routeTo('bcast-any', { gw_addr: '192.168.22.255' }),
    routeTo('network', { interface: 'veth1', gw_addr: '192.168.22.0' }),
    routeTo('own', { interface: 'veth1', gw_addr: '192.168.22.1' }),
    routeTo('slash31', { interface: 'veth1', gw_addr: '10.0.0.1' }),
    routeTo('other-link', { interface: 'veth9', gw_addr: '192.168.22.255' }),
    [
      key('route', 'v6-local'),
      value(key('route', 'v6-local'), {
        namespace: { type: 'NAMED_NS', name: 'ns1' },
        interface: 'veth9',
        dst_ip_addr: 'fd09::/64',
        gw_addr: 'fd00:22::1',
      }),
    ],
  ]);
  const names = [
    'bcast',
    'bcast-by-host',
    'bcast-any',
    'network',
    'own',
    'slash31',
    'other-link',
    'v6-local',
    'll-own',
    'll-other',
  ];
  const entries = foreseeFailures(
    names.map((n) => ({ key: key('route', n), change: n === 'own' ? 'change' : 'create', why: 'new' })),
    label,
    (k) => values.get(k),
    () => undefined,
    values.keys(),
  );
  const why = new Map(entries.map((e) => [e.key.slice(e.key.lastIndexOf('/') + 1), e.why]));
  const broadcast =
    'new; would fail: gateway 192.168.22.255 is the broadcast address of 192.168.22.1/24 on veth1: the kernel refuses it';
  assert.equal(why.get('bcast'), broadcast);
  assert.equal(why.get('bcast-by-host'), broadcast, 'the interface named by its host name');
  assert.equal(why.get('bcast-any'), broadcast, 'no interface named: any of the namespace');
  assert.equal(why.get('network'), 'new', 'the network address is accepted');
  assert.equal(why.get('own'), 'new', 'an own IPv4 address is accepted');
  assert.equal(why.get('slash31'), 'new', 'a /31 has no broadcast address');
  assert.equal(why.get('other-link'), 'new', 'the broadcast of another link');
  assert.equal(
    why.get('v6-local'),
    'new; would fail: gateway fd00:22::1 is an address of veth1 in the same namespace: the kernel refuses a local gateway',
  );
  assert.match(why.get('ll-own') ?? '', /would fail: gateway fe80::22 is an address of veth1/);
  assert.equal(why.get('ll-other'), 'new', "another link's link-local address is a gateway like any");
});
