// The plan's look at the kernel's own tables: a created route or ARP item whose place holds another
// program's route or static entry would fail (the agent leaves those alone); ours, learned entries
// and namespaces the agent has not opened say nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseItem } from '../../../src/model/index.js';
import { foreseeForeignHolders, type KernelTables } from '../../../src/agent/plan-foreign.js';
import { AGENT_PROTOCOL } from '../../../src/descriptors/ownership.js';
import {
  AF_INET,
  IFF_NOARP,
  NUD_NOARP,
  NUD_PERMANENT,
  NUD_REACHABLE,
  RTPROT_KERNEL,
  type Neighbour,
  type Route,
} from '../../../src/netlink/index.js';

const label = 'vpp1';
const key = (kind: string, name: string): string => `/vnf-agent/${label}/linux/config/v1/${kind}/${name}`;
const ns = { type: 'NAMED_NS', name: 'ns1' };
const values = new Map<string, unknown>(
  (
    [
      [
        'interface',
        'veth1',
        { type: 'VETH', host_if_name: 'veth1Name', namespace: ns, veth: { peer_if_name: 'v2' } },
      ],
      ['route', 'taken', { namespace: ns, interface: 'veth1', dst_ip_addr: '10.10.0.0/16' }],
      ['route', 'ours', { namespace: ns, interface: 'veth1', dst_ip_addr: '10.11.0.0/16' }],
      ['route', 'free', { namespace: ns, interface: 'veth1', dst_ip_addr: '10.12.0.0/16' }],
      [
        'route',
        'other-metric',
        { namespace: ns, interface: 'veth1', dst_ip_addr: '10.10.0.0/16', metric: 5 },
      ],
      [
        'route',
        'elsewhere',
        { namespace: { type: 'NAMED_NS', name: 'ns9' }, interface: 'x9', dst_ip_addr: '10.10.0.0/16' },
      ],
      [
        'arp',
        'taken',
        { namespace: ns, interface: 'veth1', ip_addr: '192.168.22.2', hw_address: '02:00:00:00:00:02' },
      ],
      [
        'arp',
        'learned',
        { namespace: ns, interface: 'veth1Name', ip_addr: '192.168.22.3', hw_address: '02:00:00:00:00:03' },
      ],
      [
        'arp',
        'noarp',
        { namespace: ns, interface: 'veth1', ip_addr: '192.168.22.4', hw_address: '02:00:00:00:00:04' },
      ],
      [
        'arp',
        'no-link',
        { namespace: ns, interface: 'nothere', ip_addr: '192.168.22.2', hw_address: '02:00:00:00:00:05' },
      ],
    ] as const
  ).map(([kind, name, json]) => [key(kind, name), parseItem(key(kind, name), { name, ...json }).value]),
);

const route = (dst: string, dstLength: number, protocol: number, metric?: number): Route => ({
  family: AF_INET,
  dst,
  dstLength,
  srcLength: 0,
  table: 254,
  protocol,
  scope: 0,
  type: 1,
  tos: 0,
  flags: 0,
  ...(metric !== undefined ? { metric } : {}),
});
const neighbour = (address: string, state: number, protocol?: number): Neighbour => ({
  family: AF_INET,
  index: 7,
  address,
  mac: '02:00:00:00:99:99',
  state,
  flags: 0,
  type: 1,
  ...(protocol !== undefined ? { protocol } : {}),
});

function tablesWith(linkFlags: number, counts: { routeDumps: number; neighbourDumps: number }): KernelTables {
  return {
    description: 'named namespace ns1',
    routes: () => {
      counts.routeDumps++;
      return Promise.resolve([route('10.10.0.0', 16, RTPROT_KERNEL), route('10.11.0.0', 16, AGENT_PROTOCOL)]);
    },
    neighbours: () => {
      counts.neighbourDumps++;
      return Promise.resolve([
        neighbour('192.168.22.2', NUD_PERMANENT),
        neighbour('192.168.22.3', NUD_REACHABLE),
        neighbour('192.168.22.4', NUD_NOARP),
      ]);
    },
    link: (name) => (name === 'veth1Name' ? { index: 7, name, flags: linkFlags } : undefined),
  };
}

test("foreseeForeignHolders: another's route or static entry at a created item's place: would fail", async () => {
  const counts = { routeDumps: 0, neighbourDumps: 0 };
  const tables = tablesWith(0, counts);
  const names = [
    ['route', 'taken'],
    ['route', 'ours'],
    ['route', 'free'],
    ['route', 'other-metric'],
    ['route', 'elsewhere'],
    ['arp', 'taken'],
    ['arp', 'learned'],
    ['arp', 'noarp'],
    ['arp', 'no-link'],
  ] as const;
  const entries = await foreseeForeignHolders(
    names.map(([kind, name]) => ({ key: key(kind, name), change: 'create' as const, why: 'new' })),
    label,
    (k) => values.get(k),
    (nsId) => (nsId === 'named/ns1' ? tables : undefined),
  );
  const why = new Map(entries.map((e) => [e.key, e.why]));
  assert.equal(
    why.get(key('route', 'taken')),
    "new; would fail: route 10.10.0.0/16 (table 254, metric 0) in named namespace ns1 is the kernel's own route, not made by this agent: not replaced",
  );
  assert.equal(why.get(key('route', 'ours')), 'new', "this agent's route: replaced");
  assert.equal(why.get(key('route', 'free')), 'new');
  assert.equal(why.get(key('route', 'other-metric')), 'new', 'another metric is another place');
  assert.equal(why.get(key('route', 'elsewhere')), 'new', 'a namespace the agent has not opened');
  assert.equal(
    why.get(key('arp', 'taken')),
    'new; would fail: ARP entry 192.168.22.2 on veth1Name in named namespace ns1 is a static (permanent) entry not made by this agent (lladdr 02:00:00:00:99:99): not replaced',
  );
  assert.equal(why.get(key('arp', 'learned')), 'new', 'a learned entry is replaced');
  assert.match(why.get(key('arp', 'noarp')) ?? '', /would fail: .* static \(noarp\) entry/);
  assert.equal(why.get(key('arp', 'no-link')), 'new', 'no link: the item waits for it');
  assert.deepEqual(counts, { routeDumps: 4, neighbourDumps: 3 }, 'the fake counts each ask');
});

test('foreseeForeignHolders: on a link without ARP only PERMANENT is static; entries not created and those failing already are left as they are', async () => {
  const counts = { routeDumps: 0, neighbourDumps: 0 };
  const tables = tablesWith(IFF_NOARP, counts);
  const entries = await foreseeForeignHolders(
    [
      { key: key('arp', 'noarp'), change: 'create', why: 'new' },
      { key: key('arp', 'taken'), change: 'change', why: 'value changed' },
      { key: key('route', 'taken'), change: 'create', why: 'new; would fail: gateway ...' },
      { key: key('route', 'ours'), change: 'recreate', why: 'interface changed' },
    ],
    label,
    (k) => values.get(k),
    () => tables,
  );
  assert.deepEqual(
    entries.map((e) => e.why),
    ['new', 'value changed', 'new; would fail: gateway ...', 'interface changed'],
  );
  assert.deepEqual(counts, { routeDumps: 1, neighbourDumps: 1 });
});
