/**
 * VETH pairs through engine + Linux descriptors on a real kernel, checked with `ip -json`: the seeds'
 * veth1/veth2 example (addresses v4+v6, MAC, MTU) with a ping across; one side only; deleting and
 * re-putting a side; a named namespace deleted out of band and re-created.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { deleteNamespace, eventually, ip, skipUnlessRoot } from '../../helpers/kernel.js';
import {
  addresses,
  example,
  hex,
  isUp,
  link,
  linkOrFail,
  named,
  pause,
  TestAgent,
  veth,
  withAgent,
} from './harness.js';
import { ownedGroup } from '../../../src/descriptors/ownership.js';
import type { ItemKind } from '../../../src/model/index.js';

/** A link's group as `ip -json` shows it (0 is "default"). */
function groupOf(ns: string, name: string): number {
  const shown = (linkOrFail(ns, name) as unknown as { group: string }).group;
  // ip prints a group with the top bit set as a negative number.
  return shown === 'default' ? 0 : Number(shown) >>> 0;
}

/** The seeds' veth1/veth2 example with our own namespace names instead of ns1/ns2. */
function seedPair(
  ns1: string,
  ns2: string,
): { veth1: Record<string, unknown>; veth2: Record<string, unknown> } {
  const veth1 = example('veth1');
  const veth2 = example('veth2');
  veth1['namespace'] = named(ns1);
  veth2['namespace'] = named(ns2);
  return { veth1, veth2 };
}

