/**
 * Issue 7 (bad input): every value of the corpus in test/data/bad-values is refused through the API
 * (400, naming the key) and, put straight into the agent's store, makes its item `invalid` with an
 * error on the corpus's field; the agent stays up and a configured VETH pair is not disturbed (same
 * ifindexes, still configured).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SqliteStore } from '../../src/datastore/index.js';
import { parseConfigKey } from '../../src/model/index.js';
import { ipTry, skipUnlessRoot } from '../helpers/kernel.js';
import {
  AgentProcess,
  Cleanup,
  ROOT,
  configKey,
  deleteNamespaces,
  eventually,
  ipLink,
  seedExample,
  tag,
} from '../helpers/agent.js';

interface BadValue {
  description: string;
  key: string;
  value: string;
  field: string;
}

const corpus: BadValue[] = readdirSync(path.join(ROOT, 'test/data/bad-values'))
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(path.join(ROOT, 'test/data/bad-values', f), 'utf8')) as BadValue);

describe('bad input through the API and the datastore', { skip: skipUnlessRoot() }, () => {
  const cleanup = new Cleanup();
  const label = `bad${tag()}`;
  const ns1 = `bi${tag()}a`;
  const ns2 = `bi${tag()}b`;
  const dir = mkdtempSync(path.join(tmpdir(), 'bad-input-'));
  const store = path.join(dir, 'store.db');
  let agent: AgentProcess;
  const goodKeys = [configKey(label, 'interface', 'good1'), configKey(label, 'interface', 'good2')];
  let before1 = 0;
  let before2 = 0;

  /** The corpus's key under this test's label (the corpus uses agent1). */
  const keyOf = (bad: BadValue): string => bad.key.replace(/^\/vnf-agent\/[^/]+\//, `/vnf-agent/${label}/`);

  before(async () => {
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    cleanup.add(() => deleteNamespaces(ns1, ns2));
    agent = await AgentProcess.start({ label, store });
    cleanup.add(() => agent.stop());
    const good1 = { ...seedExample('veth1', ns1), name: 'good1', veth: { peer_if_name: 'good2' } };
    const good2 = { ...seedExample('veth2', ns2), name: 'good2', veth: { peer_if_name: 'good1' } };
    for (const [key, value] of [
      [goodKeys[0]!, good1],
      [goodKeys[1]!, good2],
    ] as const) {
      const put = await agent.request('PUT', `/v1/config${key}`, JSON.stringify(value));
      assert.equal(put.status, 200, put.text);
    }
    await agent.until(goodKeys, 'configured');
    before1 = ipLink(ns1, 'veth1Name')!.ifindex;
    before2 = ipLink(ns2, 'veth2Name')!.ifindex;
  });

  after(() => cleanup.run());

  test(`the corpus has at least 50 bad values (${corpus.length})`, () => {
    assert.ok(corpus.length >= 50);
  });

  test('through the API: each refused with 400, naming the key and the field', async () => {
    for (const bad of corpus) {
      const key = keyOf(bad);
      const put = await agent.request('PUT', `/v1/config${key}`, bad.value);
      assert.equal(put.status, 400, `${bad.description}: ${put.text}`);
      const body = put.json as { key?: string; errors?: { field: string }[] };
      assert.equal(body.key, key, bad.description);
      assert.ok(
        body.errors?.some((e) => e.field === bad.field || e.field === '$key'),
        `${bad.description}: fields ${JSON.stringify(body.errors?.map((e) => e.field))}, want ${bad.field}`,
      );
    }
    assert.ok(agent.running, 'the agent is still running');
  });

  test('through the datastore: each item invalid with the field; nothing else disturbed', async () => {
    const direct = new SqliteStore({ file: store });
    try {
      // Later files may reuse a key: the last value under each key is what the agent sees.
      const last = new Map<string, BadValue>();
      for (const bad of corpus) last.set(keyOf(bad), bad);
      await direct.putMany([...last].map(([key, bad]) => ({ key, value: bad.value })));
      const keys = [...last.keys()].filter((k) => parseConfigKey(k) !== undefined);
      await agent.until(keys, 'invalid', 20_000);
      for (const key of keys) {
        const row = (await agent.stateOf(key)) as { fieldErrors?: { field: string }[] } | undefined;
        const want = last.get(key)!.field;
        assert.ok(
          row?.fieldErrors?.some((e) => e.field === want),
          `${key}: fields ${JSON.stringify(row?.fieldErrors?.map((e) => e.field))}, want ${want}`,
        );
      }
      // A key under the prefix that no item can have (an unknown kind): invalid on its key, until
      // it is deleted.
      const bridge = `/vnf-agent/${label}/linux/config/v1/bridge/b1`;
      await direct.put(bridge, '{}');
      await agent.until([bridge], 'invalid', 5000);
      const row = (await agent.stateOf(bridge)) as { fieldErrors?: { field: string; message: string }[] };
      assert.equal(row.fieldErrors?.[0]?.field, '$key');
      assert.match(row.fieldErrors?.[0]?.message ?? '', /not a configuration key/);
      await direct.delete(bridge);
      await eventually(async () => assert.equal(await agent.stateOf(bridge), undefined));
    } finally {
      await direct.close();
    }
    assert.ok(agent.running, 'the agent is still running');
    for (const key of goodKeys) assert.equal((await agent.stateOf(key))?.state, 'configured', key);
    assert.equal(ipLink(ns1, 'veth1Name')?.ifindex, before1, 'good1 untouched');
    assert.equal(ipLink(ns2, 'veth2Name')?.ifindex, before2, 'good2 untouched');
  });

  test('made invalid while the agent was down: at its start the last valid value stays applied', async () => {
    await agent.stop();
    const direct = new SqliteStore({ file: store });
    try {
      const good2 = { ...seedExample('veth2', ns2), name: 'good2', veth: { peer_if_name: 'good1' }, mtu: 10 };
      await direct.put(goodKeys[1]!, JSON.stringify(good2));
    } finally {
      await direct.close();
    }
    agent = await AgentProcess.start({ label, store });
    await agent.until([goodKeys[1]!], 'invalid');
    const row = (await agent.stateOf(goodKeys[1]!)) as
      { fieldErrors?: { key?: string; field: string }[] } | undefined;
    assert.ok(
      row?.fieldErrors?.some((e) => e.field === 'mtu' && e.key === goodKeys[1]),
      `each field error names its key, as a PUT's 400 does: ${JSON.stringify(row)}`,
    );
    assert.equal((await agent.stateOf(goodKeys[0]!))?.state, 'configured');
    // The pair was neither removed nor re-created, and keeps the MTU it had.
    assert.equal(ipLink(ns1, 'veth1Name')?.ifindex, before1, 'good1 untouched');
    assert.equal(ipLink(ns2, 'veth2Name')?.ifindex, before2, 'good2 untouched');
    assert.equal(ipLink(ns2, 'veth2Name')?.mtu, seedExample('veth2', ns2).mtu);
  });

  test('a host name another item holds: the later item is invalid, and the holder keeps it across a restart', async () => {
    // "a0" sorts before "good1": in a full read by key order it would have taken the name.
    const keyA = configKey(label, 'interface', 'a0');
    const keyB = configKey(label, 'interface', 'b0');
    const a0 = {
      ...seedExample('veth1', ns1),
      name: 'a0',
      veth: { peer_if_name: 'b0' },
      ip_addresses: ['10.66.0.1/24'],
    };
    const b0 = {
      ...seedExample('veth2', ns2),
      name: 'b0',
      host_if_name: 'kb0',
      veth: { peer_if_name: 'a0' },
      ip_addresses: [],
    };
    // Stored (a PUT cannot refuse it: two items may trade names, one PUT at a time), and invalid.
    const put = await agent.request('PUT', `/v1/config${keyA}`, JSON.stringify(a0));
    assert.equal(put.status, 200, put.text);
    await agent.until([keyA], 'invalid');
    await agent.request('DELETE', `/v1/config${keyA}`);

    await agent.stop();
    const direct = new SqliteStore({ file: store });
    try {
      await direct.put(keyA, JSON.stringify(a0));
      await direct.put(keyB, JSON.stringify(b0));
      await direct.put(`/vnf-agent/${label}/linux/config/v1/widget/x`, '{}'); // no such kind
    } finally {
      await direct.close();
    }
    agent = await AgentProcess.start({ label, store });
    await agent.until([keyA], 'invalid');
    assert.equal((await agent.stateOf(goodKeys[0]!))?.state, 'configured');
    assert.equal(ipLink(ns1, 'veth1Name')?.ifindex, before1, 'the holder keeps its link');
    assert.ok(
      agent.log.some((line) => line.includes('ignored: not a configuration key') && line.includes('widget')),
      'a key that cannot be an item is said in the log',
    );
    await agent.request('DELETE', `/v1/config/vnf-agent/${label}/linux/config/v1/widget/x`);
    await agent.request('DELETE', `/v1/config${keyA}`);
    await agent.request('DELETE', `/v1/config${keyB}`);
  });

  test('an item changed to a host name another item holds keeps its link, also across a restart', async () => {
    const keyC = configKey(label, 'interface', 'c0');
    const keyD = configKey(label, 'interface', 'd0');
    const c0 = {
      ...seedExample('veth1', ns1),
      name: 'c0',
      host_if_name: 'kc0',
      veth: { peer_if_name: 'd0' },
      ip_addresses: [],
    };
    const d0 = {
      ...seedExample('veth2', ns2),
      name: 'd0',
      host_if_name: 'kd0',
      veth: { peer_if_name: 'c0' },
      ip_addresses: [],
    };
    try {
      assert.equal((await agent.request('PUT', `/v1/config${keyC}`, JSON.stringify(c0))).status, 200);
      assert.equal((await agent.request('PUT', `/v1/config${keyD}`, JSON.stringify(d0))).status, 200);
      await agent.until([keyC, keyD], 'configured');
      const kc0 = ipLink(ns1, 'kc0')!.ifindex;
      // veth1Name is good1's: refused; kc0 stays, as c0's value before.
      const clash = { ...c0, host_if_name: 'veth1Name' };
      assert.equal((await agent.request('PUT', `/v1/config${keyC}`, JSON.stringify(clash))).status, 200);
      await agent.until([keyC], 'invalid');
      await agent.stop();
      agent = await AgentProcess.start({ label, store });
      await agent.until([keyC], 'invalid');
      assert.equal((await agent.stateOf(goodKeys[0]!))?.state, 'configured');
      assert.equal(ipLink(ns1, 'kc0')?.ifindex, kc0, 'c0 keeps its link across the restart');
      assert.equal(ipLink(ns1, 'veth1Name')?.ifindex, before1, 'good1 keeps its name');
    } finally {
      await agent.request('DELETE', `/v1/config${keyC}`);
      await agent.request('DELETE', `/v1/config${keyD}`);
    }
  });

  test('a route place another route holds: the holder keeps it across a restart, with no kernel write', async () => {
    // "ra" sorts before "rz": in a full read by key order it would have taken the place.
    const route = (name: string, gateway: string) => ({
      name,
      namespace: { type: 'NAMED_NS', name: ns1 },
      interface: 'good1',
      dst_ip_addr: '10.55.0.0/16',
      gw_addr: gateway,
    });
    const rz = configKey(label, 'route', 'rz');
    const ra = configKey(label, 'route', 'ra');
    assert.equal(
      (await agent.request('PUT', `/v1/config${rz}`, JSON.stringify(route('rz', '192.168.22.2')))).status,
      200,
    );
    await agent.until([rz], 'configured');
    assert.equal(
      (await agent.request('PUT', `/v1/config${ra}`, JSON.stringify(route('ra', '192.168.22.3')))).status,
      200,
    );
    await agent.until([ra], 'invalid');
    await agent.stop();
    agent = await AgentProcess.start({ label, store });
    await agent.until([rz], 'configured');
    await agent.until([ra], 'invalid');
    const kernel = ipTry(ns1, ['-j', 'route', 'show', '10.55.0.0/16']).stdout;
    assert.match(kernel, /"gateway":"192\.168\.22\.2"/, kernel);
    await agent.request('DELETE', `/v1/config${ra}`);
    await agent.request('DELETE', `/v1/config${rz}`);
  });

  test('a disputed route gone from the kernel, a disputed ARP entry: the item that held each keeps it across a restart', async () => {
    // The kernel cannot say who held them (the route is gone, neighbour entries carry no mark):
    // the values the agent took before do. "ra"/"na" sort first: by key order they would win.
    const route = (name: string, gateway: string) => ({
      name,
      namespace: { type: 'NAMED_NS', name: ns1 },
      interface: 'good1',
      dst_ip_addr: '10.56.0.0/16',
      gw_addr: gateway,
    });
    const arp = (name: string, mac: string) => ({
      name,
      namespace: { type: 'NAMED_NS', name: ns1 },
      interface: 'good1',
      ip_addr: '192.168.22.77',
      hw_address: mac,
    });
    const keys = {
      rz: configKey(label, 'route', 'rz'),
      ra: configKey(label, 'route', 'ra'),
      nz: configKey(label, 'arp', 'nz'),
      na: configKey(label, 'arp', 'na'),
    };
    const putValue = async (k: string, value: object): Promise<void> =>
      assert.equal((await agent.request('PUT', `/v1/config${k}`, JSON.stringify(value))).status, 200);
    try {
      await putValue(keys.rz, route('rz', '192.168.22.2'));
      await putValue(keys.nz, arp('nz', '02:00:00:00:77:01'));
      await agent.until([keys.rz, keys.nz], 'configured');
      await putValue(keys.ra, route('ra', '192.168.22.3'));
      await putValue(keys.na, arp('na', '02:00:00:00:77:02'));
      await agent.until([keys.ra, keys.na], 'invalid');
      await agent.stop();
      ipTry(ns1, ['route', 'del', '10.56.0.0/16']);
      agent = await AgentProcess.start({ label, store });
      await agent.until([keys.rz, keys.nz], 'configured');
      await agent.until([keys.ra, keys.na], 'invalid');
      const routes = ipTry(ns1, ['-j', 'route', 'show', '10.56.0.0/16']).stdout;
      assert.match(routes, /"gateway":"192\.168\.22\.2"/, routes);
      const neighbours = ipTry(ns1, ['-j', 'neigh', 'show', '192.168.22.77']).stdout;
      assert.match(neighbours, /"lladdr":"02:00:00:00:77:01"/, neighbours);
    } finally {
      for (const k of Object.values(keys)) await agent.request('DELETE', `/v1/config${k}`);
    }
  });
});
