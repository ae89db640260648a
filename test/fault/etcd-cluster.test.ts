/**
 * The agent process on a 3-member etcd cluster on loopback, started with all three endpoints
 * (issue 7, part B):
 *
 * - one member killed (SIGKILL), each in turn: the agent carries on; a put made through another
 *   member is applied to the kernel; items stay configured, the pair is never touched;
 * - the whole cluster down for 30 s (every member killed, restarted on the same ports and data):
 *   meanwhile the agent stays up and its API answers, the kernel is kept (same ifindexes, nothing
 *   removed), and drift made in the kernel is healed from the desired state the agent holds in
 *   memory (link set down, address deleted, an MTU changed, a VETH end deleted); once the cluster
 *   is back the agent reconnects, re-reads everything without a kernel write, and applies what
 *   changed in etcd after it (a new pair put, an old one deleted).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdStore } from '../../src/datastore/index.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { ip, ipJson, skipUnlessRoot } from '../helpers/kernel.js';
import {
  AgentProcess,
  checkVethEnds,
  Cleanup,
  configKey,
  deleteNamespaces,
  eventually,
  ipLink,
  kernelWriteOps,
  netnsctl,
  seedPair,
  tag,
  type SeedPair,
} from '../helpers/agent.js';

const OUTAGE_MS = 30_000;

/** A second VETH pair between the seed pair's namespaces: x<i> in ns1, y<i> in ns2. */
function extraPair(
  label: string,
  pair: SeedPair,
  i: number,
): { keys: string[]; values: Record<string, unknown>[] } {
  const x = `x${i}`;
  const y = `y${i}`;
  const common = { type: 0, enabled: true, mtu: 1400 };
  return {
    keys: [configKey(label, 'interface', x), configKey(label, 'interface', y)],
    values: [
      {
        ...common,
        name: x,
        host_if_name: `fx${i}`,
        ip_addresses: [`10.66.${i}.1/24`],
        namespace: { type: 2, name: pair.ns1 },
        veth: { peer_if_name: y },
      },
      {
        ...common,
        name: y,
        host_if_name: `fy${i}`,
        ip_addresses: [`10.66.${i}.2/24`],
        namespace: { type: 2, name: pair.ns2 },
        veth: { peer_if_name: x },
      },
    ],
  };
}

/** ifindex of the extra pair's ends, or throws when it is not configured as it should be. */
function checkExtra(pair: SeedPair, i: number): [number, number] {
  const [x, y] = checkVethEnds(
    { ns: pair.ns1, name: `fx${i}`, address: `10.66.${i}.1` },
    { ns: pair.ns2, name: `fy${i}`, address: `10.66.${i}.2` },
    1400,
  );
  return [x.ifindex, y.ifindex];
}

/** The seed pair as configured (MAC, MTU, up, addresses); returns the ifindexes. */
function checkSeed(pair: SeedPair): [number, number] {
  const l1 = ipLink(pair.ns1, 'veth1Name');
  const l2 = ipLink(pair.ns2, 'veth2Name');
  assert.ok(l1 && l2, 'seed pair exists');
  assert.ok(l1.flags.includes('UP') && l2.flags.includes('UP'), 'seed pair up');
  assert.equal(l1.mtu, 1500);
  assert.equal(l2.mtu, 1500);
  assert.equal(l1.address, 'd2:74:8c:12:67:d2');
  const have = (l: typeof l1) => (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
  for (const a of ['192.168.22.1/24', '2001:db8::ff00:89e3:bb42/48'])
    assert.ok(have(l1).includes(a), `veth1Name lacks ${a}: ${have(l1).join(' ')}`);
  for (const a of ['192.168.22.2/24', '2001:842::ff00:13c7:1245/48'])
    assert.ok(have(l2).includes(a), `veth2Name lacks ${a}: ${have(l2).join(' ')}`);
  return [l1.ifindex, l2.ifindex];
}

async function putAll(store: EtcdStore, keys: string[], values: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < keys.length; i++) await store.put(keys[i]!, JSON.stringify(values[i]));
}

function reconnects(metrics: string): number {
  return Number(/netns_agent_datastore_reconnects_total\{store="etcd"\} (\d+)/.exec(metrics)?.[1] ?? 0);
}