describe('VETH pairs', { skip: skipUnlessRoot() }, () => {
  test("the seeds' veth1/veth2 example is configured as written and pings", () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const { veth1, veth2 } = seedPair(ns1!, ns2!);
      await agent.put(['interface', 'veth1', veth1], ['interface', 'veth2', veth2]);
      await agent.waitConfigured(['interface', 'veth1'], ['interface', 'veth2']);

      const end1 = linkOrFail(ns1!, 'veth1Name');
      const end2 = linkOrFail(ns2!, 'veth2Name');
      assert.equal(end1.linkinfo?.info_kind, 'veth');
      assert.equal(end2.linkinfo?.info_kind, 'veth');
      assert.equal(end1.address, 'd2:74:8c:12:67:d2');
      assert.equal(end2.address, '92:c7:42:67:ab:cd');
      assert.equal(end1.mtu, 1500);
      assert.equal(end2.mtu, 1500);
      assert.ok(isUp(end1) && isUp(end2), 'both ends up');
      assert.deepEqual(addresses(ns1!, 'veth1Name'), ['192.168.22.1/24', '2001:db8::ff00:89e3:bb42/48']);
      assert.deepEqual(addresses(ns2!, 'veth2Name'), ['192.168.22.2/24', '2001:842::ff00:13c7:1245/48']);
      // Each end is marked as ours.
      assert.match(end1.ifalias ?? '', new RegExp(`:${agent.label}:veth1$`));
      assert.match(end2.ifalias ?? '', new RegExp(`:${agent.label}:veth2$`));

      const ping = spawnSync('ip', ['netns', 'exec', ns1!, 'ping', '-c', '1', '-W', '2', '192.168.22.2'], {
        encoding: 'utf8',
      });
      assert.equal(ping.status, 0, `ping 192.168.22.2 from ${ns1}: ${ping.stdout}${ping.stderr}`);
      const back = spawnSync('ip', ['netns', 'exec', ns2!, 'ping', '-c', '1', '-W', '2', '192.168.22.1'], {
        encoding: 'utf8',
      });
      assert.equal(back.status, 0, `ping 192.168.22.1 from ${ns2}: ${back.stdout}${back.stderr}`);
    }));

  test("a disabled end's mark is known to the agent at once (the kernel announces it only for a link that is up)", () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      await agent.put(
        ['interface', 'e1', veth('e1', 'e2', ns1!, { host_if_name: 'de1' })],
        ['interface', 'e2', veth('e2', 'e1', ns2!, { host_if_name: 'de2', enabled: false })],
      );
      await agent.waitConfigured(['interface', 'e1'], ['interface', 'e2']);
      for (const [ns, host, name] of [
        [ns1!, 'de1', 'e1'],
        [ns2!, 'de2', 'e2'],
      ] as const) {
        const known = agent.plugin.views.get(`named/${ns}`)?.links.get(host);
        assert.match(known?.alias ?? '', new RegExp(`:${agent.label}:${name}$`), host);
        assert.equal(known?.alias, linkOrFail(ns, host).ifalias, host);
        assert.equal(known?.up, name === 'e1', host);
      }
    }));

  for (const only of ['veth1', 'veth2'] as const) {
    test(`one side only (${only}): nothing is created, it is pending for its peer`, () =>
      withAgent(2, async (agent, [ns1, ns2]) => {
        const pair = seedPair(ns1!, ns2!);
        const peer = only === 'veth1' ? 'veth2' : 'veth1';
        await agent.put(['interface', only, pair[only]]);
        await agent.waitFor(
          'interface',
          only,
          'pending',
          new RegExp(`waiting for VETH peer ${peer} .*to be configured`),
        );
        await pause(200);
        assert.equal(agent.status('interface', only)?.state, 'pending');
        for (const ns of [ns1!, ns2!]) {
          assert.equal(link(ns, 'veth1Name'), undefined, `no veth1Name in ${ns}`);
          assert.equal(link(ns, 'veth2Name'), undefined, `no veth2Name in ${ns}`);
        }
        // And the moment the peer comes, the pair is there.
        await agent.put(['interface', peer, pair[peer]]);
        await agent.waitConfigured(['interface', 'veth1'], ['interface', 'veth2']);
        linkOrFail(ns1!, 'veth1Name');
        linkOrFail(ns2!, 'veth2Name');
      }));
  }

  for (const removed of ['veth1', 'veth2'] as const) {
    test(`deleting one side (${removed}) removes the pair, the other waits; re-put brings it back`, () =>
      withAgent(2, async (agent, [ns1, ns2]) => {
        const pair = seedPair(ns1!, ns2!);
        const other = removed === 'veth1' ? 'veth2' : 'veth1';
        await agent.put(['interface', 'veth1', pair.veth1], ['interface', 'veth2', pair.veth2]);
        await agent.waitConfigured(['interface', 'veth1'], ['interface', 'veth2']);
        const before = linkOrFail(ns1!, 'veth1Name').ifindex;

        await agent.del(['interface', removed]);
        await agent.waitFor(
          'interface',
          other,
          'pending',
          new RegExp(`waiting for VETH peer ${removed} .*to be configured`),
        );
        await eventually(() => {
          assert.equal(link(ns1!, 'veth1Name'), undefined, 'veth1Name gone');
          assert.equal(link(ns2!, 'veth2Name'), undefined, 'veth2Name gone');
        });
        assert.equal(agent.status('interface', removed)?.state ?? 'removed', 'removed', `${removed} removed`);

        await agent.put(['interface', removed, pair[removed]]);
        await agent.waitConfigured(['interface', 'veth1'], ['interface', 'veth2']);
        const end1 = linkOrFail(ns1!, 'veth1Name');
        linkOrFail(ns2!, 'veth2Name');
        assert.notEqual(end1.ifindex, undefined);
        assert.deepEqual(addresses(ns1!, 'veth1Name'), ['192.168.22.1/24', '2001:db8::ff00:89e3:bb42/48']);
        assert.deepEqual(addresses(ns2!, 'veth2Name'), ['192.168.22.2/24', '2001:842::ff00:13c7:1245/48']);
        assert.ok(before > 0);
      }));
  }

  test('most pairs of a namespace deleted at once: their group deleted as it is; the rest and a foreign link untouched', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      // Not ours, in the namespace the pairs are deleted from.
      ip(ns1!, ['link', 'add', 'fz0', 'type', 'veth', 'peer', 'name', 'fz1']);
      const foreign = [linkOrFail(ns1!, 'fz0'), linkOrFail(ns1!, 'fz1')];
      const pairs = Array.from({ length: 24 }, (_, i) => i);
      await agent.put(
        ...pairs.flatMap((i): [['interface', string, unknown], ['interface', string, unknown]] => [
          ['interface', `a${i}`, veth(`a${i}`, `b${i}`, ns1!)],
          ['interface', `b${i}`, veth(`b${i}`, `a${i}`, ns2!)],
        ]),
      );
      await agent.waitConfigured(...pairs.map((i): ['interface', string] => ['interface', `a${i}`]));
      // The creating ends stay in the label's group once marked; linkGroupList reads what ip shows.
      assert.equal(groupOf(ns1!, 'a0'), ownedGroup(agent.label));
      const hub = agent.plugin.views.get(`named/${ns1!}`)!;
      const memberships = await hub.handle.linkGroupList();
      const a0 = linkOrFail(ns1!, 'a0');
      assert.deepEqual(
        memberships.find((m) => m.index === a0.ifindex),
        { index: a0.ifindex, group: ownedGroup(agent.label), alias: a0.ifalias },
      );
      assert.deepEqual(
        memberships.find((m) => m.index === foreign[0]!.ifindex),
        { index: foreign[0]!.ifindex, group: 0 },
      );
      const kept = pairs.slice(20);
      const keptBefore = kept.map((i) => linkOrFail(ns1!, `a${i}`).ifindex);
      const requestsBefore = hub.handle.socket.counters.requests;

      const record = await agent.del(
        ...pairs.slice(0, 20).flatMap((i): ['interface', string][] => [
          ['interface', `a${i}`],
          ['interface', `b${i}`],
        ]),
      );
      const requests = hub.handle.socket.counters.requests - requestsBefore;
      assert.equal(record.counts.failed, 0, JSON.stringify(record.errors));
      for (const i of pairs.slice(0, 20)) {
        assert.equal(link(ns1!, `a${i}`), undefined, `a${i} gone`);
        assert.equal(link(ns2!, `b${i}`), undefined, `b${i} gone`);
      }
      assert.deepEqual(
        kept.map((i) => linkOrFail(ns1!, `a${i}`).ifindex),
        keptBefore,
        'the pairs that stay keep their ifindexes',
      );
      for (const i of kept)
        assert.equal(groupOf(ns1!, `a${i}`), ownedGroup(agent.label), `a${i} back in the group`);
      assert.deepEqual(
        [linkOrFail(ns1!, 'fz0'), linkOrFail(ns1!, 'fz1')],
        foreign,
        'the foreign pair untouched',
      );
      // No request per deleted link (that would be 20 moves and a group deletion): a dump, the four
      // that stay out and back, one group deletion.
      assert.ok(requests < 20, `${requests} requests in ${ns1!}`);
    }));

  test('a teardown deletes the links first; their addresses go with them, with no request each', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const pairs = [0, 1, 2, 3, 4];
      await agent.put(
        ...pairs.flatMap((i): [['interface', string, unknown], ['interface', string, unknown]] => [
          ['interface', `a${i}`, veth(`a${i}`, `b${i}`, ns1!, { ip_addresses: [`10.77.${i}.1/30`] })],
          ['interface', `b${i}`, veth(`b${i}`, `a${i}`, ns2!, { ip_addresses: [`10.77.${i}.2/30`] })],
        ]),
      );
      await agent.waitConfigured(...pairs.map((i): ['interface', string] => ['interface', `b${i}`]));
      assert.deepEqual(addresses(ns2!, 'b0'), ['10.77.0.2/30']);
      const sockets = [ns1!, ns2!].map((ns) => agent.plugin.views.get(`named/${ns}`)!.handle.socket);
      const before = sockets.map((s) => ({ ...s.counters }));

      const record = await agent.del(
        ...pairs.flatMap((i): ['interface', string][] => [
          ['interface', `a${i}`],
          ['interface', `b${i}`],
        ]),
      );
      assert.equal(record.counts.failed, 0, JSON.stringify(record.errors));
      for (const i of pairs) {
        assert.equal(link(ns1!, `a${i}`), undefined, `a${i} gone`);
        assert.equal(link(ns2!, `b${i}`), undefined, `b${i} gone`);
      }
      // Each address's removal ended after its link's (it went with the link)...
      const ended = record.operations.map((op) => op.key);
      for (const i of pairs)
        for (const end of [`a${i}`, `b${i}`]) {
          const linkAt = ended.findIndex((k) => k.endsWith(`/interface/${end}`));
          const addressAt = ended.findIndex((k) => k.includes(`/interface/${end}/address/`));
          assert.ok(
            linkAt >= 0 && addressAt > linkAt,
            `${end}: link at ${linkAt}, its address at ${addressAt}`,
          );
        }
      // ...and sent nothing: in the namespace of the creating ends, the links moved into the doomed
      // group and that group deleted (one batch, or two if the deletions were split in time); no
      // request in the other namespace, none refused.
      const sent = sockets.map((s, k) => s.counters.requests - before[k]!.requests);
      const refused = sockets.map((s, k) => s.counters.errors - before[k]!.errors);
      assert.ok(sent[0]! <= pairs.length + 2, `${sent[0]} requests in ${ns1!}`);
      assert.equal(sent[1], 0, `requests in ${ns2!}`);
      assert.deepEqual(refused, [0, 0]);
    }));

  test('a named namespace deleted out of band: its items go pending; re-created: they are back', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const pair = seedPair(ns1!, ns2!);
      const lo = {
        name: 'lo2',
        type: 'LOOPBACK',
        enabled: true,
        namespace: named(ns2!),
        ip_addresses: ['10.99.0.2/32'],
      };
      await agent.put(
        ['interface', 'veth1', pair.veth1],
        ['interface', 'veth2', pair.veth2],
        ['interface', 'lo2', lo],
      );
      await agent.waitConfigured(['interface', 'veth1'], ['interface', 'veth2'], ['interface', 'lo2']);

      ip(null, ['netns', 'del', ns2!]);
      await agent.waitFor('interface', 'veth2', 'pending', new RegExp(`waiting for named namespace ${ns2}`));
      await agent.waitFor('interface', 'lo2', 'pending', new RegExp(`waiting for named namespace ${ns2}`));
      // veth1 waits as well (its peer's end is not there), and its end is gone with the pair.
      await agent.waitFor('interface', 'veth1', 'pending');
      await eventually(() =>
        assert.equal(link(ns1!, 'veth1Name'), undefined, 'veth1Name gone with its peer'),
      );

      ip(null, ['netns', 'add', ns2!]);
      await agent.waitConfigured(['interface', 'veth1'], ['interface', 'veth2'], ['interface', 'lo2']);
      assert.ok(isUp(linkOrFail(ns1!, 'veth1Name')));
      assert.ok(isUp(linkOrFail(ns2!, 'veth2Name')));
      assert.deepEqual(addresses(ns2!, 'veth2Name'), ['192.168.22.2/24', '2001:842::ff00:13c7:1245/48']);
      assert.ok(isUp(linkOrFail(ns2!, 'lo')));
      assert.ok(addresses(ns2!, 'lo').includes('10.99.0.2/32'));
    }));

  test('named namespaces the config needs are created on demand and removed when unused', () =>
    withAgent(
      2,
      async (agent, [ns1, ns2]) => {
        await agent.put(['interface', 'a', veth('a', 'b', ns1!)], ['interface', 'b', veth('b', 'a', ns2!)]);
        await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
        linkOrFail(ns1!, 'a');
        linkOrFail(ns2!, 'b');
        await agent.del(['interface', 'a'], ['interface', 'b']);
        await eventually(() => {
          assert.equal(spawnSync('ip', ['netns', 'pids', ns1!]).status === 0, false, `${ns1} deleted`);
          assert.equal(spawnSync('ip', ['netns', 'pids', ns2!]).status === 0, false, `${ns2} deleted`);
        });
      },
      { create: false },
    ));

  test("a named namespace another agent made, deleted by it once its items went: made again for this agent's items (not left pending as if a user deleted it)", async () => {
    const name = `k${hex(2)}s${hex(3)}`;
    const loopback = (address: string): Record<string, unknown> => ({
      name: 'lo1',
      type: 'LOOPBACK',
      enabled: true,
      namespace: named(name),
      ip_addresses: [address],
    });
    const agents: TestAgent[] = [];
    try {
      const first = await TestAgent.start();
      const second = await TestAgent.start();
      agents.push(first, second);
      await first.put(['interface', 'lo1', loopback('10.15.0.1/32')]);
      await first.waitConfigured(['interface', 'lo1']);
      await second.put(['interface', 'lo1', loopback('10.15.0.2/32')]);
      await second.waitConfigured(['interface', 'lo1']);
      await first.del(['interface', 'lo1']);
      // The first deletes the namespace it made; the second makes it again for its own item.
      await eventually(() => {
        assert.equal(second.status('interface', 'lo1')?.state, 'configured');
        const held = addresses(name, 'lo');
        assert.ok(held.includes('10.15.0.2/32') && !held.includes('10.15.0.1/32'), held.join(', '));
      }, 4000);
      assert.ok(
        second.logs.some((l) => /made by another agent was deleted by it/.test(l.message ?? '')),
        'said',
      );
    } finally {
      for (const agent of agents) await agent.close();
      deleteNamespace(name);
    }
  });

  for (const moved of ['a', 'b'] as const)
    test(`${moved === 'a' ? 'the creating' : 'the other'} end moved into another namespace by someone: the pair is made again where it belongs`, () =>
      withAgent(3, async (agent, [ns1, ns2, elsewhere]) => {
        await agent.put(['interface', 'a', veth('a', 'b', ns1!)], ['interface', 'b', veth('b', 'a', ns2!)]);
        await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
        const from = moved === 'a' ? ns1! : ns2!;
        ip(from, ['link', 'set', 'dev', moved, 'netns', elsewhere!]);
        await eventually(() => {
          linkOrFail(ns1!, 'a');
          linkOrFail(ns2!, 'b');
        }, 10_000);
        await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
        await eventually(() =>
          assert.equal(link(elsewhere!, moved), undefined, 'the stray end went with its pair'),
        );
      }));

  test("the other end's host name held by someone's link in its namespace: the pair fails naming it there, and is made as soon as that link goes", () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      ip(ns2!, ['link', 'add', 'ptk1', 'type', 'veth', 'peer', 'name', 'ptk2']);
      await agent.put(
        ['interface', 'a', veth('a', 'b', ns1!, { host_if_name: 'pta' })],
        ['interface', 'b', veth('b', 'a', ns2!, { host_if_name: 'ptk1' })],
      );
      const failed = await agent.waitFor('interface', 'a', 'failed', /ptk1/);
      assert.match(
        failed.error?.message ?? '',
        new RegExp(`ptk1 \\(host name of its VETH peer b\\) already exists in named namespace ${ns2}`),
      );
      assert.equal(failed.error?.retriable, false, 'no timer: tried again when the kernel changes there');
      ip(ns2!, ['link', 'del', 'ptk1']);
      // Tried again on the link's deletion (at most once a second), not on a growing backoff.
      await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
      linkOrFail(ns1!, 'pta');
      linkOrFail(ns2!, 'ptk1');
    }));

  test('a host name held by another item of ours in the same namespace reached another way (a process in it): the error names that item', () =>
    withAgent(2, async (agent, [ns1, ns2]) => {
      const inNs1 = spawn('ip', ['netns', 'exec', ns1!, 'sleep', '60'], { stdio: 'ignore' });
      try {
        await agent.put(['interface', 'a', veth('a', 'b', ns1!)], ['interface', 'b', veth('b', 'a', ns2!)]);
        await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
        const byPid = { type: 'PID_REF_NS', pid: inNs1.pid };
        await agent.put(
          ['interface', 'c', veth('c', 'd', undefined, { host_if_name: 'a', namespace: byPid })],
          ['interface', 'd', veth('d', 'c', ns2!)],
        );
        const failed = await agent.waitFor('interface', 'c', 'failed', /already exists/);
        assert.match(
          failed.error?.message ?? '',
          /a already exists in namespace of pid \d+, held by item a of this agent \(the same namespace, referenced another way\?\)/,
        );
        linkOrFail(ns1!, 'a');
        await agent.del(['interface', 'c'], ['interface', 'd']);
        // The same for the other end's host name (the pair's maker is in another namespace).
        await agent.put(
          ['interface', 'c', veth('c', 'd', ns2!, { host_if_name: 'c2' })],
          ['interface', 'd', veth('d', 'c', undefined, { host_if_name: 'a', namespace: byPid })],
        );
        const peerFailed = await agent.waitFor('interface', 'c', 'failed', /already exists/);
        assert.match(
          peerFailed.error?.message ?? '',
          /a \(host name of its VETH peer d\) already exists in namespace of pid \d+, held by item a of this agent \(the same namespace, referenced another way\?\)/,
        );
        assert.equal(peerFailed.error?.code, 'ERR_HOST_NAME_TAKEN');
        linkOrFail(ns1!, 'a');
        await agent.del(['interface', 'c'], ['interface', 'd']);
      } finally {
        inNs1.kill();
      }
    }));

  test('a named namespace we made is kept while it holds links of others, and removed once they go', () =>
    withAgent(
      2,
      async (agent, [ns1, ns2]) => {
        await agent.put(['interface', 'a', veth('a', 'b', ns1!)], ['interface', 'b', veth('b', 'a', ns2!)]);
        await agent.waitConfigured(['interface', 'a'], ['interface', 'b']);
        // Someone else (another agent, or by hand) puts a pair of theirs in ns2.
        ip(ns2!, ['link', 'add', 'kfor0', 'type', 'veth', 'peer', 'name', 'kfor1']);
        await agent.del(['interface', 'a'], ['interface', 'b']);
        await eventually(() => assert.equal(spawnSync('ip', ['netns', 'pids', ns1!]).status === 0, false));
        await pause(500);
        assert.ok(spawnSync('ip', ['netns', 'pids', ns2!]).status === 0, `${ns2} kept: it holds kfor0`);
        linkOrFail(ns2!, 'kfor0');
        ip(ns2!, ['link', 'del', 'kfor0']);
        await eventually(
          () => assert.equal(spawnSync('ip', ['netns', 'pids', ns2!]).status === 0, false, `${ns2} removed`),
          10_000,
        );
      },
      { create: false },
    ));

  test('named namespaces we created and the changed store no longer needs are removed at the restart; others stay', async () => {
    const label = `kn${hex(4)}`;
    const [kept, dropped, theirs] = ['k', 'd', 't'].map((c) => `kn${c}${hex(3)}`) as [string, string, string];
    const netnsExists = (name: string): boolean => spawnSync('ip', ['netns', 'pids', name]).status === 0;
    const agents: TestAgent[] = [];
    try {
      ip(null, ['netns', 'add', theirs]);
      const first = await TestAgent.start({ label });
      agents.push(first);
      await first.replaceAll(
        ['interface', 'a', veth('a', 'b', kept)],
        ['interface', 'b', veth('b', 'a', dropped)],
      );
      await first.waitConfigured(['interface', 'a'], ['interface', 'b']);
      await first.close();
      assert.ok(netnsExists(kept) && netnsExists(dropped), 'made on demand, kept while the agent is down');

      // The store changed meanwhile: only `kept` is still named (and `theirs`, never ours, is not).
      const second = await TestAgent.start({ label });
      agents.push(second);
      await second.replaceAll([
        'interface',
        'l',
        { name: 'l', type: 'LOOPBACK', enabled: true, namespace: named(kept) },
      ]);
      await eventually(() => assert.equal(netnsExists(dropped), false, `${dropped} removed`));
      assert.ok(netnsExists(kept), `${kept} still needed`);
      assert.ok(netnsExists(theirs), `${theirs} is not ours`);
    } finally {
      for (const agent of agents) await agent.close();
      for (const name of [kept, dropped, theirs]) spawnSync('ip', ['netns', 'del', name]);
    }
  });

  test('pairs whose ends traded peers while the agent was down are made again as configured at the restart', async () => {
    const label = `kp${hex(4)}`;
    const [ns1, ns2] = ['1', '2'].map((c) => `kp${c}${hex(3)}`) as [string, string];
    const agents: TestAgent[] = [];
    /** The ifindex of a link's peer as `ip -d -json` shows it (IFLA_LINK). */
    const peerIndex = (ns: string, name: string): number | undefined =>
      (linkOrFail(ns, name) as unknown as { link_index?: number }).link_index;
    try {
      for (const ns of [ns1, ns2]) ip(null, ['netns', 'add', ns]);
      const first = await TestAgent.start({ label });
      agents.push(first);
      await first.replaceAll(
        ['interface', 'a', veth('a', 'b', ns1, { host_if_name: 'kpa' })],
        ['interface', 'b', veth('b', 'a', ns2, { host_if_name: 'kpb' })],
        ['interface', 'c', veth('c', 'd', ns2, { host_if_name: 'kpc' })],
        ['interface', 'd', veth('d', 'c', ns1, { host_if_name: 'kpd' })],
      );
      await first.waitConfigured(
        ['interface', 'a'],
        ['interface', 'b'],
        ['interface', 'c'],
        ['interface', 'd'],
      );
      await first.close();

      // Changed in the store while the agent was down: a-c and b-d; every end keeps its name,
      // namespace and settings, so only the pairing differs.
      const second = await TestAgent.start({ label });
      agents.push(second);
      await second.replaceAll(
        ['interface', 'a', veth('a', 'c', ns1, { host_if_name: 'kpa' })],
        ['interface', 'c', veth('c', 'a', ns2, { host_if_name: 'kpc' })],
        ['interface', 'b', veth('b', 'd', ns2, { host_if_name: 'kpb' })],
        ['interface', 'd', veth('d', 'b', ns1, { host_if_name: 'kpd' })],
      );
      await eventually(() => {
        for (const name of ['a', 'b', 'c', 'd'])
          assert.equal(second.status('interface', name)?.state, 'configured', name);
        assert.equal(peerIndex(ns1, 'kpa'), linkOrFail(ns2, 'kpc').ifindex, 'kpa is paired with kpc');
        assert.equal(peerIndex(ns2, 'kpc'), linkOrFail(ns1, 'kpa').ifindex, 'kpc is paired with kpa');
        assert.equal(peerIndex(ns2, 'kpb'), linkOrFail(ns1, 'kpd').ifindex, 'kpb is paired with kpd');
        assert.equal(peerIndex(ns1, 'kpd'), linkOrFail(ns2, 'kpb').ifindex, 'kpd is paired with kpb');
      });
    } finally {
      for (const agent of agents) await agent.close();
      for (const name of [ns1, ns2]) deleteNamespace(name);
    }
  });

  test('an end changed while the agent was down, whose peer moved to another namespace, is made again with it at the restart', async () => {
    const label = `km${hex(4)}`;
    const [ns1, ns2] = ['1', '2'].map((c) => `km${c}${hex(3)}`) as [string, string];
    const agents: TestAgent[] = [];
    try {
      for (const ns of [ns1, ns2]) ip(null, ['netns', 'add', ns]);
      const first = await TestAgent.start({ label });
      agents.push(first);
      await first.replaceAll(
        ['interface', 'a', veth('a', 'b', ns1, { host_if_name: 'kma' })],
        ['interface', 'b', veth('b', 'a', ns1, { host_if_name: 'kmb' })],
      );
      await first.waitConfigured(['interface', 'a'], ['interface', 'b']);
      await first.close();

      // Changed in the store while the agent was down: a's MTU (an update of its link) and b's
      // namespace (b made again: deleting its link deletes a's too, under a's update).
      const second = await TestAgent.start({ label });
      agents.push(second);
      await second.replaceAll(
        ['interface', 'a', veth('a', 'b', ns1, { host_if_name: 'kma', mtu: 1400 })],
        ['interface', 'b', veth('b', 'a', ns2, { host_if_name: 'kmb' })],
      );
      await second.waitConfigured(['interface', 'a'], ['interface', 'b']);
      const a = linkOrFail(ns1, 'kma');
      assert.equal(a.mtu, 1400);
      assert.equal(link(ns1, 'kmb'), undefined, 'the old end is gone');
      assert.equal(
        (linkOrFail(ns2, 'kmb') as unknown as { link_index?: number }).link_index,
        a.ifindex,
        'kmb in its new namespace is paired with kma',
      );
    } finally {
      for (const agent of agents) await agent.close();
      for (const name of [ns1, ns2]) deleteNamespace(name);
    }
  });

  test('a VETH end whose mark (alias) someone clears gets it back: still healed, and still ours after a restart', async () => {
    const label = `kt${hex(4)}`;
    const [ns1, ns2] = [`kun${hex(2)}`, `kun${hex(2)}`];
    const agents: TestAgent[] = [];
    try {
      for (const name of [ns1, ns2]) ip(null, ['netns', 'add', name]);
      const items: [ItemKind, string, unknown][] = [
        ['interface', 'a', veth('a', 'b', ns1, { host_if_name: 'kua', ip_addresses: ['10.71.0.1/24'] })],
        ['interface', 'b', veth('b', 'a', ns2, { host_if_name: 'kub' })],
      ];
      const first = await TestAgent.start({ label });
      agents.push(first);
      await first.replaceAll(...items);
      await first.waitConfigured(['interface', 'a'], ['interface', 'b']);
      const made = linkOrFail(ns1, 'kua');
      const mark = made.ifalias ?? '';
      assert.equal(mark, `netns-agent:${label}:a`);

      ip(ns1, ['link', 'set', 'kua', 'alias', '']);
      await eventually(() => assert.equal(linkOrFail(ns1, 'kua').ifalias, mark, 'marked again'));
      // Still known as ours: drift on it is healed.
      ip(ns1, ['link', 'set', 'kua', 'down']);
      await eventually(() => assert.ok(isUp(linkOrFail(ns1, 'kua')), 'set up again'));
      await first.close();

      // A restart finds it by its mark: the same link, configured (before: "kua already exists
      // ... and is not managed by this agent", for good).
      const second = await TestAgent.start({ label });
      agents.push(second);
      await second.replaceAll(...items);
      await second.waitConfigured(['interface', 'a'], ['interface', 'b']);
      const after = linkOrFail(ns1, 'kua');
      assert.equal(after.ifindex, made.ifindex);
      assert.deepEqual(addresses(ns1, 'kua'), ['10.71.0.1/24']);
    } finally {
      for (const agent of agents) await agent.close();
      for (const name of [ns1, ns2]) deleteNamespace(name);
    }
  });
});
