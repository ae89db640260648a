/**
 * Out-of-band changes to what the agent manages, through the real agent process: the seeds' VETH
 * pair (veth1 in ns1, veth2 in ns2) plus a route and a permanent ARP entry over veth1. Each change is
 * made with `ip` and must be detected and healed (kernel back as configured, every item configured)
 * within 1500 ms of the command: a managed link deleted, renamed, set down, given another MTU; a
 * managed address removed; a managed route deleted; a managed ARP entry deleted. An address someone
 * else adds to a managed link is not ours: it stays. A named namespace deleted out of band makes its
 * items pending with a reason naming it, and they are configured again once it is re-created.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { SqliteStore } from '../../src/datastore/index.js';
import {
  AgentProcess,
  checkSeedPair,
  Cleanup,
  configKey,
  deleteNamespaces,
  eventually,
  ipLink,
  seedPair,
  tag,
  type SeedPair,
} from '../helpers/agent.js';
import { ip, ipBatch, ipJson, skipUnlessRoot } from '../helpers/kernel.js';

const HEAL_BUDGET_MS = 1500;
const ROUTE_DST = '10.99.0.0/16';
const ARP_IP = '192.168.22.3';
const ARP_MAC = '02:aa:bb:cc:dd:03';

describe('out-of-band changes healed by the agent process', { skip: skipUnlessRoot() }, () => {
  const cleanup = new Cleanup();
  const healTimes: string[] = [];
  let agent: AgentProcess;
  let pair: SeedPair;
  let keys: string[];

  before(async () => {
    const label = `flo${tag()}`;
    pair = seedPair(label, 'flo');
    cleanup.add(() => deleteNamespaces(pair.ns1, pair.ns2));
    const dir = mkdtempSync(path.join(tmpdir(), 'netns-fault-oob-'));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    const storeFile = path.join(dir, 'store.db');
    const routeKey = configKey(label, 'route', 'r1');
    const arpKey = configKey(label, 'arp', 'a1');
    keys = [pair.key1, pair.key2, routeKey, arpKey];
    const store = new SqliteStore({ file: storeFile });
    try {
      await store.put(pair.key1, JSON.stringify(pair.veth1));
      await store.put(pair.key2, JSON.stringify(pair.veth2));
      await store.put(
        routeKey,
        JSON.stringify({
          name: 'r1',
          namespace: { type: 'NAMED_NS', name: pair.ns1 },
          interface: 'veth1',
          dst_ip_addr: ROUTE_DST,
          gw_addr: '192.168.22.2',
          metric: 100,
        }),
      );
      await store.put(
        arpKey,
        JSON.stringify({
          name: 'a1',
          namespace: { type: 'NAMED_NS', name: pair.ns1 },
          interface: 'veth1',
          ip_addr: ARP_IP,
          hw_address: ARP_MAC,
          state: { type: 'PERMANENT' },
        }),
      );
    } finally {
      await store.close();
    }
    agent = await AgentProcess.start({ label, store: storeFile });
    cleanup.add(() => agent.stop());
    await agent.until(keys, 'configured');
    await eventually(() => healthy(), 5000);
  });
  after(async () => {
    console.log(`# heal times (budget ${HEAL_BUDGET_MS} ms): ${healTimes.join(', ')}`);
    await cleanup.run();
  });

  /** Throws unless the kernel holds exactly the configuration (as far as these checks see). */
  function healthy(): void {
    checkSeedPair(pair);
    const routes = ipJson<{ dst: string; gateway?: string; dev: string; protocol?: string }[]>(pair.ns1, [
      'route',
      'show',
      ROUTE_DST,
    ]);
    if (!routes.some((r) => r.gateway === '192.168.22.2' && r.dev === 'veth1Name'))
      throw new Error(`route ${ROUTE_DST}: ${JSON.stringify(routes)}`);
    const neigh = ipJson<{ dst: string; lladdr?: string; state?: string[] }[]>(pair.ns1, [
      'neigh',
      'show',
      ARP_IP,
      'dev',
      'veth1Name',
    ]);
    if (!neigh.some((n) => n.lladdr === ARP_MAC && n.state?.includes('PERMANENT')))
      throw new Error(`ARP ${ARP_IP}: ${JSON.stringify(neigh)}`);
  }

  /** Runs the out-of-band commands in NS, then waits until healed; returns (and records) the time. */
  async function breakAndHeal(
    what: string,
    ns: string,
    commands: string[],
    extra?: () => void,
  ): Promise<number> {
    const t0 = Date.now();
    ipBatch(ns, commands);
    await eventually(
      async () => {
        healthy();
        extra?.();
        const rows = new Map((await agent.status()).map((r) => [r.key, r]));
        for (const key of keys) {
          const row = rows.get(key);
          if (row?.state !== 'configured')
            throw new Error(`${key}: ${row?.state} (${row?.reason ?? row?.error})`);
        }
      },
      HEAL_BUDGET_MS * 4,
      10,
    );
    const ms = Date.now() - t0;
    healTimes.push(`${what} ${ms}`);
    assert.ok(ms <= HEAL_BUDGET_MS, `${what}: healed after ${ms} ms, budget ${HEAL_BUDGET_MS} ms`);
    return ms;
  }

  test('managed link deleted -> re-created', async () => {
    const before = checkSeedPair(pair);
    await breakAndHeal('link deleted', pair.ns1, ['link del veth1Name']);
    assert.notEqual(checkSeedPair(pair).ifindex1, before.ifindex1, 'a new link');
  });

  test('managed link renamed -> named back', async () => {
    await breakAndHeal(
      'renamed',
      pair.ns1,
      ['link set veth1Name down', 'link set veth1Name name floRenamed'],
      () => assert.equal(ipLink(pair.ns1, 'floRenamed'), undefined),
    );
  });

  test('managed link set down -> up', async () => {
    const before = checkSeedPair(pair);
    await breakAndHeal('set down', pair.ns1, ['link set veth1Name down']);
    assert.deepEqual(checkSeedPair(pair), before, 'same links');
  });

  test('managed link given another MTU -> MTU back', async () => {
    const before = checkSeedPair(pair);
    await breakAndHeal('MTU changed', pair.ns2, ['link set veth2Name mtu 1400']);
    assert.deepEqual(checkSeedPair(pair), before, 'same links');
  });

  test('managed address removed -> added back', async () => {
    await breakAndHeal('address removed', pair.ns1, ['addr del 192.168.22.1/24 dev veth1Name']);
    await breakAndHeal('IPv6 address removed', pair.ns2, [
      'addr del 2001:842::ff00:13c7:1245/48 dev veth2Name',
    ]);
  });

  test('managed route deleted -> re-created', async () => {
    await breakAndHeal('route deleted', pair.ns1, [`route del ${ROUTE_DST}`]);
  });

  test('managed ARP entry deleted -> re-created', async () => {
    await breakAndHeal('ARP deleted', pair.ns1, [`neigh del ${ARP_IP} dev veth1Name`]);
  });

  test('an address someone else adds to a managed link is left alone', async () => {
    ipBatch(pair.ns1, ['addr add 192.168.77.1/24 dev veth1Name']);
    await sleep(500);
    healthy();
    const addrs = (ipLink(pair.ns1, 'veth1Name')?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
    assert.ok(addrs.includes('192.168.77.1/24'), `not ours, not removed: ${addrs.join(' ')}`);
    await agent.until(keys, 'configured', 1000);
    ipBatch(pair.ns1, ['addr del 192.168.77.1/24 dev veth1Name']);
  });

  test('named namespace deleted -> pending naming it; re-created -> configured', async () => {
    const t0 = Date.now();
    ip(null, ['netns', 'del', pair.ns2]);
    await eventually(async () => {
      const row = await agent.stateOf(pair.key2);
      assert.equal(row?.state, 'pending');
      assert.match(row?.reason ?? '', new RegExp(`\\b${pair.ns2}\\b`));
    }, 5000);
    const pendingMs = Date.now() - t0;
    // Everything over the pair waits with it, and none of it is left in ns1.
    await agent.until(keys, 'pending', 5000);
    assert.equal(ipLink(pair.ns1, 'veth1Name'), undefined, 'veth1 went with its peer');
    const reasons = (await agent.status())
      .filter((r) => keys.includes(r.key))
      .map((r) => `${r.key}: ${r.reason}`);
    console.log(`# namespace deleted: pending after ${pendingMs} ms; ${reasons.join('; ')}`);
    assert.ok(
      reasons.every((r) => r.includes(pair.ns2) || r.includes('veth1')),
      reasons.join('\n'),
    );

    const t1 = Date.now();
    ip(null, ['netns', 'add', pair.ns2]);
    await agent.until(keys, 'configured', 10_000);
    await eventually(() => healthy(), 3000);
    healTimes.push(`namespace re-created ${Date.now() - t1}`);
  });
});