/** Log lines of the agent with this message, parsed. */
function logLines(agent: AgentProcess, msg: string): Record<string, unknown>[] {
  return agent.log
    .join('')
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('the agent on a 3-member etcd cluster', { skip: skipUnlessRoot() }, () => {
  let cluster: EtcdCluster;
  const cleanup = new Cleanup();
  before(async () => {
    cluster = await startEtcd(3);
    cleanup.add(() => cluster.destroy());
  });
  after(() => cleanup.run());

  /** A store that talks to one member only. */
  function through(member: number): EtcdStore {
    const store = new EtcdStore({ endpoints: [cluster.member(member).clientUrl], callTimeoutMs: 10_000 });
    cleanup.add(() => store.close());
    return store;
  }

  test('one member killed, each in turn: puts through another member are applied, nothing else moves', async (t) => {
    const started = Date.now();
    const local = new Cleanup();
    t.after(() => local.run());
    const label = `fltc${tag()}`;
    const pair = seedPair(label, 'flc');
    local.add(() => deleteNamespaces(pair.ns1, pair.ns2));
    const agent = await AgentProcess.start({ label, etcd: cluster.endpoints });
    local.add(() => agent.stop());
    const writer = through(0);
    await writer.put(pair.key1, JSON.stringify(pair.veth1));
    await writer.put(pair.key2, JSON.stringify(pair.veth2));
    await agent.until([pair.key1, pair.key2], 'configured');
    const seed = await eventually(() => checkSeed(pair), 5000);

    const applied: string[] = [];
    for (let round = 0; round < 3; round++) {
      const victim = cluster.member(round);
      await victim.stop('SIGKILL');
      const other = through((round + 1) % 3);
      const extra = extraPair(label, pair, round);
      const putAt = Date.now();
      await putAll(other, extra.keys, extra.values);
      await agent.until([pair.key1, pair.key2, ...extra.keys], 'configured', 20_000);
      await eventually(() => checkExtra(pair, round), 5000);
      applied.push(`${victim.name} killed: pair ${round} applied in ${Date.now() - putAt} ms`);
      assert.ok(agent.running, agent.logText());
      assert.deepEqual(checkSeed(pair), seed, 'the seed pair untouched');
      const status = await agent.status();
      assert.ok(
        status.every((row) => row.state === 'configured'),
        JSON.stringify(status.map((r) => [r.key, r.state])),
      );
      victim.start();
      await cluster.waitHealthy();
    }
    for (let round = 0; round < 3; round++) checkExtra(pair, round);
    t.diagnostic(`${applied.join('; ')}; ${Date.now() - started} ms in all`);
  });

  test('the whole cluster down for 30 s: kernel kept, drift healed meanwhile, changes applied after', async (t) => {
    const started = Date.now();
    const local = new Cleanup();
    t.after(() => local.run());
    const label = `fltw${tag()}`;
    const pair = seedPair(label, 'flw');
    local.add(() => deleteNamespaces(pair.ns1, pair.ns2));
    const agent = await AgentProcess.start({ label, etcd: cluster.endpoints });
    local.add(() => agent.stop());
    const writer = new EtcdStore({ endpoints: cluster.endpoints, callTimeoutMs: 3000 });
    local.add(() => writer.close());
    const old = extraPair(label, pair, 1);
    const fresh = extraPair(label, pair, 2);
    await writer.put(pair.key1, JSON.stringify(pair.veth1));
    await writer.put(pair.key2, JSON.stringify(pair.veth2));
    await putAll(writer, old.keys, old.values);
    await agent.until([pair.key1, pair.key2, ...old.keys], 'configured');
    const seed = await eventually(() => checkSeed(pair), 5000);
    let extra = await eventually(() => checkExtra(pair, 1), 5000);
    const reconnectsBefore = reconnects((await agent.request('GET', '/metrics')).text);

    // --- the whole cluster goes down
    const downAt = Date.now();
    await cluster.stopAll('SIGKILL');
    await eventually(
      () =>
        assert.ok(
          logLines(agent, 'datastore watch').some((l) => l.state === 'lost'),
          'watch lost',
        ),
      10_000,
    );
    const lostAfter = Date.now() - downAt;

    // the API answers; items stay configured; what it says of the datastore
    assert.ok(agent.running);
    const duringStatus = await agent.status();
    assert.ok(
      duringStatus.every((row) => row.state === 'configured'),
      JSON.stringify(duringStatus.map((r) => [r.key, r.state, r.reason])),
    );
    const about = await agent.json<Record<string, unknown>>('GET', '/v1/about');
    // the API says the datastore is out of reach (netnsctl status warns with it)
    await eventually(async () => {
      const { datastore } = await agent.json<{ datastore: { state: string } }>('GET', '/v1/status?summary');
      assert.notEqual(datastore.state, 'in-sync');
    }, 5000);
    const statusCli = await netnsctl(['--server', agent.server, '--label', label, 'status']);
    assert.equal(statusCli.code, 0, statusCli.stderr);
    assert.match(statusCli.stderr, /warning: the agent cannot reach its datastore/);
    const putStarted = Date.now();
    const refusedPut = await agent.request(
      'PUT',
      `/v1/config${fresh.keys[0]}`,
      JSON.stringify(fresh.values[0]),
    );
    const putMs = Date.now() - putStarted;
    assert.ok(
      refusedPut.status >= 500,
      `a put with no datastore fails: ${refusedPut.status} ${refusedPut.text}`,
    );
    await t.test('a put while the datastore is unreachable answers 503 (retriable)', () =>
      assert.equal(refusedPut.status, 503, refusedPut.text),
    );

    // the kernel is kept as it is
    await sleep(2000);
    assert.deepEqual(checkSeed(pair), seed, 'seed pair kept');
    assert.deepEqual(checkExtra(pair, 1), extra, 'extra pair kept');

    // drift made while the datastore is unreachable: healed from the desired state in memory
    const healing: string[] = [];
    const heal = async (what: string, check: () => void): Promise<void> => {
      const t0 = Date.now();
      await eventually(check, 10_000);
      healing.push(`${what} ${Date.now() - t0} ms`);
    };
    ip(pair.ns1, ['link', 'set', 'veth1Name', 'down']);
    await heal('link up again', () => assert.deepEqual(checkSeed(pair), seed));
    ip(pair.ns1, ['addr', 'del', '192.168.22.1/24', 'dev', 'veth1Name']);
    await heal('address back', () => assert.deepEqual(checkSeed(pair), seed));
    ip(pair.ns2, ['link', 'set', 'veth2Name', 'mtu', '1300']);
    await heal('MTU back', () => assert.deepEqual(checkSeed(pair), seed));
    ip(pair.ns2, ['link', 'del', 'fy1']);
    await heal('VETH pair re-created', () => {
      const now = checkExtra(pair, 1);
      assert.notDeepEqual(now, extra, 'a new pair');
      extra = now;
    });
    assert.ok(
      Date.now() - downAt < OUTAGE_MS,
      `healed within the outage (${Date.now() - downAt} ms after the cluster went down)`,
    );
    await agent.until([pair.key1, pair.key2, ...old.keys], 'configured', 5000);

    // --- the cluster comes back after 30 s, same ports, same data
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
    assert.ok(agent.running);
    assert.deepEqual(checkSeed(pair), seed, 'seed pair kept through the outage');
    assert.deepEqual(checkExtra(pair, 1), extra, 'extra pair kept through the outage');
    const seqBefore = Math.max(0, ...(await agent.history()).map((tx) => tx.seq));
    const readsBefore = logLines(agent, 'full read of the configuration').length;
    const upAt = Date.now();
    await cluster.startAll();
    const healthyAfter = Date.now() - upAt;
    await eventually(
      () =>
        assert.ok(
          logLines(agent, 'full read of the configuration').length > readsBefore,
          'a full read after reconnecting',
        ),
      20_000,
    );
    const reconnectedAfter = Date.now() - upAt;
    await eventually(async () => {
      const { datastore } = await agent.json<{ datastore: { state: string } }>('GET', '/v1/status?summary');
      assert.equal(datastore.state, 'in-sync');
    }, 5000);
    const reads = logLines(agent, 'full read of the configuration');
    assert.equal(reads.at(-1)?.reason, 'reconnected');
    await agent.until([pair.key1, pair.key2, ...old.keys], 'configured', 5000);
    // the re-read found the kernel right: no write
    const afterReconnect = (await agent.history()).filter((tx) => tx.seq > seqBefore);
    assert.deepEqual(kernelWriteOps(afterReconnect), [], 'no kernel write after reconnecting');
    assert.deepEqual(checkSeed(pair), seed);
    assert.deepEqual(checkExtra(pair, 1), extra);

    // changes made in etcd after the cluster returned are applied
    await putAll(writer, fresh.keys, fresh.values);
    for (const key of old.keys) await writer.delete(key);
    await agent.until([pair.key1, pair.key2, ...fresh.keys], 'configured', 20_000);
    await eventually(() => {
      checkExtra(pair, 2);
      assert.equal(ipLink(pair.ns1, 'fx1'), undefined, 'old pair removed');
      assert.equal(ipLink(pair.ns2, 'fy1'), undefined, 'old pair removed');
    }, 10_000);
    assert.deepEqual(checkSeed(pair), seed, 'seed pair untouched');
    const metrics = (await agent.request('GET', '/metrics')).text;
    assert.ok(reconnects(metrics) > reconnectsBefore, 'the reconnect is counted');
    assert.ok(
      ipJson<{ ifname: string }[]>(pair.ns1, ['link']).every((l) => !l.ifname.startsWith('fx1')),
      'nothing of the old pair left',
    );

    t.diagnostic(
      `watch lost ${lostAfter} ms after the kill; during the outage: API put -> ${refusedPut.status} ` +
        `${refusedPut.text} in ${putMs} ms, ` +
        `/v1/about ${JSON.stringify(about)}, status rows all configured, the datastore shown out of reach; ` +
        `healed: ${healing.join(', ')}; cluster healthy ${healthyAfter} ms after restart, agent re-read ` +
        `${reconnectedAfter} ms after restart; ${Date.now() - started} ms in all`,
    );
  });
});
