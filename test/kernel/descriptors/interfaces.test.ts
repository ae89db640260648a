/**
 * Interface kinds and in-place updates through engine + Linux descriptors on a real kernel, checked
 * with `ip -json`: updates (MTU, MAC, admin state, addresses) keep the ifindex; AUTO_TAP (a TAP made
 * with `ip tuntap`: renamed, moved, configured, given back on removal); EXISTING (configured, undone
 * on removal, never deleted); LOOPBACK; DUMMY where the kernel has it; two items claiming one host
 * name in one namespace.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileOriginals } from '../../../src/agent/originals-file.js';
import { AgentApiService } from '../../../src/agent/service.js';
import type { InterfaceStatePublisher } from '../../../src/agent/status-publisher.js';
import { AgentMetrics } from '../../../src/api/metrics.js';
import type { Datastore } from '../../../src/datastore/index.js';
import {
  eventually,
  ip,
  ipJson,
  ipTry,
  kernelSupportsLinkKind,
  skipUnlessRoot,
} from '../../helpers/kernel.js';
import type { ItemKind } from '../../../src/model/index.js';
import {
  addresses,
  busyPairs,
  example,
  hex,
  isUp,
  link,
  linkOrFail,
  pause,
  named,
  routes,
  TestAgent,
  veth,
  withAgent,
  writes,
  type IpLinkJson,
} from './harness.js';

/** A link someone else made (ex0 by default) as an EXISTING item of ns. */
function existingItem(
  ns: string,
  extra: Record<string, unknown> = {},
  name = 'ex',
  host = 'ex0',
): [ItemKind, string, unknown] {
  return [
    'interface',
    name,
    { name, type: 'EXISTING', enabled: true, host_if_name: host, namespace: named(ns), ...extra },
  ];
}

/** ex0 (a link someone else made) as an EXISTING item, and the namespace's lo as a LOOPBACK one. */
function existingAndLoopback(ns: string, loAddresses: string[] = []): [ItemKind, string, unknown][] {
  return [
    existingItem(ns, { mtu: 1400, ip_addresses: ['10.3.0.1/24'] }),
    [
      'interface',
      'loop',
      { name: 'loop', type: 'LOOPBACK', enabled: true, namespace: named(ns), ip_addresses: loAddresses },
    ],
  ];
}

/**
 * Agents of one label started one after another, as across restarts, sharing a book of originals
 * in a file; a namespace ns1 made for them. Everything goes afterwards, whatever happened.
 */
