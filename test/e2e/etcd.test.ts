/**
 * The agent on a real etcd: outage of 10 s (kernel kept, changes made meanwhile converged after),
 * invalid JSON / invalid fields put straight into etcd (item `invalid`, previous value stays applied,
 * nothing else disturbed), and two agents with different labels on one etcd.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdStore } from '../../src/datastore/index.js';
import { startEtcd, TcpProxy, type EtcdCluster } from '../helpers/etcd.js';
import { ipJson, skipUnlessRoot } from '../helpers/kernel.js';
import {
  AgentProcess,
  checkSeedPair,
  Cleanup,
  configKey,
  deleteNamespaces,
  eventually,
  ipLink,
  netnsctl,
  seedPair,
  tag,
} from '../helpers/agent.js';

describe('agent on etcd', { skip: skipUnlessRoot() }, () => {
  let cluster: EtcdCluster;
  let writer: EtcdStore;
  const cleanup = new Cleanup();
  before(async () => {
    cluster = await startEtcd(1);
    cleanup.add(() => cluster.destroy());
    writer = new EtcdStore({ endpoints: cluster.endpoints });
    cleanup.add(() => writer.close());
  });
  after(() => cleanup.run());

  test('etcd stopped for 10 s: the kernel stays as it is; changes made meanwhile converge after', async (t) => {
    const local = new Cleanup();
    t.after(() => local.run());
    const label = `e2eo${tag()}`;
    const pair = seedPair(label, 'e2o');
    local.add(() => deleteNamespaces(pair.ns1, pair.ns2));
    const proxy = await TcpProxy.start(cluster.member(0).clientUrl);
    local.add(() => proxy.close());
    const agent = await AgentProcess.start({ label, etcd: [proxy.url] });
    local.add(() => agent.stop());

    await writer.put(pair.key1, JSON.stringify(pair.veth1));
    await writer.put(pair.key2, JSON.stringify(pair.veth2));
    // A link without traffic (its counters never change): its state is written only when it changes.
    const quietKey = configKey(label, 'interface', 'quiet');
    await writer.put(
      quietKey,
      JSON.stringify({
        name: 'quiet',
        type: 'LOOPBACK',
        enabled: true,
        namespace: { type: 2, name: pair.ns1 },
      }),
    );
    await agent.until([pair.key1, pair.key2, quietKey], 'configured');
    const indexes = await eventually(() => checkSeedPair(pair), 5000);

    const statusKey = quietKey.replace('/linux/config/v1/interface/', '/linux/status/v1/interface/');
    await eventually(async () => assert.ok(await writer.get(statusKey), 'published'), 5000);
    await cluster.member(0).stop();
    await sleep(10_000);
    assert.ok(agent.running, `the agent survives the outage: ${agent.logText()}`);
    assert.deepEqual(checkSeedPair(pair), indexes, 'kernel untouched during the outage');
    assert.equal(
      (await agent.stateOf(pair.key1))?.state,
      'configured',
      'the API still answers, items stay configured',
    );

    // etcd back, but the agent still cut off: change things it has not seen yet
    proxy.cut();
    cluster.member(0).start();
    await cluster.waitHealthy();
    const routeKey = configKey(label, 'route', 'to-lan');
    await writer.put(pair.key1, JSON.stringify({ ...pair.veth1, mtu: 1400 }));
    await writer.put(
      routeKey,
      JSON.stringify({
        name: 'to-lan',
        namespace: { type: 2, name: pair.ns1 },
        interface: 'veth1Name',
        dst_ip_addr: '10.10.0.0/16',
        gw_addr: '192.168.22.2',
        metric: 100,
      }),
    );
    // The interface states the agent published, deleted meanwhile (by hand, or etcd made anew).
    await writer.delete(statusKey);
    await sleep(500);
    assert.equal(ipLink(pair.ns1, 'veth1Name')?.mtu, 1500, 'nothing applied while cut off');
    proxy.restore();

    await agent.until([pair.key1, pair.key2, routeKey], 'configured', 30_000);
    await eventually(() => {
      const link = ipLink(pair.ns1, 'veth1Name');
      assert.equal(link?.mtu, 1400);
      assert.equal(link?.ifindex, indexes.ifindex1, 'MTU changed in place');
      const routes = ipJson<{ dst: string; gateway?: string; protocol?: string | number }[]>(pair.ns1, [
        'route',
        'show',
        '10.10.0.0/16',
      ]);
      assert.equal(routes[0]?.gateway, '192.168.22.2');
    });
    assert.equal(ipLink(pair.ns2, 'veth2Name')?.ifindex, indexes.ifindex2, 'veth2 untouched');
    // Its state is written again though lo did not change (the agent read the store anew).
    await eventually(async () => assert.ok(await writer.get(statusKey), 'published again'), 5000);
    // Counted when the watch is following again, which may be just after the fresh read is applied.
    await eventually(async () => {
      const metrics = (await agent.request('GET', '/metrics')).text;
      const reconnects = /netns_agent_datastore_reconnects_total\{store="etcd"\} (\d+)/.exec(metrics);
      assert.ok(
        Number(reconnects?.[1] ?? 0) >= 1,
        `reconnects counted:\n${metrics
          .split('\n')
          .filter((l) => l.includes('reconnect'))
          .join('\n')}`,
      );
    });
  });

  test('etcd unreachable when the agent starts: it connects when etcd comes, which is no reconnect; an outage after is one', async (t) => {
    const local = new Cleanup();
    t.after(() => local.run());
    const label = `e2eu${tag()}`;
    const proxy = await TcpProxy.start(cluster.member(0).clientUrl);
    local.add(() => proxy.close());
    proxy.cut();
    const agent = await AgentProcess.start({ label, etcd: [proxy.url], ready: 'listening' });
    local.add(() => agent.stop());
    const reconnects = async (): Promise<number> => {
      const metrics = (await agent.request('GET', '/metrics')).text;
      return Number(/netns_agent_datastore_reconnects_total\{store="etcd"\} (\d+)/.exec(metrics)?.[1]);
    };
    const inSyncGauge = async (): Promise<number> => {
      const metrics = (await agent.request('GET', '/metrics')).text;
      return Number(/^netns_agent_datastore_in_sync\{store="etcd"\} (\d+)$/m.exec(metrics)?.[1]);
    };
    await sleep(1500);
    assert.notEqual(await agent.datastoreState(), 'in-sync');
    assert.equal(await inSyncGauge(), 0, 'not in sync yet, in /metrics');
    // Nothing read yet: an empty status would pass for "nothing configured".
    const unread = await netnsctl(['--server', agent.server, '--label', label, 'status']);
    assert.equal(unread.code, 3, unread.stderr);
    assert.match(
      unread.stderr,
      /has not read its configuration since it started: its items are not known yet/,
    );
    // Through the API too: 503, not an empty list (nor a 404 for a key it may well have).
    const list = await agent.request('GET', '/v1/status');
    assert.equal(list.status, 503, list.text);
    assert.match(list.text, /has not read its configuration yet.*not known yet/);
    const one = await agent.request('GET', `/v1/status/vnf-agent/${label}/linux/config/v1/interface/x`);
    assert.equal(one.status, 503, one.text);
    proxy.restore();
    await eventually(async () => assert.equal(await agent.datastoreState(), 'in-sync'), 30_000);
    assert.equal(await reconnects(), 0, 'the first connection is not a reconnect');
    assert.equal(await inSyncGauge(), 1);

    proxy.cut();
    await eventually(async () => assert.notEqual(await agent.datastoreState(), 'in-sync'), 30_000);
    assert.equal(await inSyncGauge(), 0, 'an outage, in /metrics while it lasts');
    // Said once at warn (level 40), however many attempts fail.
    await sleep(3000);
    const warned = agent.log
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level?: number; msg?: string; state?: string })
      .filter((l) => l.level === 40 && l.msg === 'datastore watch' && l.state === 'lost');
    assert.equal(warned.length, 2, 'one warning for the outage at the start, one for this one');
    proxy.restore();
    await eventually(async () => assert.equal(await reconnects(), 1), 30_000);
  });

  test('invalid JSON and invalid fields put straight into etcd: invalid with a message, the previous value stays applied', async (t) => {
    const local = new Cleanup();
    t.after(() => local.run());
    const label = `e2ei${tag()}`;
    const pair = seedPair(label, 'e2i');
    local.add(() => deleteNamespaces(pair.ns1, pair.ns2));
    const agent = await AgentProcess.start({ label, etcd: cluster.endpoints });
    local.add(() => agent.stop());
    await writer.put(pair.key1, JSON.stringify(pair.veth1));
    await writer.put(pair.key2, JSON.stringify(pair.veth2));
    await agent.until([pair.key1, pair.key2], 'configured');
    const indexes = await eventually(() => checkSeedPair(pair), 5000);

    // not JSON at all
    await writer.put(pair.key1, '{"enabled": tru');
    await agent.until([pair.key1], 'invalid');
    let row = await agent.stateOf(pair.key1);
    const message = [row?.error, ...(row?.fieldErrors ?? []).map((e) => e.message)].join(' ');
    assert.match(message, /JSON/i, `a message about the JSON: ${JSON.stringify(row)}`);

    // a field out of range and an unknown field
    await writer.put(pair.key1, JSON.stringify({ ...pair.veth1, mtu: 99_999, colour: 'blue' }));
    await eventually(async () => {
      row = await agent.stateOf(pair.key1);
      assert.equal(row?.state, 'invalid');
      const fields = (row?.fieldErrors ?? []).map((e) => e.field);
      assert.ok(fields.includes('mtu'), `mtu named: ${JSON.stringify(row)}`);
    });
    for (const e of row?.fieldErrors ?? []) assert.ok(e.message.length > 0);

    // a new item that is invalid from the start
    const badKey = configKey(label, 'interface', 'bad');
    await writer.put(
      badKey,
      JSON.stringify({
        name: 'bad',
        type: 0,
        host_if_name: 'a-name-longer-than-15',
        veth: { peer_if_name: 'nobody' },
      }),
    );
    await agent.until([badKey], 'invalid');

    // nothing else disturbed: the previous valid value of veth1 still applied, veth2 as it was
    assert.deepEqual(checkSeedPair(pair), indexes);
    assert.equal((await agent.stateOf(pair.key2))?.state, 'configured');

    // a valid value again: applied (in place)
    await writer.put(pair.key1, JSON.stringify({ ...pair.veth1, mtu: 1450 }));
    await agent.until([pair.key1], 'configured');
    await eventually(() => assert.equal(ipLink(pair.ns1, 'veth1Name')?.mtu, 1450));
    assert.equal(ipLink(pair.ns1, 'veth1Name')?.ifindex, indexes.ifindex1);
  });

  test('two agents with different labels on one etcd manage only their own items', async (t) => {
    const local = new Cleanup();
    t.after(() => local.run());
    const labelA = `e2ea${tag()}`;
    const labelB = `e2eb${tag()}`;
    const pairA = seedPair(labelA, 'e2a');
    const pairB = seedPair(labelB, 'e2b');
    local.add(() => deleteNamespaces(pairA.ns1, pairA.ns2, pairB.ns1, pairB.ns2));
    const agentA = await AgentProcess.start({ label: labelA, etcd: cluster.endpoints });
    local.add(() => agentA.stop());
    let agentB = await AgentProcess.start({ label: labelB, etcd: cluster.endpoints });
    local.add(() => agentB.stop());

    for (const pair of [pairA, pairB]) {
      await writer.put(pair.key1, JSON.stringify(pair.veth1));
      await writer.put(pair.key2, JSON.stringify(pair.veth2));
    }
    await agentA.until([pairA.key1, pairA.key2], 'configured');
    await agentB.until([pairB.key1, pairB.key2], 'configured');
    const indexesA = await eventually(() => checkSeedPair(pairA), 5000);
    const indexesB = await eventually(() => checkSeedPair(pairB), 5000);
    assert.deepEqual((await agentA.status()).map((s) => s.key).sort(), [pairA.key1, pairA.key2]);
    assert.deepEqual((await agentB.status()).map((s) => s.key).sort(), [pairB.key1, pairB.key2]);
    assert.equal(ipLink(pairA.ns1, 'veth1Name')?.ifalias, `netns-agent:${labelA}:veth1`);
    assert.equal(ipLink(pairB.ns1, 'veth1Name')?.ifalias, `netns-agent:${labelB}:veth1`);

    // B restarts: its resync leaves A's links alone
    await agentB.stop();
    agentB = await AgentProcess.start({ label: labelB, etcd: cluster.endpoints });
    await agentB.until([pairB.key1, pairB.key2], 'configured');
    assert.deepEqual(checkSeedPair(pairA), indexesA);
    assert.deepEqual(checkSeedPair(pairB), indexesB);

    // A's items deleted: only A's links go
    await writer.delete(pairA.key1);
    await writer.delete(pairA.key2);
    await eventually(() => assert.equal(ipLink(pairA.ns1, 'veth1Name'), undefined));
    assert.deepEqual(checkSeedPair(pairB), indexesB);
    assert.deepEqual((await agentB.status()).map((s) => [s.key, s.state]).sort(), [
      [pairB.key1, 'configured'],
      [pairB.key2, 'configured'],
    ]);
  });
});