async function restartLab(
  run: (lab: { ns1: string; file: string; start: () => Promise<TestAgent> }) => Promise<void>,
): Promise<void> {
  const label = `kx${hex(4)}`;
  const ns1 = `kxn${hex(4)}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'kx-state-'));
  const file = FileOriginals.fileFor(dir, label);
  const agents: TestAgent[] = [];
  const start = async (): Promise<TestAgent> => {
    const agent = await TestAgent.start({ label, originals: new FileOriginals(file) });
    agents.push(agent);
    return agent;
  };
  try {
    ip(null, ['netns', 'add', ns1]);
    await run({ ns1, file, start });
  } finally {
    for (const agent of agents) await agent.close();
    ipTry(null, ['netns', 'del', ns1]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A TAP made with `ip tuntap`, attached in ns1 by an agent that then stops; `start` starts the next
 * agent of the label, as after a restart. Everything goes afterwards, whatever happened (a TAP may
 * end in our own namespace under its host name: see the test of one that cannot be given back).
 */
async function tapRestartLab(
  namespace: 'made by the test' | 'made by the agent',
  run: (lab: {
    temp: string;
    host: string;
    ns1: string;
    attached: ReturnType<typeof linkOrFail>;
    /** The TAP's MAC before the agent set the example's. */
    originalMac: string | undefined;
    start: () => Promise<TestAgent>;
  }) => Promise<void>,
): Promise<void> {
  const [temp, host, label, ns1] = [`kt${hex(4)}`, `kh${hex(4)}`, `kt${hex(4)}`, `ktn${hex(4)}`];
  const agents: TestAgent[] = [];
  // One book of originals for the agents, in a file, as the agent keeps it across restarts.
  const dir = mkdtempSync(path.join(tmpdir(), 'kt-state-'));
  const book = FileOriginals.fileFor(dir, label);
  const start = async (): Promise<TestAgent> => {
    const agent = await TestAgent.start({ label, originals: new FileOriginals(book) });
    agents.push(agent);
    return agent;
  };
  try {
    if (namespace === 'made by the test') ip(null, ['netns', 'add', ns1]);
    ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
    const originalMac = linkOrFail(null, temp).address;
    const tap = example('linux-tap');
    tap['namespace'] = named(ns1);
    tap['host_if_name'] = host;
    tap['tap'] = { temp_if_name: temp };
    const first = await start();
    await first.replaceAll(['interface', 'tap1', tap]);
    await first.waitConfigured(['interface', 'tap1']);
    const attached = linkOrFail(ns1, host);
    await first.close();
    await run({ temp, host, ns1, attached, originalMac, start });
  } finally {
    for (const agent of agents) await agent.close();
    rmSync(dir, { recursive: true, force: true });
    ipTry(null, ['link', 'del', temp]);
    ipTry(null, ['link', 'del', host]);
    ipTry(ns1, ['link', 'del', host]);
    ipTry(null, ['netns', 'del', ns1]);
  }
}

describe('interfaces', { skip: skipUnlessRoot() }, () => {
  test("a VETH end that listed the kernel's own link-local address and drops it: it stays (a link-local of its own goes)", () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      // The kernel's own link-local address of MAC 02:11:22:33:44:55 (EUI-64).
      const kernels = 'fe80::11:22ff:fe33:4455';
      const end = (ip_addresses: string[]): [ItemKind, string, unknown] => [
        'interface',
        'v1',
        veth('v1', 'v2', ns1!, { host_if_name: 'll1', phys_address: '02:11:22:33:44:55', ip_addresses }),
      ];
      await agent.put(end([`${kernels}/64`, 'fe80::1/64', '2001:db8:5::1/64']), [
        'interface',
        'v2',
        veth('v2', 'v1', ns2!, { host_if_name: 'll2' }),
      ]);
      await agent.waitConfigured(['interface', 'v1'], ['interface', 'v2']);
      const linkLocal = (): string[] =>
        ipJson<{ addr_info: { local: string }[] }[]>(ns1!, [
          '-6',
          'addr',
          'show',
          'dev',
          'll1',
          'scope',
          'link',
        ])
          .flatMap((e) => e.addr_info.flatMap((a) => (a.local ? [a.local] : [])))
          .sort();
      assert.deepEqual(linkLocal(), ['fe80::1', kernels]);
      await agent.put(end(['2001:db8:5::1/64']));
      await agent.waitConfigured(['interface', 'v1']);
      await eventually(() => assert.deepEqual(linkLocal(), [kernels], "the kernel's stays, ours goes"));
      assert.deepEqual(addresses(ns1!, 'll1'), ['2001:db8:5::1/64']);
    }));

  test('a VETH end with an IPv6 address disabled: the address the kernel drops with the link going down is put back, and not called a change by someone else', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const end = (enabled: boolean): [ItemKind, string, unknown] => [
        'interface',
        'v1',
        veth('v1', 'v2', ns1!, {
          enabled,
          host_if_name: 'dv1',
          ip_addresses: ['10.16.0.1/30', 'fd00:16::1/64'],
        }),
      ];
      await agent.put(end(true), ['interface', 'v2', veth('v2', 'v1', ns2!, { host_if_name: 'dv2' })]);
      await agent.waitConfigured(['interface', 'v1'], ['interface', 'v2']);
      await agent.put(end(false));
      await eventually(() => {
        assert.equal(isUp(linkOrFail(ns1!, 'dv1')), false);
        assert.deepEqual(addresses(ns1!, 'dv1'), ['10.16.0.1/30', 'fd00:16::1/64']);
        assert.equal(agent.status('interface', 'v1')?.state, 'configured');
      });
      await pause(200);
      const said = agent.logs.map((l) => l.message ?? '');
      assert.ok(
        said.some((m) => /address dropped by the kernel as its link was set down/.test(m)),
        said.join('\n'),
      );
      assert.ok(!said.some((m) => /managed address removed outside the agent/.test(m)), said.join('\n'));
    }));

  test('updates in place (MTU, MAC, admin state, addresses) keep the ifindex of both ends', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const a = (extra: Record<string, unknown>): Record<string, unknown> =>
        veth('a', 'b', ns1!, {
          host_if_name: 'ua',
          mtu: 1500,
          phys_address: '02:00:00:00:01:01',
          ip_addresses: ['10.1.0.1/24', 'fd00:1::1/64'],
          ...extra,
        });
      const b = veth('b', 'a', ns2!, { host_if_name: 'ub', ip_addresses: ['10.1.0.2/24'] });
      await agent.put(['interface', 'a', a({})], ['interface', 'b', b]);
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
      const ia = linkOrFail(ns1!, 'ua').ifindex;
      const ib = linkOrFail(ns2!, 'ub').ifindex;
      const same = (): void => {
        assert.equal(linkOrFail(ns1!, 'ua').ifindex, ia, 'ua kept its ifindex');
        assert.equal(linkOrFail(ns2!, 'ub').ifindex, ib, 'ub kept its ifindex');
      };

      await agent.put(['interface', 'a', a({ mtu: 1400 })]);
      await agent.waitConfigured(['interface', 'a']);
      await eventually(() => assert.equal(linkOrFail(ns1!, 'ua').mtu, 1400));
      same();

      await agent.put(['interface', 'a', a({ mtu: 1400, phys_address: '02:00:00:00:01:99' })]);
      await eventually(() => assert.equal(linkOrFail(ns1!, 'ua').address, '02:00:00:00:01:99'));
      await agent.waitConfigured(['interface', 'a']);
      assert.ok(isUp(linkOrFail(ns1!, 'ua')));
      same();

      await agent.put([
        'interface',
        'a',
        a({ mtu: 1400, phys_address: '02:00:00:00:01:99', enabled: false }),
      ]);
      await eventually(() => assert.equal(isUp(linkOrFail(ns1!, 'ua')), false));
      same();
      await agent.put(['interface', 'a', a({ mtu: 1400, phys_address: '02:00:00:00:01:99', enabled: true })]);
      await eventually(() => assert.equal(isUp(linkOrFail(ns1!, 'ua')), true));
      same();

      await agent.put([
        'interface',
        'a',
        a({
          mtu: 1400,
          phys_address: '02:00:00:00:01:99',
          ip_addresses: ['10.1.0.1/24', '10.1.1.1/24', 'fd00:2::1/64'],
        }),
      ]);
      await eventually(() =>
        assert.deepEqual(addresses(ns1!, 'ua'), ['10.1.0.1/24', '10.1.1.1/24', 'fd00:2::1/64']),
      );
      await agent.waitConfigured(['interface', 'a']);
      same();
      // The peer end was never touched.
      assert.deepEqual(addresses(ns2!, 'ub'), ['10.1.0.2/24']);
      assert.ok(isUp(linkOrFail(ns2!, 'ub')));
    }));

  test("mtu removed from a VETH end: the kernel's default again; phys_address removed: the MAC stays (same ifindex)", () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const mac = '02:00:00:00:02:01';
      const a = (extra: Record<string, unknown>): Record<string, unknown> =>
        veth('a', 'b', ns1!, { host_if_name: 'ma', ip_addresses: ['10.1.2.1/24'], ...extra });
      await agent.put(
        ['interface', 'a', a({ mtu: 9000, phys_address: mac })],
        ['interface', 'b', veth('b', 'a', ns2!, { host_if_name: 'mb' })],
      );
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
      const before = linkOrFail(ns1!, 'ma');
      assert.deepEqual([before.mtu, before.address], [9000, mac]);

      await agent.put(['interface', 'a', a({})]);
      await agent.waitConfigured(['interface', 'a']);
      await eventually(() => {
        const after = linkOrFail(ns1!, 'ma');
        assert.deepEqual([after.mtu, after.address, after.ifindex], [1500, mac, before.ifindex]);
        assert.ok(isUp(after));
      });
      assert.deepEqual(addresses(ns1!, 'ma'), ['10.1.2.1/24']);
    }));

  test("EXISTING whose config drops mtu and phys_address: the owner's MTU and MAC are given back, the rest stays", () =>
    withAgent(1, async (agent, [ns1]) => {
      ip(ns1!, [
        'link',
        'add',
        'ex0',
        'mtu',
        '1600',
        'address',
        '02:00:00:00:03:01',
        'type',
        'veth',
        'peer',
        'name',
        'ex1',
      ]);
      const [kind, name, value] = existingItem(ns1!, { ip_addresses: ['10.3.1.1/24'] });
      await agent.put([kind, name, { ...(value as object), mtu: 1400, phys_address: '02:00:00:00:03:99' }]);
      await agent.waitConfigured(['interface', 'ex']);
      const configured = linkOrFail(ns1!, 'ex0');
      assert.deepEqual([configured.mtu, configured.address], [1400, '02:00:00:00:03:99']);

      await agent.put([kind, name, value]);
      await agent.waitConfigured(['interface', 'ex']);
      await eventually(() => {
        const after = linkOrFail(ns1!, 'ex0');
        assert.deepEqual(
          [after.mtu, after.address, after.ifindex],
          [1600, '02:00:00:00:03:01', configured.ifindex],
        );
        assert.ok(isUp(after), 'still up, as configured');
        assert.deepEqual(addresses(ns1!, 'ex0'), ['10.3.1.1/24']);
      });
    }));

  test('a new host name renames the link in place: same ifindex, addresses kept, its route made again', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      // The IPv6 address goes when the link is set down to be renamed (keep_addr_on_down is off).
      const a = (host: string): Record<string, unknown> =>
        veth('a', 'b', ns1!, { host_if_name: host, ip_addresses: ['10.1.0.1/24', 'fd00:61::1/64'] });
      const b = veth('b', 'a', ns2!, { host_if_name: 'nb', ip_addresses: ['10.1.0.2/24'] });
      const route = {
        name: 'r',
        namespace: named(ns1!),
        interface: 'a',
        dst_ip_addr: '10.60.0.0/16',
        gw_addr: '10.1.0.2',
      };
      await agent.put(['interface', 'a', a('na')], ['interface', 'b', b], ['route', 'r', route]);
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b'], ['route', 'r']);
      const before = linkOrFail(ns1!, 'na');

      const record = await agent.put(['interface', 'a', a('na2')]);
      const deleted = record.operations.filter((op) => op.kind === 'delete').map((op) => op.key);
      assert.ok(
        deleted.every((key) => key.includes('/route/')),
        `the link renamed, not re-created (deleted: ${deleted.join(', ')})`,
      );
      await agent.waitConfigured(['interface', 'a'], ['route', 'r']);
      const after = linkOrFail(ns1!, 'na2');
      assert.equal(after.ifindex, before.ifindex, 'the same link');
      assert.equal(link(ns1!, 'na'), undefined);
      assert.ok(isUp(after));
      await eventually(() => assert.deepEqual(addresses(ns1!, 'na2'), ['10.1.0.1/24', 'fd00:61::1/64']));
      // Set down and up by someone else afterwards: the IPv6 address the kernel dropped comes back.
      ip(ns1!, ['link', 'set', 'na2', 'down']);
      ip(ns1!, ['link', 'set', 'na2', 'up']);
      await eventually(() => assert.deepEqual(addresses(ns1!, 'na2'), ['10.1.0.1/24', 'fd00:61::1/64']));
      // Disabled, then enabled again: the same.
      await agent.put(['interface', 'a', { ...a('na2'), enabled: false }]);
      await agent.waitConfigured(['interface', 'a']);
      await agent.put(['interface', 'a', a('na2')]);
      await agent.waitConfigured(['interface', 'a']);
      assert.ok(isUp(linkOrFail(ns1!, 'na2')));
      await eventually(() => assert.deepEqual(addresses(ns1!, 'na2'), ['10.1.0.1/24', 'fd00:61::1/64']));
      await eventually(() =>
        assert.ok(
          routes(ns1!).some((r) => r.dst === '10.60.0.0/16' && r.dev === 'na2'),
          'route through na2',
        ),
      );

      // A name someone else's link holds: refused, and the link is left as it was (up).
      ip(ns1!, ['link', 'add', 'taken0', 'type', 'veth', 'peer', 'name', 'taken1']);
      await agent.put(['interface', 'a', a('taken0')]);
      await agent.waitFor('interface', 'a', 'failed', /taken0 already exists/);
      const left = linkOrFail(ns1!, 'na2');
      assert.equal(left.ifindex, before.ifindex);
      assert.ok(isUp(left), 'not left down');

      // Once its owner deletes it, the name is free: tried again at once, no retry timer needed.
      ip(ns1!, ['link', 'del', 'taken0']);
      await agent.waitConfigured(['interface', 'a']);
      assert.ok(isUp(linkOrFail(ns1!, 'taken0')), 'renamed into the freed name');
    }));

  test('two of our links trade host names, or shift them, in one change: renamed in place', () =>
    withAgent(1, async (agent, [ns1]) => {
      const end = (name: string, peer: string, host: string, address: string): Record<string, unknown> =>
        veth(name, peer, ns1!, { host_if_name: host, ip_addresses: [address] });
      await agent.put(
        ['interface', 'a', end('a', 'b', 'sw1', '10.7.0.1/24')],
        ['interface', 'b', end('b', 'a', 'sw2', '10.7.0.2/24')],
      );
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
      const [a, b] = [linkOrFail(ns1!, 'sw1'), linkOrFail(ns1!, 'sw2')];

      await agent.put(
        ['interface', 'a', end('a', 'b', 'sw2', '10.7.0.1/24')],
        ['interface', 'b', end('b', 'a', 'sw1', '10.7.0.2/24')],
      );
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
      assert.equal(linkOrFail(ns1!, 'sw2').ifindex, a.ifindex, 'a is sw2 now, the same link');
      assert.equal(linkOrFail(ns1!, 'sw1').ifindex, b.ifindex, 'b is sw1 now, the same link');
      assert.deepEqual(addresses(ns1!, 'sw2'), ['10.7.0.1/24']);
      assert.ok(isUp(linkOrFail(ns1!, 'sw1')) && isUp(linkOrFail(ns1!, 'sw2')));

      // Names shifted: a takes the name b leaves for a new one (whichever update runs first).
      await agent.put(
        ['interface', 'a', end('a', 'b', 'sw1', '10.7.0.1/24')],
        ['interface', 'b', end('b', 'a', 'sw3', '10.7.0.2/24')],
      );
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
      assert.equal(linkOrFail(ns1!, 'sw1').ifindex, a.ifindex);
      assert.equal(linkOrFail(ns1!, 'sw3').ifindex, b.ifindex);
      assert.equal(link(ns1!, 'sw2'), undefined);
    }));

  /** The seeds' TAP, into `ns` as `host`, taking the TAP named `temp`. */
  const tapItem = (ns: string, host: string, temp: string): Record<string, unknown> => ({
    ...example('linux-tap'),
    namespace: named(ns),
    host_if_name: host,
    tap: { temp_if_name: temp },
  });

  /** What the transactions after `seq` did, as `kind key` lines. */
  const operationsSince = (agent: TestAgent, seq: number): string[] =>
    agent.engine
      .transactions()
      .filter((t) => t.seq > seq)
      .flatMap((t) => t.operations.map((op) => `${op.kind} ${op.key}`));
  const lastSeq = (agent: TestAgent): number => agent.engine.transactions().at(-1)?.seq ?? 0;

  /** A TAP made under `temp`, then taken by item tap1 into `ns` as `host`: the link there. */
  async function attachedTap(agent: TestAgent, ns: string, host: string, temp: string): Promise<IpLinkJson> {
    ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
    await agent.put(['interface', 'tap1', tapItem(ns, host, temp)]);
    await agent.waitConfigured(['interface', 'tap1']);
    return linkOrFail(ns, host);
  }

  /** A TAP's temporary and host names for one test; links left under them go afterwards. */
  async function withTapNames(
    run: (temp: string, host: string) => Promise<void>,
    cleanUp: () => void = () => undefined,
  ): Promise<void> {
    const [temp, host] = [`kt${hex(4)}`, `kh${hex(4)}`];
    try {
      await run(temp, host);
    } finally {
      ipTry(null, ['link', 'del', temp]);
      ipTry(null, ['link', 'del', host]);
      cleanUp();
    }
  }

  test('AUTO_TAP: the TAP is renamed, moved, configured; removal gives it back under its temp name', async () => {
    await withTapNames(async (temp, host) => {
      await withAgent(1, async (agent, [ns1]) => {
        await agent.put(['interface', 'tap1', tapItem(ns1!, host, temp)]);
        await agent.waitFor('interface', 'tap1', 'pending', new RegExp(`waiting for TAP ${temp} to appear`));

        ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
        await agent.waitConfigured(['interface', 'tap1']);
        assert.equal(link(null, temp), undefined, 'no longer under its temp name in the default namespace');
        const moved = linkOrFail(ns1!, host);
        assert.equal(moved.linkinfo?.info_kind, 'tun');
        assert.equal(moved.address, '92:c7:42:67:ab:cc');
        assert.equal(moved.mtu, 1500);
        assert.ok(isUp(moved));
        assert.deepEqual(addresses(ns1!, host), ['172.52.45.127/24']);
        // The agent's own steps (rename, move, set up) are not someone else's change.
        await pause(300);
        const drift = agent.logs.filter((l) => /outside the agent/.test(l.message ?? ''));
        assert.deepEqual(drift, [], 'no drift logged for our own attach');

        // A second item for the same TAP: invalid, naming the first (it waited for the TAP "to appear").
        await agent.put([
          'interface',
          'tap2',
          { ...tapItem(ns1!, `${host.slice(0, 12)}x`, temp), name: 'tap2' },
        ]);
        await agent.waitFor(
          'interface',
          'tap2',
          'invalid',
          /TAP \S+ is already claimed by \S+interface\/tap1/,
        );
        await agent.del(['interface', 'tap2']);

        await agent.del(['interface', 'tap1']);
        await eventually(() => {
          const back = linkOrFail(null, temp);
          assert.equal(isUp(back), false);
          assert.equal(back.ifalias ?? '', '');
        });
        assert.equal(link(ns1!, host), undefined);
      });
    });
  });

  test('AUTO_TAP given another host name, or renamed by someone else: renamed in place, never given back meanwhile', async () => {
    await withTapNames(async (temp, host) => {
      const other = `${host}r`;
      await withAgent(1, async (agent, [ns1]) => {
        const before = await attachedTap(agent, ns1!, host, temp);

        const record = await agent.put(['interface', 'tap1', tapItem(ns1!, other, temp)]);
        const ops = record.operations.map((op) => `${op.kind} ${op.key}`);
        assert.ok(
          ops.every((op) => !op.startsWith('delete')),
          `renamed, not given back and taken again: ${ops.join(', ')}`,
        );
        await agent.waitConfigured(['interface', 'tap1']);
        const after = linkOrFail(ns1!, other);
        assert.equal(after.ifindex, before.ifindex);
        assert.equal(link(ns1!, host), undefined);
        assert.ok(isUp(after));
        assert.deepEqual(addresses(ns1!, other), ['172.52.45.127/24']);

        // Renamed by someone else: its name put back where it is, not given back and taken again.
        const seen = lastSeq(agent);
        ip(ns1!, ['link', 'set', other, 'down']);
        ip(ns1!, ['link', 'set', other, 'name', host]);
        await eventually(() => assert.ok(isUp(linkOrFail(ns1!, other))));
        const healing = operationsSince(agent, seen);
        assert.ok(
          healing.every((op) => !/^delete \S+\/interface\/tap1$/.test(op)),
          `put back in place: ${healing.join(', ')}`,
        );
        assert.equal(linkOrFail(ns1!, other).ifindex, before.ifindex);
        await eventually(() => assert.deepEqual(addresses(ns1!, other), ['172.52.45.127/24']));

        await agent.del(['interface', 'tap1']);
        await eventually(() => assert.equal(linkOrFail(null, temp).ifindex, before.ifindex));
      });
    });
  });

  for (const where of ['the default namespace', 'a named namespace'] as const)
    test(`AUTO_TAP whose host name a link of someone else has in ${where}: failed, naming it, neither link touched; attached once the name is free`, async () => {
      await withTapNames(async (temp, host) => {
        await withAgent(1, async (agent, [ns1]) => {
          const ns = where === 'the default namespace' ? null : ns1!;
          ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
          ip(ns, ['link', 'add', host, 'mtu', '1450', 'type', 'veth', 'peer', 'name', `${host}p`]);
          ip(ns, ['link', 'set', host, 'up']);
          try {
            const before = linkOrFail(ns, host);
            const item = tapItem(ns1!, host, temp);
            if (ns === null) delete item['namespace'];
            await agent.put(['interface', 'tap1', item]);
            await agent.waitFor(
              'interface',
              'tap1',
              'failed',
              new RegExp(`${host} already exists in .* and is not managed by this agent`),
            );
            assert.equal(agent.status('interface', 'tap1')?.error?.code, 'ERR_HOST_NAME_TAKEN');
            await pause(200);
            const after = linkOrFail(ns, host);
            assert.equal(after.ifindex, before.ifindex);
            assert.equal(after.ifalias ?? '', '', 'not marked');
            assert.equal(after.mtu, 1450);
            assert.deepEqual(addresses(ns, host), []);
            assert.ok(link(null, temp), 'the TAP is not taken');

            ip(ns, ['link', 'del', host]);
            await agent.waitConfigured(['interface', 'tap1']);
            assert.equal(linkOrFail(ns, host).linkinfo?.info_kind, 'tun');
            await agent.del(['interface', 'tap1']);
            await eventually(() => assert.ok(link(null, temp), 'given back'));
          } finally {
            ipTry(ns, ['link', 'del', host]);
          }
        });
      });
    });

  test('AUTO_TAP given a host name someone else has in its namespace: failed, the TAP left up and configured under its old name; renamed once the name is free', async () => {
    await withTapNames(async (temp, host) => {
      const other = `${host}r`;
      await withAgent(1, async (agent, [ns1]) => {
        const before = await attachedTap(agent, ns1!, host, temp);
        ip(ns1!, ['link', 'add', other, 'type', 'veth', 'peer', 'name', `${host}p`]);
        const seen = lastSeq(agent);
        await agent.put(['interface', 'tap1', tapItem(ns1!, other, temp)]);
        const failed = await agent.waitFor('interface', 'tap1', 'failed');
        assert.equal(failed.error?.code, 'ERR_HOST_NAME_TAKEN');
        assert.match(
          failed.error?.message ?? '',
          new RegExp(`${other} already exists in .* not managed by this agent`),
        );
        await pause(200);
        const left = linkOrFail(ns1!, host);
        assert.equal(left.ifindex, before.ifindex);
        assert.ok(isUp(left), 'not left down');
        assert.deepEqual(addresses(ns1!, host), ['172.52.45.127/24']);
        assert.equal(linkOrFail(ns1!, other).linkinfo?.info_kind, 'veth', 'their link untouched');
        assert.equal(link(null, temp), undefined, 'not given back');

        ip(ns1!, ['link', 'del', other]);
        await agent.waitConfigured(['interface', 'tap1']);
        const after = linkOrFail(ns1!, other);
        assert.equal(after.ifindex, before.ifindex);
        assert.ok(isUp(after));
        await eventually(() => assert.deepEqual(addresses(ns1!, other), ['172.52.45.127/24']));
        const ops = operationsSince(agent, seen);
        assert.ok(
          ops.every((op) => !/^delete \S+\/interface\/tap1$/.test(op)),
          `never given back: ${ops.join(', ')}`,
        );
        await agent.del(['interface', 'tap1']);
        await eventually(() => assert.equal(linkOrFail(null, temp).ifindex, before.ifindex));
      });
    });
  });

  test('AUTO_TAP given another namespace (with or without another host name): given back and taken again there', async () => {
    await withTapNames(async (temp, host) => {
      const other = `${host}r`;
      await withAgent(2, async (agent, [ns1, ns2]) => {
        const before = await attachedTap(agent, ns1!, host, temp);

        const record = await agent.put(['interface', 'tap1', tapItem(ns2!, other, temp)]);
        assert.ok(
          record.operations.some((op) => op.kind === 'delete' && op.key.endsWith('/interface/tap1')),
          'made again',
        );
        await agent.waitConfigured(['interface', 'tap1']);
        assert.equal(link(ns1!, host), undefined);
        let now = linkOrFail(ns2!, other);
        assert.equal(now.ifindex, before.ifindex);
        assert.ok(isUp(now));
        await eventually(() => assert.deepEqual(addresses(ns2!, other), ['172.52.45.127/24']));

        await agent.put(['interface', 'tap1', tapItem(ns1!, other, temp)]);
        await agent.waitConfigured(['interface', 'tap1']);
        assert.equal(link(ns2!, other), undefined);
        now = linkOrFail(ns1!, other);
        assert.equal(now.ifindex, before.ifindex);
        await eventually(() => assert.deepEqual(addresses(ns1!, other), ['172.52.45.127/24']));
        assert.equal(link(null, temp), undefined);
        await agent.del(['interface', 'tap1']);
        await eventually(() => assert.equal(linkOrFail(null, temp).ifindex, before.ifindex));
      });
    });
  });

  test("AUTO_TAP in the agent's namespace whose host name is its temporary name, then another, then that one again: renamed in place", async () => {
    await withTapNames(async (temp, host) => {
      await withAgent(1, async (agent) => {
        ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
        const item = (name: string): Record<string, unknown> => {
          const value = tapItem('x', name, temp);
          delete value['namespace'];
          return value;
        };
        await agent.put(['interface', 'tap1', item(temp)]);
        await agent.waitConfigured(['interface', 'tap1']);
        const before = linkOrFail(null, temp);
        assert.match(before.ifalias ?? '', new RegExp(` tap=${temp}$`));
        await eventually(() => assert.deepEqual(addresses(null, temp), ['172.52.45.127/24']));

        const seen = lastSeq(agent);
        await agent.put(['interface', 'tap1', item(host)]);
        await agent.waitConfigured(['interface', 'tap1']);
        assert.equal(linkOrFail(null, host).ifindex, before.ifindex);
        assert.equal(link(null, temp), undefined);
        assert.ok(isUp(linkOrFail(null, host)));
        await eventually(() => assert.deepEqual(addresses(null, host), ['172.52.45.127/24']));

        await agent.put(['interface', 'tap1', item(temp)]);
        await agent.waitConfigured(['interface', 'tap1']);
        assert.equal(linkOrFail(null, temp).ifindex, before.ifindex);
        assert.equal(link(null, host), undefined);
        assert.ok(isUp(linkOrFail(null, temp)));
        await eventually(() => assert.deepEqual(addresses(null, temp), ['172.52.45.127/24']));
        const ops = operationsSince(agent, seen);
        assert.ok(
          ops.every((op) => !/^delete \S+\/interface\/tap1$/.test(op)),
          `renamed in place: ${ops.join(', ')}`,
        );
        await agent.del(['interface', 'tap1']);
        await eventually(() => {
          const back = linkOrFail(null, temp);
          assert.equal(back.ifindex, before.ifindex);
          assert.equal(back.ifalias ?? '', '');
          assert.equal(isUp(back), false);
        });
      });
    });
  });

  test('AUTO_TAP whose TAP is deleted by someone: pending, waiting for it; a new TAP of the temporary name is attached', async () => {
    await withTapNames(async (temp, host) => {
      await withAgent(1, async (agent, [ns1]) => {
        ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
        await agent.put(['interface', 'tap1', tapItem(ns1!, host, temp)]);
        await agent.waitConfigured(['interface', 'tap1']);
        ip(ns1!, ['link', 'del', host]);
        await agent.waitFor('interface', 'tap1', 'pending', new RegExp(`waiting for TAP ${temp} to appear`));
        ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
        const fresh = linkOrFail(null, temp);
        await agent.waitConfigured(['interface', 'tap1']);
        const now = linkOrFail(ns1!, host);
        assert.equal(now.ifindex, fresh.ifindex);
        assert.ok(isUp(now));
        await eventually(() => assert.deepEqual(addresses(ns1!, host), ['172.52.45.127/24']));
      });
    });
  });

  test("AUTO_TAP whose TAP someone moves to the agent's namespace: given back, and taken again into its namespace", async () => {
    await withTapNames(async (temp, host) => {
      await withAgent(1, async (agent, [ns1]) => {
        const before = await attachedTap(agent, ns1!, host, temp);
        ip(ns1!, ['link', 'set', host, 'netns', '1']);
        await eventually(() => {
          const now = linkOrFail(ns1!, host);
          assert.equal(now.ifindex, before.ifindex);
          assert.ok(isUp(now));
        }, 5000);
        await agent.waitConfigured(['interface', 'tap1']);
        await eventually(() => assert.deepEqual(addresses(ns1!, host), ['172.52.45.127/24']));
        assert.equal(link(null, host), undefined);
        assert.equal(link(null, temp), undefined);
      });
    });
  });

  test('AUTO_TAP whose TAP someone moves into another namespace the agent watches: given back from there, and taken again into its namespace', async () => {
    await withTapNames(async (temp, host) => {
      await withAgent(2, async (agent, [ns1, ns2]) => {
        // ns2 is watched: an item of ours is there.
        await agent.put([
          'interface',
          'lo2',
          { name: 'lo2', type: 'LOOPBACK', enabled: true, namespace: named(ns2!) },
        ]);
        ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
        await agent.put(['interface', 'tap1', tapItem(ns1!, host, temp)]);
        await agent.waitConfigured(['interface', 'tap1'], ['interface', 'lo2']);
        const before = linkOrFail(ns1!, host);
        ip(ns1!, ['link', 'set', host, 'netns', ns2!]);
        await eventually(() => {
          const now = linkOrFail(ns1!, host);
          assert.equal(now.ifindex, before.ifindex);
          assert.ok(isUp(now));
        }, 5000);
        await agent.waitConfigured(['interface', 'tap1']);
        await eventually(() => assert.deepEqual(addresses(ns1!, host), ['172.52.45.127/24']));
        assert.equal(link(ns2!, host), undefined, 'not left in the other namespace');
        assert.equal(link(null, temp), undefined);
      });
    });
  });

  for (const where of ['a named namespace', "the agent's namespace"] as const)
    test(`AUTO_TAP in ${where} whose mark someone clears (and renames it, or not): the mark put back in place, never given back`, async () => {
      await withTapNames(async (temp, host) => {
        const other = `${host}r`;
        await withAgent(1, async (agent, [ns1]) => {
          const ns = where === 'a named namespace' ? ns1! : null;
          ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
          const item = tapItem(ns1!, host, temp);
          if (ns === null) delete item['namespace'];
          await agent.put(['interface', 'tap1', item]);
          await agent.waitConfigured(['interface', 'tap1']);
          const before = linkOrFail(ns, host);
          const mark = before.ifalias ?? '';
          assert.match(mark, new RegExp(` tap=${temp}$`));
          const seen = lastSeq(agent);
          for (const rename of [false, true]) {
            if (rename) {
              ip(ns, ['link', 'set', host, 'down']);
              ip(ns, ['link', 'set', host, 'name', other]);
            }
            ip(ns, ['link', 'set', rename ? other : host, 'alias', '']);
            await eventually(() => {
              const now = linkOrFail(ns, host);
              assert.equal(now.ifindex, before.ifindex);
              assert.equal(now.ifalias, mark, 'marked again');
              assert.ok(isUp(now));
            });
            await eventually(() => assert.deepEqual(addresses(ns, host), ['172.52.45.127/24']));
            await agent.waitConfigured(['interface', 'tap1']);
          }
          const ops = operationsSince(agent, seen);
          assert.ok(
            ops.every((op) => !/^delete \S+\/interface\/tap1$/.test(op)),
            `never given back meanwhile: ${ops.join(', ')}`,
          );
          assert.equal(link(null, temp), undefined);
          // Still ours: its removal gives it back.
          await agent.del(['interface', 'tap1']);
          await eventually(() => {
            const back = linkOrFail(null, temp);
            assert.equal(back.ifindex, before.ifindex);
            assert.equal(back.ifalias ?? '', '');
          });
          assert.equal(link(ns, host), undefined);
        });
      });
    });

  test('plan of an AUTO_TAP given another host name: a change, not a re-create; routes through it by host name as apply does them', async () => {
    await withTapNames(async (temp, host) => {
      const other = `${host}r`;
      await withAgent(1, async (agent, [ns1]) => {
        ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
        const route = (name: string, through: string, dst: string): [ItemKind, string, unknown] => [
          'route',
          name,
          { name, namespace: named(ns1!), interface: through, dst_ip_addr: dst },
        ];
        const routesOf = [
          route('old', host, '10.62.1.0/24'),
          route('new', other, '10.62.2.0/24'),
          route('item', 'tap1', '10.62.3.0/24'),
        ];
        await agent.put(['interface', 'tap1', tapItem(ns1!, host, temp)], ...routesOf);
        await agent.waitConfigured(['interface', 'tap1'], ['route', 'old'], ['route', 'item']);
        await agent.waitFor('route', 'new', 'pending');

        const service = new AgentApiService(
          agent.engine,
          {} as Datastore,
          agent.plugin.views,
          new AgentMetrics(),
          {} as InterfaceStatePublisher,
          agent.label,
        );
        const renamed = tapItem(ns1!, other, temp);
        const plan = await service.plan({
          puts: [{ key: agent.key('interface', 'tap1'), valueText: JSON.stringify(renamed) }],
          deletes: [],
        });
        const entry = (kind: ItemKind, name: string): string => {
          const found = plan.summary.entries.find((e) => e.key === agent.key(kind, name));
          return found ? `${found.change}: ${found.why}` : 'untouched';
        };
        const planned = {
          tap1: entry('interface', 'tap1'),
          old: entry('route', 'old'),
          new: entry('route', 'new'),
          item: entry('route', 'item'),
        };
        assert.match(planned.tap1, /^change/, JSON.stringify(planned));

        await agent.put(['interface', 'tap1', renamed]);
        await agent.waitConfigured(['interface', 'tap1'], ['route', 'new'], ['route', 'item']);
        await agent.waitFor('route', 'old', 'pending');
        assert.ok(routes(ns1!).some((r) => r.dst === '10.62.2.0/24' && r.dev === other));
        assert.ok(routes(ns1!).some((r) => r.dst === '10.62.3.0/24' && r.dev === other));
        assert.match(planned.old, /^remove: .*pending/, JSON.stringify(planned));
        assert.match(planned.new, /^create/, JSON.stringify(planned));
        assert.match(planned.item, /^(recreate|change)/, JSON.stringify(planned));
      });
    });
  });

  test('AUTO_TAP with an MTU above the TAP maximum: failed, saying so, and the TAP is not taken', async () => {
    await withTapNames(async (temp, host) => {
      await withAgent(1, async (agent, [ns1]) => {
        ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
        const before = linkOrFail(null, temp);
        await agent.put(['interface', 'tap1', { ...tapItem(ns1!, host, temp), mtu: 65535 }]);
        const failed = await agent.waitFor('interface', 'tap1', 'failed');
        assert.match(
          failed.error?.message ?? '',
          /MTU 65535 is out of what \S+ in the agent's own namespace takes \(\d+ to 65521\)/,
        );
        const back = linkOrFail(null, temp);
        assert.equal(back.ifindex, before.ifindex);
        assert.equal(back.address, before.address, 'its MAC again');
        assert.equal(back.mtu, before.mtu);
        assert.equal(back.ifalias ?? '', '', 'without our mark');
        assert.equal(link(ns1!, host), undefined, 'not left in the namespace');
        await agent.del(['interface', 'tap1']);
        await pause(200);
        assert.equal(linkOrFail(null, temp).ifindex, before.ifindex, 'still there, under its temp name');
      });
    });
  });

  test('AUTO_TAP without mtu: removal gives back the MAC it set, and leaves the MTU its owner changed meanwhile', async () => {
    await withTapNames(async (temp, host) => {
      await withAgent(1, async (agent, [ns1]) => {
        ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
        const mac = linkOrFail(null, temp).address;
        await agent.put(['interface', 'tap1', { ...tapItem(ns1!, host, temp), mtu: undefined }]);
        await agent.waitConfigured(['interface', 'tap1']);
        ip(ns1!, ['link', 'set', host, 'mtu', '1400']);
        await pause(300);
        await agent.del(['interface', 'tap1']);
        await eventually(() => {
          const back = linkOrFail(null, temp);
          assert.deepEqual([back.mtu, back.address], [1400, mac]);
        });
      });
    });
  });

  test('AUTO_TAP without phys_address in a namespace the agent made: removal leaves the MAC its owner set meanwhile', async () => {
    const ns = `ktm${hex(4)}`;
    await withTapNames(
      async (temp, host) => {
        await withAgent(1, async (agent) => {
          ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
          await agent.put(['interface', 'tap1', { ...tapItem(ns, host, temp), phys_address: undefined }]);
          await agent.waitConfigured(['interface', 'tap1']);
          ip(ns, ['link', 'set', host, 'address', '02:ff:00:00:00:16']);
          await pause(300);
          await agent.del(['interface', 'tap1']);
          await eventually(() => assert.equal(linkOrFail(null, temp).address, '02:ff:00:00:00:16'));
        });
      },
      () => ipTry(null, ['netns', 'del', ns]),
    );
  });

  test('AUTO_TAP: a link of its temporary name that is not a TAP is not taken; a TAP of that name then is', async () => {
    await withTapNames(async (temp, host) => {
      ip(null, ['link', 'add', temp, 'type', 'veth', 'peer', 'name', `${temp}p`]);
      ip(null, ['link', 'set', temp, 'up']);
      const before = linkOrFail(null, temp);
      await withAgent(1, async (agent, [ns1]) => {
        await agent.put(['interface', 'tap1', tapItem(ns1!, host, temp)]);
        await agent.waitFor('interface', 'tap1', 'failed', /is a link of kind veth, not a TAP: not taken/);
        const after = linkOrFail(null, temp);
        assert.equal(after.ifindex, before.ifindex);
        assert.ok(isUp(after), 'left up');
        assert.equal(after.ifalias ?? '', '', 'not marked');
        assert.equal(link(ns1!, host), undefined);

        ip(null, ['link', 'del', temp]);
        ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
        await agent.waitConfigured(['interface', 'tap1']);
        assert.equal(linkOrFail(ns1!, host).linkinfo?.info_kind, 'tun');
      });
    });
  });

  test('AUTO_TAP in a named namespace the agent made: removal gives the TAP back and deletes the namespace', async () => {
    await withTapNames(async (temp, host) => {
      await withAgent(
        1,
        async (agent, [ns1]) => {
          const tap = example('linux-tap');
          tap['namespace'] = named(ns1!);
          tap['host_if_name'] = host;
          tap['tap'] = { temp_if_name: temp };
          ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
          await agent.put(['interface', 'tap1', tap]);
          await agent.waitConfigured(['interface', 'tap1']);
          assert.ok(existsSync(`/var/run/netns/${ns1!}`), 'made by the agent');

          await agent.del(['interface', 'tap1']);
          await eventually(() => {
            const back = linkOrFail(null, temp);
            assert.equal(isUp(back), false);
            assert.equal(back.ifalias ?? '', '', 'given back: our mark is gone');
          });
          await eventually(() =>
            assert.equal(existsSync(`/var/run/netns/${ns1!}`), false, 'no longer used: deleted'),
          );
        },
        { create: false },
      );
    });
  });

  test('AUTO_TAP removed from the configuration while the agent was down: given back at the restart, not deleted', () =>
    tapRestartLab('made by the test', async ({ temp, host, ns1, attached, originalMac, start }) => {
      // The store lost the TAP meanwhile: the next agent starts without it (with another item in
      // the TAP's namespace: resync looks at the namespaces the configuration names).
      const second = await start();
      await second.replaceAll([
        'interface',
        'lo1',
        { name: 'lo1', type: 'LOOPBACK', enabled: true, namespace: named(ns1) },
      ]);
      await eventually(() => {
        const back = linkOrFail(null, temp);
        assert.equal(back.ifindex, attached.ifindex, 'the same TAP, not a new one');
        assert.equal(isUp(back), false);
        assert.equal(back.ifalias ?? '', '', 'our mark is gone');
        assert.equal(back.address, originalMac, 'the MAC its item set is given back');
      });
      assert.equal(link(ns1, host), undefined);
    }));

  test('AUTO_TAP and the named namespace we made for it both gone from the store while the agent was down: the TAP is given back first', () =>
    // ns1 is made by the agent: ours to delete when nothing uses it.
    tapRestartLab('made by the agent', async ({ temp, ns1, attached, start }) => {
      const second = await start();
      await second.replaceAll();
      await eventually(() => {
        const back = linkOrFail(null, temp);
        assert.equal(back.ifindex, attached.ifindex, 'the same TAP, not deleted with the namespace');
        assert.equal(isUp(back), false);
      });
      await eventually(() =>
        assert.ok(!ip(null, ['netns', 'list']).includes(ns1), 'the namespace we made is gone'),
      );
    }));

  test('a TAP that cannot be given back (its temporary name taken meanwhile) keeps our mark, and is given back once the name is free', () =>
    tapRestartLab('made by the agent', async ({ temp, host, ns1, attached, start }) => {
      ip(null, ['link', 'add', temp, 'type', 'veth', 'peer', 'name', `${temp}p`]);
      const second = await start();
      await second.replaceAll();
      await second.engine.idle();
      await pause(300);
      // The kernel moves the TAP before it refuses the name: it is home under its host name, and
      // its namespace, with nothing of ours left in it, deleted, whichever of the TAP's removal
      // and the namespace's deletion (which gives TAPs back too) moved it.
      const kept = linkOrFail(null, host);
      assert.equal(kept.ifindex, attached.ifindex, 'the TAP is still there');
      assert.match(kept.ifalias ?? '', new RegExp(`tap=${temp}`), 'still marked ours');
      await eventually(() =>
        assert.ok(!ip(null, ['netns', 'list']).includes(ns1), 'the namespace we made is gone'),
      );
      // Said as what it is, not as the kernel's bare EEXIST.
      await eventually(() => {
        const error = second.status('interface', 'tap1')?.error;
        assert.equal(error?.code, 'ERR_TAP_NAME_TAKEN', JSON.stringify(second.status('interface', 'tap1')));
        assert.match(
          error.message,
          new RegExp(`cannot be given back as ${temp}: another link has that name`),
        );
      });
      // The name freed: tried again, the TAP goes home under it, unmarked.
      ip(null, ['link', 'del', temp]);
      await eventually(() => {
        const back = linkOrFail(null, temp);
        assert.equal(back.ifindex, attached.ifindex);
        assert.equal(back.ifalias ?? '', '');
      }, 20_000);
    }));

  test('AUTO_TAP whose tap.temp_if_name changed in the store while the agent was down: the old TAP is given back under its old name, the new one attached', () =>
    tapRestartLab('made by the test', async ({ temp, host, ns1, attached, originalMac, start }) => {
      const temp2 = `kt${hex(4)}`;
      try {
        ip(null, ['tuntap', 'add', temp2, 'mode', 'tap']);
        const other = linkOrFail(null, temp2);
        const second = await start();
        await second.replaceAll(['interface', 'tap1', tapItem(ns1, host, temp2)]);
        await second.waitConfigured(['interface', 'tap1']);
        await eventually(() => {
          const back = linkOrFail(null, temp);
          assert.equal(back.ifindex, attached.ifindex, 'the old TAP, under the temporary name of its mark');
          assert.equal(isUp(back), false);
          assert.equal(back.ifalias ?? '', '', 'our mark is gone');
          assert.equal(back.address, originalMac, 'the MAC its item set is given back');
        });
        const now = linkOrFail(ns1, host);
        assert.equal(now.linkinfo?.info_kind, 'tun');
        assert.equal(link(null, temp2), undefined, 'the TAP the item names now is taken');
        assert.match(now.ifalias ?? '', new RegExp(` tap=${temp2}$`));
        assert.equal(now.address, '92:c7:42:67:ab:cc');
        assert.deepEqual(addresses(ns1, host), ['172.52.45.127/24']);
        // Its removal gives that one back, under its own temporary name, with its own MAC.
        await second.del(['interface', 'tap1']);
        await eventually(() => {
          const back = linkOrFail(null, temp2);
          assert.equal(back.ifalias ?? '', '');
          assert.equal(back.address, other.address);
        });
        assert.equal(link(ns1, host), undefined);
        assert.equal(linkOrFail(null, temp).ifindex, attached.ifindex, 'the old TAP left alone');
      } finally {
        ipTry(null, ['link', 'del', temp2]);
        ipTry(ns1, ['link', 'del', host]);
      }
    }));

  test('AUTO_TAP renamed in place, then the agent restarts: nothing written, the same TAP', () =>
    tapRestartLab('made by the test', async ({ temp, host, ns1, attached, start }) => {
      const other = `${host}r`;
      try {
        const second = await start();
        await second.replaceAll(['interface', 'tap1', tapItem(ns1, host, temp)]);
        await second.waitConfigured(['interface', 'tap1']);
        await second.put(['interface', 'tap1', tapItem(ns1, other, temp)]);
        await second.waitConfigured(['interface', 'tap1']);
        assert.equal(linkOrFail(ns1, other).ifindex, attached.ifindex);
        await second.close();

        const third = await start();
        const restart = await third.replaceAll(['interface', 'tap1', tapItem(ns1, other, temp)]);
        await third.waitConfigured(['interface', 'tap1']);
        await third.engine.idle();
        assert.equal(writes([restart]), 0, `a restart writes nothing: ${JSON.stringify(restart.operations)}`);
        const now = linkOrFail(ns1, other);
        assert.equal(now.ifindex, attached.ifindex);
        assert.ok(isUp(now));
        assert.deepEqual(addresses(ns1, other), ['172.52.45.127/24']);
        assert.equal(link(null, temp), undefined);

        // Renamed in the store while the agent was down: renamed in place at the start.
        await third.close();
        const fourth = await start();
        const renamed = await fourth.replaceAll(['interface', 'tap1', tapItem(ns1, host, temp)]);
        await fourth.waitConfigured(['interface', 'tap1']);
        assert.ok(
          renamed.operations.every((op) => op.kind !== 'delete'),
          `renamed, not given back: ${JSON.stringify(renamed.operations)}`,
        );
        assert.equal(linkOrFail(ns1, host).ifindex, attached.ifindex);
        await eventually(() => assert.deepEqual(addresses(ns1, host), ['172.52.45.127/24']));
        await fourth.del(['interface', 'tap1']);
        await eventually(() => assert.equal(linkOrFail(null, temp).ifindex, attached.ifindex));
      } finally {
        ipTry(ns1, ['link', 'del', other]);
      }
    }));

  test('two AUTO_TAP items for one TAP across a restart: the one holding it keeps it, whichever key sorts first; nothing is written', () =>
    tapRestartLab('made by the test', async ({ temp, host, ns1, attached, start }) => {
      const ns2 = `ktn${hex(4)}`;
      const host2 = `kh${hex(4)}`;
      try {
        ip(null, ['netns', 'add', ns2]);
        const holder: [ItemKind, string, unknown] = ['interface', 'tap1', tapItem(ns1, host, temp)];
        // Its key sorts before the holder's: a full read in key order would give it the TAP.
        const rival: [ItemKind, string, unknown] = [
          'interface',
          'atap',
          { ...tapItem(ns2, host2, temp), name: 'atap' },
        ];
        const second = await start();
        await second.replaceAll(holder);
        await second.waitConfigured(['interface', 'tap1']);
        await second.put(rival);
        await second.waitFor(
          'interface',
          'atap',
          'invalid',
          /TAP \S+ is already claimed by \S+interface\/tap1/,
        );
        await second.close();

        const third = await start();
        await third.replaceAllHoldersFirst(rival, holder);
        await third.waitConfigured(['interface', 'tap1']);
        await third.waitFor(
          'interface',
          'atap',
          'invalid',
          /TAP \S+ is already claimed by \S+interface\/tap1/,
        );
        assert.equal(writes(third.engine.transactions()), 0, 'the start wrote nothing');
        const kept = linkOrFail(ns1, host);
        assert.equal(kept.ifindex, attached.ifindex, 'the TAP stays where it is');
        assert.equal(link(ns2, host2), undefined);
      } finally {
        ipTry(ns2, ['link', 'del', host2]);
        ipTry(null, ['netns', 'del', ns2]);
      }
    }));

  test("an EXISTING item whose host name is an AUTO_TAP's temporary name in the agent's namespace: the later is invalid, naming the other; a TAP given back where it is claims its name once", () =>
    withTapNames(async (temp, host) => {
      await withAgent(1, async (agent, [ns1]) => {
        const existing = { name: 'ex', type: 'EXISTING', enabled: true, host_if_name: temp, mtu: 1400 };
        ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
        await agent.put(['interface', 'tap1', tapItem(ns1!, host, temp)]);
        await agent.waitConfigured(['interface', 'tap1']);
        await agent.put(['interface', 'ex', existing]);
        const invalid = await agent.waitFor(
          'interface',
          'ex',
          'invalid',
          new RegExp(`host interface name ${temp} .* is already claimed by \\S+interface/tap1`),
        );
        assert.ok(
          invalid.fieldErrors?.some((f) => f.field === 'host_if_name'),
          JSON.stringify(invalid),
        );

        // The other way round: the EXISTING item first, the AUTO_TAP is the later.
        await agent.del(['interface', 'ex'], ['interface', 'tap1']);
        await eventually(() => assert.equal(linkOrFail(null, temp).ifalias ?? '', ''));
        await agent.put(['interface', 'ex', existing]);
        await agent.waitConfigured(['interface', 'ex']);
        await agent.put(['interface', 'tap1', tapItem(ns1!, host, temp)]);
        const refused = await agent.waitFor(
          'interface',
          'tap1',
          'invalid',
          new RegExp(`TAP ${temp} is already claimed by \\S+interface/ex`),
        );
        assert.ok(
          refused.fieldErrors?.some((f) => f.field === 'tap.temp_if_name'),
          JSON.stringify(refused),
        );
        assert.equal(linkOrFail(null, temp).mtu, 1400, 'the TAP stays with the EXISTING item');
        await agent.del(['interface', 'ex'], ['interface', 'tap1']);
        await eventually(() => assert.equal(linkOrFail(null, temp).mtu, 1500));

        // A TAP given back where it is (its host name its temporary name, in the agent's namespace).
        const home: Record<string, unknown> = { ...tapItem(ns1!, temp, temp), ip_addresses: [] };
        delete home['namespace'];
        await agent.put(['interface', 'tap1', home]);
        await agent.waitConfigured(['interface', 'tap1']);
        assert.match(linkOrFail(null, temp).ifalias ?? '', new RegExp(` tap=${temp}$`));
        await agent.del(['interface', 'tap1']);
        await eventually(() => assert.equal(linkOrFail(null, temp).ifalias ?? '', ''));
      });
    }));

  test('LOOPBACK without enabled: lo is brought up, not down, and stays up when the item goes', () =>
    withAgent(1, async (agent, [ns1]) => {
      ip(ns1!, ['link', 'set', 'lo', 'up']);
      await agent.put(['interface', 'lo1', { name: 'lo1', type: 'LOOPBACK', namespace: named(ns1!) }]);
      await agent.waitConfigured(['interface', 'lo1']);
      await pause(200);
      assert.ok(isUp(linkOrFail(ns1!, 'lo')), 'lo up with the item');
      await agent.del(['interface', 'lo1']);
      await pause(200);
      assert.ok(isUp(linkOrFail(ns1!, 'lo')), 'lo up after it');
    }));

  test('EXISTING: waits for the link, configures it; removal undoes MTU/up and never deletes it', () =>
    withAgent(1, async (agent, [ns1]) => {
      const existing = {
        name: 'ex',
        type: 'EXISTING',
        enabled: true,
        host_if_name: 'ex0',
        mtu: 1400,
        namespace: named(ns1!),
        ip_addresses: ['10.3.0.1/24'],
      };
      await agent.put(['interface', 'ex', existing]);
      await agent.waitFor('interface', 'ex', 'pending', /waiting for interface ex0 to exist/);

      ip(ns1!, ['link', 'add', 'ex0', 'type', 'veth', 'peer', 'name', 'ex1']);
      await agent.waitConfigured(['interface', 'ex']);
      const configured = linkOrFail(ns1!, 'ex0');
      assert.equal(configured.mtu, 1400);
      assert.ok(isUp(configured));
      assert.deepEqual(addresses(ns1!, 'ex0'), ['10.3.0.1/24']);

      await agent.del(['interface', 'ex']);
      await eventually(() => {
        const restored = linkOrFail(ns1!, 'ex0');
        assert.equal(restored.mtu, 1500, 'MTU back');
        assert.equal(isUp(restored), false, 'down again');
        assert.deepEqual(addresses(ns1!, 'ex0'), [], 'our address removed');
        assert.equal(restored.ifindex, configured.ifindex, 'never deleted');
      });
      linkOrFail(ns1!, 'ex1');
    }));

  for (const indexTaken of [false, true])
    test(`EXISTING moved out of its namespace and back${indexTaken ? ' under another ifindex' : ''}: configured again, and removal still gives back what it was before us`, () =>
      withAgent(2, async (agent, [ns1, ns2]) => {
        ip(ns1!, ['link', 'add', 'ex0', 'type', 'veth', 'peer', 'name', 'ex1']);
        const before = linkOrFail(ns1!, 'ex0');
        await agent.put(existingItem(ns1!, { mtu: 1400, ip_addresses: ['10.3.0.1/24'] }));
        await agent.waitConfigured(['interface', 'ex']);

        ip(ns1!, ['link', 'set', 'ex0', 'netns', ns2!]);
        await agent.waitFor('interface', 'ex', 'pending');
        // A full resync while it is away (as after a datastore reconnect) must not forget it either.
        await agent.replaceAll(existingItem(ns1!, { mtu: 1400, ip_addresses: ['10.3.0.1/24'] }));
        if (indexTaken)
          ip(ns1!, [
            'link',
            'add',
            'ext',
            'index',
            String(before.ifindex),
            'type',
            'veth',
            'peer',
            'name',
            'ext1',
          ]);
        ip(ns2!, ['link', 'set', 'ex0', 'netns', ns1!]);
        await agent.waitConfigured(['interface', 'ex']);
        const back = linkOrFail(ns1!, 'ex0');
        assert.equal(back.ifindex === before.ifindex, !indexTaken);
        assert.equal(back.mtu, 1400);
        assert.ok(isUp(back));

        await agent.del(['interface', 'ex']);
        await eventually(() => {
          const restored = linkOrFail(ns1!, 'ex0');
          assert.equal(restored.mtu, before.mtu, "the owner's MTU, not ours");
          assert.equal(isUp(restored), false, 'down again');
          assert.deepEqual(addresses(ns1!, 'ex0'), [], 'our address removed');
        });
      }));

  for (const busy of [false, true])
    test(`EXISTING and a gateway route through it, the named namespace deleted and made again at once (without the link)${busy ? ' while the engine is busy elsewhere' : ''}: pending, not made on what the old one had`, () =>
      withAgent(2, async (agent, [ns1, ns2]) => {
        ip(ns1!, ['link', 'add', 'ex0', 'type', 'veth', 'peer', 'name', 'ex1']);
        const route = {
          name: 'viaex',
          namespace: named(ns1!),
          interface: 'ex',
          dst_ip_addr: '172.31.7.0/24',
          gw_addr: '10.3.0.9',
        };
        await agent.put(existingItem(ns1!, { ip_addresses: ['10.3.0.1/24'] }), ['route', 'viaex', route]);
        await agent.waitConfigured(['interface', 'ex'], ['route', 'viaex']);

        // Busy: the going's transaction waits behind 80 pairs, long after the new namespace opened.
        const pairs = busy ? busyPairs(ns2!) : [];
        const making = pairs.length > 0 ? agent.put(...pairs) : undefined;
        // One step: the agent sees the new namespace, never the name without one.
        ip(null, ['netns', 'del', ns1!]);
        ip(null, ['netns', 'add', ns1!]);
        await making;
        await agent.waitFor('interface', 'ex', 'pending', /waiting for interface ex0 to exist/);
        await agent.waitFor('route', 'viaex', 'pending');
        await pause(300);
        assert.equal(agent.status('interface', 'ex')?.state, 'pending', 'still waiting for its link');
        assert.equal(agent.status('route', 'viaex')?.state, 'pending');

        ip(ns1!, ['link', 'add', 'ex0', 'type', 'veth', 'peer', 'name', 'ex1']);
        await agent.waitConfigured(['interface', 'ex'], ['route', 'viaex']);
        assert.deepEqual(addresses(ns1!, 'ex0'), ['10.3.0.1/24']);
        assert.ok(routes(ns1!).some((r) => r.dst === '172.31.7.0/24' && r.gateway === '10.3.0.9'));
      }));

  test('EXISTING with a MAC and an MTU above the maximum: failed before anything is set (the MAC stays)', async () => {
    await withTapNames(async (temp) => {
      await withAgent(1, async (agent) => {
        ip(null, ['tuntap', 'add', temp, 'mode', 'tap']);
        const before = linkOrFail(null, temp);
        const existing = { name: 'ex', type: 'EXISTING', enabled: true, host_if_name: temp };
        await agent.put(['interface', 'ex', { ...existing, phys_address: '02:00:00:00:bb:01', mtu: 65535 }]);
        await agent.waitFor('interface', 'ex', 'failed');
        const undone = linkOrFail(null, temp);
        assert.equal(undone.address, before.address, 'nothing set: the MTU is refused before the MAC');
        assert.equal(undone.mtu, before.mtu);
        assert.equal(isUp(undone), isUp(before));
        await agent.del(['interface', 'ex']);
        await pause(200);
        assert.equal(linkOrFail(null, temp).address, before.address);
      });
    });
  });

  test("EXISTING and LOOPBACK through a full resync and a restart: nothing written again; removal restores the owner's MTU, also after the restart", () =>
    restartLab(async ({ ns1, start }) => {
      const items = existingAndLoopback(ns1, ['10.4.0.1/32']);
      ip(ns1, ['link', 'add', 'ex0', 'mtu', '1600', 'type', 'veth', 'peer', 'name', 'ex1']);
      const first = await start();
      await first.replaceAll(...items);
      await first.waitConfigured(['interface', 'ex'], ['interface', 'loop']);
      const configured = linkOrFail(ns1, 'ex0');
      assert.equal(configured.mtu, 1400);

      // A full read again in the running agent (as after a datastore reconnect): nothing to do, and
      // what ex0 was before is still known: removal gives it its MTU back.
      const again = await first.replaceAll(...items);
      assert.equal(writes([again]), 0, 'a full resync writes nothing');
      await first.del(['interface', 'ex']);
      await eventually(() => assert.equal(linkOrFail(ns1, 'ex0').mtu, 1600, "the owner's MTU"));
      await first.put(items[0]!);
      await first.waitConfigured(['interface', 'ex']);
      await first.close();

      // A restart (another process: the book comes from its file): nothing written either, and
      // removal undoes our address and the MTU ex0 had before the first agent.
      const second = await start();
      const restart = await second.replaceAll(...items);
      await second.engine.idle();
      assert.equal(writes([restart]), 0, 'a restart writes nothing');
      assert.equal(linkOrFail(ns1, 'ex0').ifindex, configured.ifindex);
      await second.del(['interface', 'ex']);
      await eventually(() => {
        assert.deepEqual(addresses(ns1, 'ex0'), [], 'our address removed');
        assert.equal(linkOrFail(ns1, 'ex0').mtu, 1600, "the owner's MTU, known from before the restart");
      });
    }));

  test('EXISTING removed from the configuration while the agent was down: undone at the restart (MTU, up, our address); the book empties', () =>
    restartLab(async ({ ns1, file, start }) => {
      const [ex, loop] = existingAndLoopback(ns1);
      ip(ns1, ['link', 'add', 'ex0', 'mtu', '1600', 'type', 'veth', 'peer', 'name', 'ex1']);
      const first = await start();
      await first.replaceAll(ex!, loop!);
      await first.waitConfigured(['interface', 'ex'], ['interface', 'loop']);
      assert.equal(linkOrFail(ns1, 'ex0').mtu, 1400);
      assert.ok(isUp(linkOrFail(ns1, 'ex0')));
      assert.match(readFileSync(file, 'utf8'), /"hostIfName": "ex0"/);
      assert.match(readFileSync(file, 'utf8'), /"10\.3\.0\.1\/24"/, 'the address we added');
      await first.close();

      // The store lost ex meanwhile (the loopback item keeps the namespace looked at).
      const second = await start();
      await second.replaceAll(loop!);
      await eventually(() => {
        const restored = linkOrFail(ns1, 'ex0');
        assert.equal(restored.mtu, 1600, "the owner's MTU");
        assert.equal(isUp(restored), false, 'down, as it was');
        assert.deepEqual(addresses(ns1, 'ex0'), [], 'our address taken off');
      });
      await second.del(['interface', 'loop']);
      await eventually(() => assert.equal(existsSync(file), false, 'nothing left to undo: no book'));
    }));

  test('while the agent was down: EXISTING given another host name is undone on the old link; one reconfigured by someone else is left alone', () =>
    restartLab(async ({ ns1, file, start }) => {
      const existing = (name: string, host: string, address: string): [ItemKind, string, unknown] =>
        existingItem(ns1, { mtu: 1400, ip_addresses: [address] }, name, host);
      for (const [a, b] of [
        ['ex0', 'ex1'],
        ['ey0', 'ey1'],
        ['ez0', 'ez1'],
      ] as const)
        ip(ns1, ['link', 'add', a, 'mtu', '1600', 'type', 'veth', 'peer', 'name', b]);
      const first = await start();
      await first.replaceAll(existing('ex', 'ex0', '10.3.0.1/24'), existing('ey', 'ey0', '10.3.1.1/24'));
      await first.waitConfigured(['interface', 'ex'], ['interface', 'ey']);
      await first.close();

      // Meanwhile: ex names ez0 now; someone gives ey0 another MTU, and ey is deleted.
      ip(ns1, ['link', 'set', 'ey0', 'mtu', '1500']);
      const second = await start();
      await second.replaceAll(existing('ex', 'ez0', '10.3.0.1/24'));
      await second.waitConfigured(['interface', 'ex']);
      await eventually(() => {
        const old = linkOrFail(ns1, 'ex0');
        assert.equal(old.mtu, 1600, "ex0: the owner's MTU");
        assert.equal(isUp(old), false);
        assert.deepEqual(addresses(ns1, 'ex0'), [], 'ex0: our address taken off');
      });
      assert.equal(linkOrFail(ns1, 'ez0').mtu, 1400);
      assert.deepEqual(addresses(ns1, 'ez0'), ['10.3.0.1/24']);
      const ey = linkOrFail(ns1, 'ey0');
      assert.equal(ey.mtu, 1500, 'not as we left it: not ours to undo');
      assert.deepEqual(addresses(ns1, 'ey0'), ['10.3.1.1/24']);
      assert.doesNotMatch(readFileSync(file, 'utf8'), /"ey0"|"ex0"/, 'both forgotten');
    }));

  test("an EXISTING's owner changed its MTU while the agent was down: removal gives back that MTU, and the link's first admin state", () =>
    restartLab(async ({ ns1, start }) => {
      ip(ns1, ['link', 'add', 'ex0', 'mtu', '1600', 'type', 'veth', 'peer', 'name', 'ex1']);
      const [kind, name, value] = existingItem(ns1, { mtu: 9000 });
      const first = await start();
      await first.replaceAll([kind, name, value]);
      await first.waitConfigured(['interface', 'ex']);
      await first.close();

      ip(ns1, ['link', 'set', 'ex0', 'mtu', '1300']);
      const second = await start();
      await second.replaceAll([kind, name, value]);
      await second.waitConfigured(['interface', 'ex']);
      await eventually(() => assert.equal(linkOrFail(ns1, 'ex0').mtu, 9000));
      await second.del(['interface', 'ex']);
      await eventually(() => {
        const link = linkOrFail(ns1, 'ex0');
        assert.equal(link.mtu, 1300, "the owner's MTU of the meantime");
        assert.equal(isUp(link), false, 'down, as it was before the agent');
      });
    }));

  test("an EXISTING's value starts to set mtu and phys_address while the agent was down, after its owner changed them: removal gives back the owner's", () =>
    restartLab(async ({ ns1, start }) => {
      ip(ns1, [
        'link',
        'add',
        'ex0',
        'mtu',
        '1400',
        'address',
        '02:00:00:00:06:01',
        'type',
        'veth',
        'peer',
        'name',
        'ex1',
      ]);
      const [kind, name, value] = existingItem(ns1);
      const first = await start();
      await first.replaceAll([kind, name, value]);
      await first.waitConfigured(['interface', 'ex']);
      ip(ns1, ['link', 'set', 'ex0', 'mtu', '1300', 'address', '02:00:00:00:06:02']);
      await pause(300);
      await first.close();

      const second = await start();
      await second.replaceAll([
        kind,
        name,
        { ...(value as object), mtu: 9000, phys_address: '02:00:00:00:06:99' },
      ]);
      await second.waitConfigured(['interface', 'ex']);
      await eventually(() => assert.equal(linkOrFail(ns1, 'ex0').mtu, 9000));
      await second.del(['interface', 'ex']);
      await eventually(() => {
        const link = linkOrFail(ns1, 'ex0');
        assert.deepEqual([link.mtu, link.address], [1300, '02:00:00:00:06:02']);
      });
    }));

  test("an EXISTING's MTU changed in the store while the agent was down: updated; removal still gives back the owner's MTU and takes our address off", () =>
    restartLab(async ({ ns1, file, start }) => {
      ip(ns1, ['link', 'add', 'ex0', 'mtu', '1600', 'type', 'veth', 'peer', 'name', 'ex1']);
      const [ex] = existingAndLoopback(ns1);
      const first = await start();
      await first.replaceAll(ex!);
      await first.waitConfigured(['interface', 'ex']);
      await first.close();

      const second = await start();
      const [kind, name, value] = ex!;
      await second.replaceAll([kind, name, { ...(value as object), mtu: 1300 }]);
      await second.waitConfigured(['interface', 'ex']);
      assert.equal(linkOrFail(ns1, 'ex0').mtu, 1300);
      await eventually(() =>
        assert.match(readFileSync(file, 'utf8'), /10\.3\.0\.1\/24/, 'our address still known'),
      );
      await second.del(['interface', 'ex']);
      await eventually(() => {
        assert.equal(linkOrFail(ns1, 'ex0').mtu, 1600);
        assert.deepEqual(addresses(ns1, 'ex0'), []);
      });
    }));

  test("an EXISTING's MTU changed and one of our addresses dropped in the store while the agent was down: that address is taken off at the start", () =>
    restartLab(async ({ ns1, start }) => {
      ip(ns1, ['link', 'add', 'ex0', 'mtu', '1600', 'type', 'veth', 'peer', 'name', 'ex1']);
      const item = (mtu: number, ipAddresses: string[]): [ItemKind, string, unknown] =>
        existingItem(ns1, { mtu, ip_addresses: ipAddresses });
      const first = await start();
      await first.replaceAll(item(1400, ['10.3.0.1/24', '10.3.1.1/24']));
      await first.waitConfigured(['interface', 'ex']);
      await first.close();

      const second = await start();
      await second.replaceAll(item(1300, ['10.3.0.1/24']));
      await second.waitConfigured(['interface', 'ex']);
      assert.equal(linkOrFail(ns1, 'ex0').mtu, 1300);
      await eventually(() => assert.deepEqual(addresses(ns1, 'ex0'), ['10.3.0.1/24']));
      await second.del(['interface', 'ex']);
      await eventually(() => {
        assert.equal(linkOrFail(ns1, 'ex0').mtu, 1600);
        assert.deepEqual(addresses(ns1, 'ex0'), []);
      });
    }));

  test('EXISTING: the MTU and MAC given back are those the link had when the value started to set them; removal leaves what it never set', () =>
    withAgent(1, async (agent, [ns1]) => {
      ip(ns1!, [
        'link',
        'add',
        'ex0',
        'mtu',
        '1400',
        'address',
        '02:00:00:00:05:01',
        'type',
        'veth',
        'peer',
        'name',
        'ex1',
      ]);
      const [kind, name, value] = existingItem(ns1!);
      await agent.put([kind, name, value]);
      await agent.waitConfigured(['interface', 'ex']);
      // The owner changes its link while the value sets neither MTU nor MAC: left alone.
      ip(ns1!, ['link', 'set', 'ex0', 'mtu', '1300', 'address', '02:00:00:00:05:02']);
      await agent.put([kind, name, { ...(value as object), mtu: 8000, phys_address: '02:00:00:00:05:99' }]);
      await agent.waitConfigured(['interface', 'ex']);
      await eventually(() => assert.equal(linkOrFail(ns1!, 'ex0').mtu, 8000));
      await agent.put([kind, name, value]);
      await agent.waitConfigured(['interface', 'ex']);
      await eventually(() => {
        const link = linkOrFail(ns1!, 'ex0');
        assert.deepEqual([link.mtu, link.address], [1300, '02:00:00:00:05:02']);
      });
      // Changed again by its owner, then the item goes: the owner's MTU and MAC stay.
      ip(ns1!, ['link', 'set', 'ex0', 'mtu', '1350', 'address', '02:00:00:00:05:03']);
      await pause(300);
      await agent.del(['interface', 'ex']);
      await eventually(() => assert.equal(isUp(linkOrFail(ns1!, 'ex0')), false, 'down again, as it was'));
      const after = linkOrFail(ns1!, 'ex0');
      assert.deepEqual([after.mtu, after.address], [1350, '02:00:00:00:05:03']);
    }));

  test("an EXISTING's mtu and phys_address removed from the store while the agent was down: the owner's are given back at the restart", () =>
    restartLab(async ({ ns1, start }) => {
      const mac = '02:00:00:00:04:01';
      ip(ns1, ['link', 'add', 'ex0', 'mtu', '1600', 'address', mac, 'type', 'veth', 'peer', 'name', 'ex1']);
      const [kind, name, value] = existingItem(ns1, { ip_addresses: ['10.3.2.1/24'] });
      const first = await start();
      await first.replaceAll([
        kind,
        name,
        { ...(value as object), mtu: 1400, phys_address: '02:00:00:00:04:99' },
      ]);
      await first.waitConfigured(['interface', 'ex']);
      await first.close();

      const second = await start();
      await second.replaceAll([kind, name, value]);
      await second.waitConfigured(['interface', 'ex']);
      await eventually(() => {
        const link = linkOrFail(ns1, 'ex0');
        assert.deepEqual([link.mtu, link.address], [1600, mac]);
        assert.ok(isUp(link));
        assert.deepEqual(addresses(ns1, 'ex0'), ['10.3.2.1/24']);
      });
    }));

  test('an address the EXISTING link had before its item asked for it stays when the item goes, also after a restart; ours goes', () =>
    restartLab(async ({ ns1, start }) => {
      ip(ns1, ['link', 'add', 'ex0', 'type', 'veth', 'peer', 'name', 'ex1']);
      ip(ns1, ['addr', 'add', '10.3.0.1/24', 'dev', 'ex0']);
      const item = existingItem(ns1, { ip_addresses: ['10.3.0.1/24', '10.3.0.9/24'] });
      for (const restart of [false, true]) {
        const first = await start();
        await first.replaceAll(item);
        await first.waitConfigured(['interface', 'ex']);
        assert.deepEqual(addresses(ns1, 'ex0').sort(), ['10.3.0.1/24', '10.3.0.9/24']);
        const remover = restart ? (await first.close(), await start()) : first;
        if (restart) {
          await remover.replaceAll(item);
          await remover.waitConfigured(['interface', 'ex']);
        }
        await remover.del(['interface', 'ex']);
        await eventually(() =>
          assert.deepEqual(addresses(ns1, 'ex0'), ['10.3.0.1/24'], `restart: ${restart}`),
        );
        await remover.close();
      }
    }));

  test('EXISTING and LOOPBACK changed by someone else: put back within a second', () =>
    withAgent(1, async (agent, [ns1]) => {
      ip(ns1!, ['link', 'add', 'ex0', 'type', 'veth', 'peer', 'name', 'ex1']);
      await agent.put(...existingAndLoopback(ns1!));
      await agent.waitConfigured(['interface', 'ex'], ['interface', 'loop']);

      ip(ns1!, ['link', 'set', 'ex0', 'mtu', '1500']);
      ip(ns1!, ['addr', 'del', '10.3.0.1/24', 'dev', 'ex0']);
      ip(ns1!, ['link', 'set', 'lo', 'down']);
      await eventually(() => {
        assert.equal(linkOrFail(ns1!, 'ex0').mtu, 1400);
        assert.deepEqual(addresses(ns1!, 'ex0'), ['10.3.0.1/24']);
        assert.ok(isUp(linkOrFail(ns1!, 'lo')));
      }, 1500);
    }));

  test("a VETH end without mtu given another MTU by someone: the kernel's default is put back", () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(
        ['interface', 'a', veth('a', 'b', ns1!, { host_if_name: 'da' })],
        ['interface', 'b', veth('b', 'a', ns2!, { host_if_name: 'db' })],
      );
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
      const before = linkOrFail(ns1!, 'da');
      ip(ns1!, ['link', 'set', 'da', 'mtu', '9000']);
      await eventually(() => {
        const after = linkOrFail(ns1!, 'da');
        assert.deepEqual([after.mtu, after.ifindex], [1500, before.ifindex]);
      }, 1500);
    }));

  test("EXISTING without mtu: the owner's MTU is left alone, also when the agent heals another change", () =>
    withAgent(1, async (agent, [ns1]) => {
      ip(ns1!, ['link', 'add', 'ex0', 'mtu', '1600', 'type', 'veth', 'peer', 'name', 'ex1']);
      await agent.put(existingItem(ns1!));
      await agent.waitConfigured(['interface', 'ex']);
      ip(ns1!, ['link', 'set', 'ex0', 'mtu', '9000']);
      ip(ns1!, ['link', 'set', 'ex0', 'down']);
      await eventually(() => assert.ok(isUp(linkOrFail(ns1!, 'ex0')), 'set up again'), 1500);
      await pause(300);
      assert.equal(linkOrFail(ns1!, 'ex0').mtu, 9000, "the owner's MTU");
    }));

  test('EXISTING whose owner sets an MTU below 1280 (IPv6 off): its IPv6 address and route fail, saying so, and come back with a larger MTU', () =>
    withAgent(1, async (agent, [ns1]) => {
      ip(ns1!, ['link', 'add', 'ex0', 'type', 'veth', 'peer', 'name', 'ex1']);
      ip(ns1!, ['link', 'set', 'ex1', 'up']);
      const route = {
        name: 'r6',
        namespace: named(ns1!),
        interface: 'ex',
        dst_ip_addr: '2001:db8:77::/64',
      };
      await agent.put(existingItem(ns1!, { ip_addresses: ['2001:db8:3::1/64'] }), ['route', 'r6', route]);
      await agent.waitConfigured(['interface', 'ex'], ['route', 'r6']);
      const v6 = (): boolean => addresses(ns1!, 'ex0').includes('2001:db8:3::1/64');
      const routed = (): boolean => routes(ns1!, 6).some((r) => r.dst === '2001:db8:77::/64');
      assert.ok(v6() && routed());
      const addressKey = `${agent.key('interface', 'ex')}/address/2001:db8:3::1/64`;
      ip(ns1!, ['link', 'set', 'ex0', 'mtu', '1200']);
      await eventually(() => {
        for (const [key, what] of [
          [addressKey, /^address 2001:db8:3::1\/64: IPv6 is off on ex0, whose MTU 1200 is below 1280/],
          [agent.key('route', 'r6'), /^route 2001:db8:77::\/64: IPv6 is off on ex0/],
        ] as const) {
          const status = agent.engine.status(key);
          assert.equal(status?.state, 'failed', key);
          assert.match(status?.error?.message ?? '', what);
        }
      }, 3000);
      ip(ns1!, ['link', 'set', 'ex0', 'mtu', '1500']);
      await eventually(() => {
        assert.ok(v6(), 'the address is back');
        assert.ok(routed(), 'the route is back');
        assert.equal(agent.engine.status(addressKey)?.state, 'configured');
        assert.equal(agent.engine.status(agent.key('route', 'r6'))?.state, 'configured');
      }, 3000);
    }));

  test('EXISTING with an IPv6 address another host on the link has: failed, saying so, the address taken off; back once the other host gave it up', () =>
    withAgent(
      1,
      async (agent, [ns1]) => {
        // ex1, the other host on ex0's link, has the address already (no detection of its own).
        ip(ns1!, ['link', 'add', 'ex0', 'type', 'veth', 'peer', 'name', 'ex1']);
        ip(ns1!, ['addr', 'add', '2001:db8:5::1/64', 'dev', 'ex1', 'nodad']);
        ip(ns1!, ['link', 'set', 'ex1', 'up']);
        await agent.put(existingItem(ns1!, { ip_addresses: ['2001:db8:5::1/64'] }));
        const addressKey = `${agent.key('interface', 'ex')}/address/2001:db8:5::1/64`;
        await eventually(() => {
          const status = agent.engine.status(addressKey);
          assert.equal(status?.state, 'failed');
          assert.equal(status?.error?.code, 'ERR_DUPLICATE_ADDRESS');
          assert.match(
            status?.error?.message ?? '',
            /^address 2001:db8:5::1\/64 is used by another host on the link of ex0 \(IPv6 duplicate address detection failed\); taken off, tried again in \d+ s$/,
          );
          assert.deepEqual(addresses(ns1!, 'ex0'), [], 'the unusable address is taken off');
        }, 6000);
        assert.ok(
          agent.logs.some((l) => /duplicate address detection failed/.test(l.message ?? '')),
          'the failure is logged',
        );
        ip(ns1!, ['addr', 'del', '2001:db8:5::1/64', 'dev', 'ex1']);
        await eventually(() => {
          assert.equal(agent.engine.status(addressKey)?.state, 'configured');
          const [entry] = ipJson<
            { addr_info: { local: string; tentative?: boolean; dadfailed?: boolean }[] }[]
          >(ns1!, ['addr', 'show', 'dev', 'ex0']);
          const info = entry?.addr_info.find((a) => a.local === '2001:db8:5::1');
          assert.ok(info, 'the address is back on ex0');
          assert.ok(!info.dadfailed && !info.tentative, 'and passed detection');
        }, 10000);
        await agent.put(existingItem(ns1!, { ip_addresses: [] }));
        await agent.waitConfigured(['interface', 'ex']);
        assert.deepEqual(addresses(ns1!, 'ex0'), [], 'removed with the item');
      },
      { duplicateAddressRetryMs: 300 },
    ));

  test('LOOPBACK: lo up with addresses; removal takes the addresses away', () =>
    withAgent(1, async (agent, [ns1]) => {
      const lo = {
        name: 'loop',
        type: 'LOOPBACK',
        enabled: true,
        namespace: named(ns1!),
        // 127.0.0.2/8: the kernel takes a loopback address only with host scope, as `ip` gives it.
        ip_addresses: ['10.4.0.1/32', 'fd00:4::1/128', '127.0.0.2/8'],
      };
      assert.equal(isUp(linkOrFail(ns1!, 'lo')), false);
      await agent.put(['interface', 'loop', lo]);
      await agent.waitConfigured(['interface', 'loop']);
      const up = linkOrFail(ns1!, 'lo');
      assert.ok(isUp(up));
      assert.ok(addresses(ns1!, 'lo').includes('10.4.0.1/32'));
      assert.ok(addresses(ns1!, 'lo').includes('fd00:4::1/128'));
      assert.ok(addresses(ns1!, 'lo').includes('127.0.0.2/8'));
      await agent.del(['interface', 'loop']);
      await eventually(() => {
        assert.ok(!addresses(ns1!, 'lo').includes('127.0.0.2/8'));
        assert.ok(!addresses(ns1!, 'lo').includes('10.4.0.1/32'));
        assert.ok(!addresses(ns1!, 'lo').includes('fd00:4::1/128'));
      });
      assert.equal(linkOrFail(ns1!, 'lo').ifindex, up.ifindex);
    }));

  test(
    'DUMMY: created and deleted by us',
    { skip: kernelSupportsLinkKind('dummy') ? false : 'this kernel has no dummy links' },
    () =>
      withAgent(1, async (agent, [ns1]) => {
        const dummy = {
          name: 'd',
          type: 'DUMMY',
          enabled: true,
          host_if_name: 'dm0',
          mtu: 1300,
          namespace: named(ns1!),
          ip_addresses: ['10.5.0.1/24'],
        };
        await agent.put(['interface', 'd', dummy]);
        await agent.waitConfigured(['interface', 'd']);
        const made = linkOrFail(ns1!, 'dm0');
        assert.equal(made.linkinfo?.info_kind, 'dummy');
        assert.equal(made.mtu, 1300);
        assert.deepEqual(addresses(ns1!, 'dm0'), ['10.5.0.1/24']);
        await agent.del(['interface', 'd']);
        await eventually(() => assert.equal(link(ns1!, 'dm0'), undefined));
      }),
  );

  test(
    'DUMMY on a kernel without the dummy module: failed on field type, saying so (not a bare EOPNOTSUPP)',
    { skip: kernelSupportsLinkKind('dummy') ? 'this kernel has dummy links' : false },
    () =>
      withAgent(1, async (agent, [ns1]) => {
        await agent.put([
          'interface',
          'd',
          { name: 'd', type: 'DUMMY', enabled: true, host_if_name: 'dm0', namespace: named(ns1!) },
        ]);
        const status = await agent.waitFor('interface', 'd', 'failed', /cannot make DUMMY links/);
        assert.equal(status.error?.code, 'ERR_LINK_KIND_UNSUPPORTED');
        assert.equal(status.error?.field, 'type');
        assert.match(status.error?.message ?? '', /link kind dummy in named namespace \S+: EOPNOTSUPP/);
        assert.match(status.error?.message ?? '', /modprobe dummy/);
        assert.equal(status.nextRetryAt, undefined, 'not retried on a timer');
        assert.equal(link(ns1!, 'dm0'), undefined);
      }),
  );

  test('two interfaces claiming one host name in one namespace: the later is invalid, naming the other', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(
        ['interface', 'a', veth('a', 'b', ns1!, { host_if_name: 'dup' })],
        ['interface', 'b', veth('b', 'a', ns2!)],
      );
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
      const existing = {
        name: 'c',
        type: 'EXISTING',
        enabled: true,
        host_if_name: 'dup',
        mtu: 1400,
        namespace: named(ns1!),
      };
      await agent.put(['interface', 'c', existing]);
      const status = await agent.waitFor(
        'interface',
        'c',
        'invalid',
        new RegExp(`${agent.key('interface', 'a').replace(/[/]/g, '\\/')}`),
      );
      assert.ok(
        status.fieldErrors?.some((f) => f.field === 'host_if_name'),
        JSON.stringify(status.fieldErrors),
      );
      // The first one is untouched.
      assert.equal(agent.status('interface', 'a')?.state, 'configured');
      assert.equal(linkOrFail(ns1!, 'dup').mtu, 1500);
      // The same host name in another namespace is fine.
      await agent.put(['interface', 'c', { ...existing, namespace: named(ns2!), host_if_name: 'lo' }]);
      await agent.waitConfigured(['interface', 'c']);
    }));
});
