/**
 * The HTTP API of a running agent (embedded store, bearer token): every endpoint, 400 with field
 * errors, 404 for unknown keys, server-sent events, /metrics, 401 without the token everywhere but
 * /metrics, and a unix-socket listener with mode 0600.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SqliteStore } from '../../src/datastore/index.js';
import { ip, ipTry, skipUnlessRoot } from '../helpers/kernel.js';
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
  followEvents,
  type SeedPair,
  type StatusRow,
} from '../helpers/agent.js';

describe('HTTP API', { skip: skipUnlessRoot() }, () => {
  const cleanup = new Cleanup();
  const token = `tok-${tag(8)}`;
  const label = `e2ep${tag()}`;
  let agent: AgentProcess;
  let pair: SeedPair;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'netns-e2e-api-'));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    pair = seedPair(label, 'e2p');
    cleanup.add(() => deleteNamespaces(pair.ns1, pair.ns2));
    agent = await AgentProcess.start({ label, store: path.join(dir, 'store.db'), token });
    cleanup.add(() => agent.stop());
  });
  after(() => cleanup.run());

  test('without the bearer token every endpoint but /metrics answers 401', async () => {
    const calls: [string, string, string?][] = [
      ['GET', '/v1/status'],
      ['GET', `/v1/status${pair.key1}`],
      ['GET', `/v1/config${pair.key1}`],
      ['PUT', `/v1/config${pair.key1}`, JSON.stringify(pair.veth1)],
      ['DELETE', `/v1/config${pair.key1}`],
      ['GET', `/v1/config?prefix=${encodeURIComponent('/vnf-agent/')}`],
      ['GET', '/v1/kernel'],
      ['GET', '/v1/history'],
      ['POST', '/v1/plan', '{}'],
      ['POST', '/v1/config', '{"puts": []}'],
      ['GET', '/v1/events'],
    ];
    for (const [method, url, body] of calls) {
      for (const bad of [null, 'wrong-token']) {
        const r = await agent.request(method, url, body, bad);
        assert.equal(r.status, 401, `${method} ${url} with token ${bad}: ${r.status} ${r.text}`);
        assert.match(String(r.headers['www-authenticate']), /^Bearer /, 'the scheme to use is said');
      }
    }
    const events = followEvents(agent, undefined);
    assert.equal(await events.status, 401);
    events.close();
    const metrics = await agent.request('GET', '/metrics', undefined, null);
    assert.equal(metrics.status, 200);
    assert.equal(
      (await agent.request('GET', `/v1/config${pair.key1}`)).status,
      404,
      'nothing was stored by refused requests',
    );
  });

  test('PUT, GET, list, status, events, kernel, history, DELETE', async () => {
    const events = followEvents(agent, token);
    try {
      assert.equal(await events.status, 200);
      const put1 = await agent.request('PUT', `/v1/config${pair.key1}`, JSON.stringify(pair.veth1));
      assert.equal(put1.status, 200, put1.text);
      assert.equal((put1.json as { key: string }).key, pair.key1);
      assert.equal(typeof (put1.json as { revision: number }).revision, 'number');
      assert.equal(
        (await agent.request('PUT', `/v1/config${pair.key2}`, JSON.stringify(pair.veth2))).status,
        200,
      );
      await agent.until([pair.key1, pair.key2], 'configured');
      const { ifindex1 } = await eventually(() => checkSeedPair(pair), 5000);

      const got = await agent.json<{ key: string; value: Record<string, unknown>; revision: number }>(
        'GET',
        `/v1/config${pair.key1}`,
      );
      assert.equal(got.key, pair.key1);
      assert.deepEqual(got.value, pair.veth1);
      const listed = await agent.json<{ key: string }[]>(
        'GET',
        `/v1/config?prefix=${encodeURIComponent(`/vnf-agent/${label}/linux/config/`)}`,
      );
      assert.deepEqual(listed.map((e) => e.key).sort(), [pair.key1, pair.key2]);
      const none = await agent.json<unknown[]>(
        'GET',
        `/v1/config?prefix=${encodeURIComponent('/vnf-agent/no-such-label/')}`,
      );
      assert.deepEqual(none, []);

      const rows = await agent.status();
      for (const row of rows) {
        assert.ok(['configured', 'pending', 'failed', 'invalid', 'removed'].includes(row.state));
        assert.ok(!Number.isNaN(Date.parse(row.updatedAt)));
      }
      const summary = await agent.json<{ total: number; counts: Record<string, number> }>(
        'GET',
        '/v1/status?summary',
      );
      assert.equal(summary.total, rows.length);
      assert.equal(
        (summary as unknown as { datastore: { state: string } }).datastore.state,
        'in-sync',
        'the agent follows its datastore',
      );
      // Both items configured: the agent has taken in the puts' revisions.
      assert.ok(
        ((summary as unknown as { datastore: { revision?: number } }).datastore.revision ?? 0) >=
          (put1.json as { revision: number }).revision,
        JSON.stringify(summary),
      );
      assert.equal(summary.counts['configured'], rows.filter((r) => r.state === 'configured').length);
      const one = await agent.json<StatusRow>('GET', `/v1/status${pair.key1}`);
      assert.equal(one.state, 'configured');
      // The agent's own items have keys without a leading '/': the named namespace it made.
      const made = await agent.json<StatusRow>('GET', `/v1/status/named-namespace/${pair.ns1}`);
      assert.equal(made.key, `named-namespace/${pair.ns1}`);
      assert.equal(made.state, 'configured');
      await eventually(async () => {
        const row = await agent.json<StatusRow>('GET', `/v1/status${pair.key1}`);
        assert.equal(row.interface?.ifindex, ifindex1);
        assert.equal(row.interface?.hostIfName, 'veth1Name');
      });

      // The namespace's lo, configured by a LOOPBACK item: the agent's to configure, not its own.
      const loKey = configKey(label, 'interface', 'lo1');
      const loopback = { name: 'lo1', type: 'LOOPBACK', enabled: true, namespace: pair.veth1['namespace'] };
      assert.equal((await agent.request('PUT', `/v1/config${loKey}`, JSON.stringify(loopback))).status, 200);
      cleanup.add(() => agent.request('DELETE', `/v1/config${loKey}`).then(() => undefined));
      await agent.until([loKey], 'configured');
      const kernel = await eventually(async () => {
        const dump = await agent.json<
          {
            namespace: string;
            links: { name: string; index: number; managed?: string; configured?: string }[];
          }[]
        >('GET', '/v1/kernel');
        const lo = dump.find((n) => n.namespace.includes(pair.ns1))?.links.find((l) => l.name === 'lo');
        assert.equal(lo?.configured, 'lo1', 'the LOOPBACK item is named on its lo');
        assert.equal(lo?.managed, undefined, 'lo is not ours to delete');
        return dump;
      });
      const ns1 = kernel.find((n) => n.namespace.includes(pair.ns1));
      assert.ok(ns1, `namespace ${pair.ns1} in /v1/kernel: ${kernel.map((n) => n.namespace).join(', ')}`);
      assert.ok(
        ns1.links.some((l) => l.name === 'veth1Name' && l.index === ifindex1 && l.managed === 'veth1'),
      );
      assert.ok(
        kernel.some((n) => n.links.some((l) => l.name === 'lo' && l.managed === undefined && !l.configured)),
        'what is not ours is shown unmarked',
      );

      // A plan of the seeds' route (naming the pair's host name): the first route of its namespace,
      // whose gateway no route watches yet, is created, not "waiting for gateway".
      const routeKey = configKey(label, 'route', 'to-ns2-lan');
      const route = {
        name: 'to-ns2-lan',
        namespace: pair.veth1['namespace'],
        interface: 'veth1Name',
        dst_ip_addr: '10.10.0.0/16',
        gw_addr: '192.168.22.2',
        metric: 100,
      };
      const plan = await agent.json<{ summary: { entries: { key: string; change: string; why: string }[] } }>(
        'POST',
        '/v1/plan',
        JSON.stringify({ puts: [{ key: routeKey, value: route }] }),
      );
      assert.equal(
        plan.summary.entries.find((e) => e.key === routeKey)?.change,
        'create',
        JSON.stringify(plan),
      );

      const history = await agent.json<
        { seq: number; causes: string[]; operations: { key: string; kind: string }[] }[]
      >('GET', '/v1/history');
      assert.ok(history.some((t) => t.operations.some((op) => op.key === pair.key1 && op.kind === 'create')));

      await eventually(() => {
        const states = events.events
          .filter((e) => e.type === 'state' && e.data.key === pair.key1)
          .map((e) => e.data.state);
        assert.ok(states.includes('configured'), `state events for veth1: ${JSON.stringify(states)}`);
        assert.ok(events.events.some((e) => e.type === 'transaction' && typeof e.data.seq === 'number'));
      });

      // The agent's status keys are not configuration: refused as a PUT of them is.
      const statusKey = pair.key1.replace('/linux/config/v1/interface/', '/linux/status/v1/interface/');
      const refused = await agent.request('DELETE', `/v1/config${statusKey}`);
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.text, /not a configuration key/);

      const del = await agent.request('DELETE', `/v1/config${pair.key1}`);
      assert.equal(del.status, 200, del.text);
      assert.deepEqual(del.json, { key: pair.key1, deleted: true });
      assert.equal((await agent.request('GET', `/v1/config${pair.key1}`)).status, 404);
      await eventually(() => assert.equal(ipLink(pair.ns1, 'veth1Name'), undefined));
      assert.equal((await agent.request('DELETE', `/v1/config${pair.key2}`)).status, 200);
    } finally {
      events.close();
    }
  });

  test("another label's keys: writes refused with 400 naming the key, reads allowed", async () => {
    const key = configKey(`${label}x`, 'interface', 'theirs');
    const value = JSON.stringify({
      name: 'theirs',
      type: 'DUMMY',
      namespace: { type: 'MICROSERVICE_REF_NS', microservice: 'none' },
    });
    const put = await agent.request('PUT', `/v1/config${key}`, value);
    assert.equal(put.status, 400, put.text);
    const body = put.json as { error?: string; key?: string; errors?: { field: string; message: string }[] };
    assert.equal(body.key, key);
    assert.equal(body.error, `refused key ${key}`, 'the key is refused, not the value');
    assert.equal(body.errors?.[0]?.field, '$key');
    assert.match(body.errors?.[0]?.message ?? '', new RegExp(`belongs to agent label ${label}x`));
    const del = await agent.request('DELETE', `/v1/config${key}`);
    assert.equal(del.status, 400, del.text);
    assert.match((del.json as { error: string }).error, /belongs to agent label/);
    // Answered as the PUT is: the key, and the field error.
    const delBody = del.json as typeof body;
    assert.equal(delBody.key, key);
    assert.deepEqual(delBody.errors, body.errors);
    const plan = await agent.request(
      'POST',
      '/v1/plan',
      JSON.stringify({ puts: [{ key, value: JSON.parse(value) as unknown }] }),
    );
    assert.equal(plan.status, 200, plan.text);
    assert.equal((plan.json as { invalid: { key: string }[] }).invalid[0]?.key, key);
    assert.equal((await agent.request('GET', `/v1/config${key}`)).status, 404, 'nothing stored');
  });

  test("POST /v1/config: many values in one write (one revision), taken in as one change; one invalid value (or a key twice, or another label's key) and none is stored; deletes say which keys had a value", async () => {
    const names = Array.from({ length: 6 }, (_, i) => `bl${tag()}${i}`);
    // Three VETH pairs in ns1 (0-1, 2-3, 4-5).
    const ends = names.map((name, i) => ({
      key: configKey(label, 'interface', name),
      value: {
        name,
        type: 'VETH',
        enabled: true,
        namespace: { type: 'NAMED_NS', name: pair.ns1 },
        veth: { peer_if_name: names[i ^ 1] },
      },
    }));
    const keys = ends.map((l) => l.key);
    cleanup.add(async () => {
      for (const key of keys) await agent.request('DELETE', `/v1/config${key}`);
    });
    const bad = {
      key: configKey(label, 'interface', 'blbad'),
      value: { name: 'blbad', type: 'VETH', mtu: 99_999 },
    };
    const foreign = { key: configKey(`${label}x`, 'interface', 'theirs'), value: ends[0]!.value };
    for (const [why, puts, status, field] of [
      ['an invalid value', [...ends, bad], 400, 'mtu'],
      ["another label's key", [...ends, foreign], 400, '$key'],
    ] as const) {
      const refused = await agent.request('POST', '/v1/config', JSON.stringify({ puts }));
      assert.equal(refused.status, status, `${why}: ${refused.text}`);
      const answer = refused.json as { error: string; errors: { key: string; field: string }[] };
      assert.match(answer.error, /1 key refused \(nothing written\)/, why);
      assert.ok(
        answer.errors.some((e) => e.key === puts.at(-1)!.key && e.field === field),
        refused.text,
      );
    }
    const twice = await agent.request('POST', '/v1/config', JSON.stringify({ puts: [ends[0], ends[0]] }));
    assert.equal(twice.status, 400, twice.text);
    assert.match((twice.json as { error: string }).error, /given twice: puts\[0\] and puts\[1\]/);
    for (const body of ['[]', '{"puts": {}}', '{"puts": [{"key": "/x"}]}', '{"delete": []}', 'nonsense'])
      assert.equal((await agent.request('POST', '/v1/config', body)).status, 400, body);
    for (const key of keys)
      assert.equal((await agent.request('GET', `/v1/config${key}`)).status, 404, 'nothing stored');

    // A value as text (as a PUT's body) or as JSON: both stored as given.
    const puts = ends.map((l, i) => (i % 2 ? { key: l.key, value: JSON.stringify(l.value) } : l));
    const stored = await agent.request('POST', '/v1/config', JSON.stringify({ puts }));
    assert.equal(stored.status, 200, stored.text);
    const { revision, stored: count } = stored.json as { stored: number; revision: number };
    assert.equal(count, ends.length);
    const revisions = new Set<number>();
    for (const key of keys) {
      const got = await agent.request('GET', `/v1/config${key}`);
      assert.equal(got.status, 200, got.text);
      revisions.add((got.json as { revision: number }).revision);
    }
    assert.deepEqual([...revisions], [revision], 'one write');
    await agent.until(keys, 'configured');
    const history = (await agent.request('GET', '/v1/history')).json as {
      operations: { key: string; kind: string }[];
    }[];
    const made = history.filter((t) => t.operations.some((op) => keys.includes(op.key)));
    assert.equal(made.length, 1, `taken in as one change: ${JSON.stringify(made.map((t) => t.operations))}`);
    // Deletes: checked as DELETE checks them (another label's key, a key outside the configuration).
    const statusKey = `/vnf-agent/${label}/linux/status/v1/interface/${names[0]}`;
    for (const refusedKey of [foreign.key, statusKey]) {
      const refused = await agent.request(
        'POST',
        '/v1/config',
        JSON.stringify({ deletes: [...keys, refusedKey] }),
      );
      assert.equal(refused.status, 400, refused.text);
      assert.ok((refused.json as { errors: { key: string }[] }).errors.some((e) => e.key === refusedKey));
    }
    // Puts and deletes together: one write (one revision), taken in as one change.
    const [kept, gone] = [keys.slice(0, 2), keys.slice(2)];
    const changed = ends.slice(0, 2).map((l) => ({ key: l.key, value: { ...l.value, mtu: 1400 } }));
    const mixed = await agent.request('POST', '/v1/config', JSON.stringify({ puts: changed, deletes: gone }));
    assert.equal(mixed.status, 200, mixed.text);
    const mixedAnswer = mixed.json as { stored: number; deleted: string[]; revision: number };
    assert.deepEqual(mixedAnswer.deleted, gone);
    for (const key of kept) {
      const got = (await agent.request('GET', `/v1/config${key}`)).json as { revision: number };
      assert.equal(got.revision, mixedAnswer.revision, 'the puts and the deletions in one revision');
    }
    await agent.until(gone, 'removed');
    const both = async (): Promise<boolean> =>
      (
        (await agent.request('GET', '/v1/history')).json as { operations: { key: string; kind: string }[] }[]
      ).some(
        (t) =>
          t.operations.some((op) => op.key === kept[0] && op.kind === 'update') &&
          t.operations.some((op) => op.key === gone[0] && op.kind === 'delete'),
      );
    for (let i = 0; i < 100 && !(await both()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(await both(), 'one transaction updates the kept pair and removes the others');
    const none = configKey(label, 'interface', 'blnone');
    const deleted = await agent.request('POST', '/v1/config', JSON.stringify({ deletes: [...keys, none] }));
    assert.equal(deleted.status, 200, deleted.text);
    assert.deepEqual((deleted.json as { deleted: string[] }).deleted, kept, 'the keys that had a value');
    await agent.until(keys, 'removed');
  });

  test('invalid values: 400 with the field errors; nothing stored', async () => {
    const key = configKey(label, 'interface', 'badone');
    const bad = await agent.request(
      'PUT',
      `/v1/config${key}`,
      JSON.stringify({
        name: 'badone',
        type: 0,
        mtu: 99_999,
        host_if_name: 'x'.repeat(16),
        veth: { peer_if_name: 'p' },
      }),
    );
    assert.equal(bad.status, 400, bad.text);
    const errors = (bad.json as { errors: { key?: string; field: string; message: string }[] }).errors;
    const fields = errors.map((e) => e.field);
    assert.ok(fields.includes('mtu'), JSON.stringify(errors));
    assert.ok(
      fields.some((f) => f.includes('host_if_name') || f.includes('hostIfName')),
      JSON.stringify(errors),
    );
    for (const e of errors) assert.ok(e.message.length > 0);

    const notJson = await agent.request('PUT', `/v1/config${key}`, '{"name": ');
    assert.equal(notJson.status, 400);
    assert.ok((notJson.json as { errors: unknown[] }).errors.length > 0);

    const badKey = await agent.request('PUT', '/v1/config/vnf-agent/x/linux/config/v1/bridge/b', '{}');
    assert.equal(badKey.status, 400);
    assert.equal((badKey.json as { errors: { field: string }[] }).errors[0]?.field, '$key');

    assert.equal((await agent.request('GET', `/v1/config${key}`)).status, 404, 'nothing stored');
    assert.equal((await agent.request('GET', `/v1/status${key}`)).status, 404);
  });

  test('pending reasons say what is wrong: a namespace file that is not a namespace, a peer that cannot be the other end', async (t) => {
    const ns = `e2w${tag(4)}`;
    const names = ['lof', 'vx', 'exx', 'vy', 'vz'];
    t.after(async () => {
      for (const name of names)
        await agent.request('DELETE', `/v1/config${configKey(label, 'interface', name)}`);
      deleteNamespaces(ns);
    });
    const named = { type: 'NAMED_NS', name: ns };
    const items: [string, Record<string, unknown>][] = [
      [
        'lof',
        { type: 'LOOPBACK', enabled: true, namespace: { type: 'FILE_REF_NS', filepath: '/etc/hostname' } },
      ],
      ['vx', { type: 'VETH', enabled: true, namespace: named, veth: { peer_if_name: 'exx' } }],
      ['exx', { type: 'EXISTING', enabled: true, host_if_name: 'e2wnone', namespace: named }],
      ['vy', { type: 'VETH', enabled: true, namespace: named, veth: { peer_if_name: 'vz' } }],
      ['vz', { type: 'VETH', enabled: true, namespace: named, veth: { peer_if_name: 'vzz' } }],
    ];
    for (const [name, value] of items) {
      const put = await agent.request(
        'PUT',
        `/v1/config${configKey(label, 'interface', name)}`,
        JSON.stringify({ name, ...value }),
      );
      assert.equal(put.status, 200, put.text);
    }
    const reasonOf = async (name: string): Promise<string> =>
      eventually(async () => {
        const row = await agent.json<StatusRow>('GET', `/v1/status${configKey(label, 'interface', name)}`);
        assert.equal(row.state, 'pending', JSON.stringify(row));
        return String(row.reason);
      });
    assert.match(
      await reasonOf('lof'),
      /^waiting for namespace file \/etc\/hostname \(.*\/etc\/hostname is not a network namespace \(.*not nsfs\)\)$/,
    );
    assert.equal(
      await reasonOf('vx'),
      'waiting for VETH peer exx to be configured (exx is an EXISTING interface, not a VETH)',
    );
    assert.equal(
      await reasonOf('vy'),
      'waiting for VETH peer vz to be configured (vz names vzz as its peer, not vy)',
    );
    assert.equal(
      await reasonOf('vz'),
      'waiting for VETH peer vzz to be configured (vzz is not in the configuration)',
    );
  });

  test('404 for unknown keys', async () => {
    const key = configKey(label, 'interface', 'nobody');
    for (const [method, url] of [
      ['GET', `/v1/status${key}`],
      ['GET', `/v1/config${key}`],
      ['DELETE', `/v1/config${key}`],
    ] as const) {
      const r = await agent.request(method, url);
      assert.equal(r.status, 404, `${method} ${url}: ${r.status}`);
      assert.match((r.json as { error: string }).error, /nobody/);
    }
    // A path the API has with a method it does not take: 405 naming those it takes; no path: 404.
    const wrong = await agent.request('POST', `/v1/config${key}`, '{}');
    assert.equal(wrong.status, 405);
    assert.match((wrong.json as { error: string }).error, /allowed: GET, HEAD, PUT, DELETE/);
    assert.equal((await agent.request('DELETE', '/v1/kernel')).status, 405);
    // A body that is not UTF-8 (latin1 'é'): refused, not stored with U+FFFD in it.
    const latin1 = await fetch(`${agent.server}/v1/config${key}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json; charset=latin1', authorization: `Bearer ${token}` },
      body: Buffer.from('{"name": "nobody", "type": "DUMMY", "host_if_name": "caf\xe9"}', 'latin1'),
    });
    assert.equal(latin1.status, 400);
    assert.match(((await latin1.json()) as { error: string }).error, /not valid UTF-8/);
    assert.equal((await agent.request('GET', `/v1/config${key}`)).status, 404, 'nothing stored');
    const none = await agent.request('GET', '/v1/nothing-here');
    assert.equal(none.status, 404);
    assert.match((none.json as { error: string }).error, /no endpoint GET \/v1\/nothing-here/);
  });

  test('POST /v1/plan: a member given twice in the body is refused (400), as a PUT refuses it', async () => {
    const key = configKey(label, 'interface', 'dup');
    const r = await agent.request(
      'POST',
      '/v1/plan',
      `{"puts": [{"key": "${key}", "value": {"name": "dup", "type": "VETH", "mtu": 1400, "mtu": 9000}}]}`,
    );
    assert.equal(r.status, 400, r.text);
    assert.match(
      (r.json as { error: string }).error,
      /"mtu" is given twice in one object \(puts\[0\]\.value\)/,
    );
  });

  test('POST /v1/plan: planned actions, nothing changed; 400 on a body that is not JSON', async () => {
    const plan = await agent.request(
      'POST',
      '/v1/plan',
      JSON.stringify({
        puts: [
          { key: pair.key1, value: pair.veth1 },
          { key: pair.key2, value: pair.veth2 },
        ],
        deletes: [],
      }),
    );
    assert.equal(plan.status, 200, plan.text);
    const body = plan.json as { actions: unknown[]; invalid: unknown[] };
    assert.ok(Array.isArray(body.actions) && body.actions.length > 0, plan.text);
    assert.deepEqual(body.invalid, []);
    assert.ok(JSON.stringify(body.actions).includes(pair.key1));
    assert.equal((await agent.request('GET', `/v1/config${pair.key1}`)).status, 404, 'plan stores nothing');
    assert.equal(ipLink(pair.ns1, 'veth1Name'), undefined, 'plan changes no kernel state');

    const invalid = await agent.request(
      'POST',
      '/v1/plan',
      JSON.stringify({ puts: [{ key: pair.key1, value: { ...pair.veth1, mtu: 5 } }] }),
    );
    assert.equal(invalid.status, 200);
    assert.equal((invalid.json as { invalid: { key: string }[] }).invalid[0]?.key, pair.key1);

    const never = `/vnf-agent/${label}/linux/config/v1/interface/never-put`;
    const nothing = await agent.json<{ summary: { entries: { key: string; why: string }[] } }>(
      'POST',
      '/v1/plan',
      JSON.stringify({ deletes: [never] }),
    );
    assert.equal(
      nothing.summary.entries.find((e) => e.key === never)?.why,
      'not configured: nothing to remove',
    );

    // Deletions a DELETE would refuse are listed as invalid, not planned as nothing to do.
    const foreign = '/vnf-agent/another-label/linux/config/v1/interface/x';
    const refusedDeletes = await agent.json<{ invalid: { key: string; errors: { message: string }[] }[] }>(
      'POST',
      '/v1/plan',
      JSON.stringify({ deletes: ['garbage', foreign] }),
    );
    assert.deepEqual(
      refusedDeletes.invalid.map((i) => i.key),
      ['garbage', foreign],
    );
    assert.match(refusedDeletes.invalid[1]!.errors[0]!.message, /another-label/);
    // One change per key.
    const twice = await agent.request('POST', '/v1/plan', JSON.stringify({ deletes: [never, never] }));
    assert.equal(twice.status, 400, twice.text);

    const notJson = await agent.request('POST', '/v1/plan', 'puts: nope');
    assert.equal(notJson.status, 400);
  });

  /**
   * A VETH pair of the test's own (names starting with `pl`), in two named namespaces; removed
   * after, then those namespaces and `others`.
   */
  async function plPair(
    t: { after(fn: () => Promise<void>): void },
    nsA: string,
    nsB: string,
    ...others: string[]
  ): Promise<{ key1: string; key2: string; end1: VethEnd; end2: (ns: string) => VethEnd }> {
    const t4 = tag(4);
    const [name1, name2] = [`pl${t4}1`, `pl${t4}2`];
    const [key1, key2] = [configKey(label, 'interface', name1), configKey(label, 'interface', name2)];
    const end = (name: string, ns: string, peer: string): VethEnd => ({
      name,
      type: 'VETH',
      enabled: true,
      host_if_name: `${name}h`,
      namespace: { type: 'NAMED_NS', name: ns },
      veth: { peer_if_name: peer },
    });
    t.after(async () => {
      try {
        for (const key of [key1, key2]) await agent.request('DELETE', `/v1/config${key}`);
        await agent.until([key1, key2], 'removed').catch(() => undefined);
      } finally {
        deleteNamespaces(nsA, nsB, ...others);
      }
    });
    const end1 = end(name1, nsA, name2);
    await agent.json('PUT', `/v1/config${key1}`, JSON.stringify(end1));
    await agent.json('PUT', `/v1/config${key2}`, JSON.stringify(end(name2, nsB, name1)));
    await agent.until([key1, key2], 'configured');
    return { key1, key2, end1, end2: (ns) => end(name2, ns, name1) };
  }

  const planOf = (body: unknown): Promise<PlanAnswer> =>
    agent.json<PlanAnswer>('POST', '/v1/plan', JSON.stringify(body));

  test('POST /v1/plan: a named namespace the agent did not make (deleted and made again by hand) is not planned removed, as applying keeps it', async (t) => {
    const [nsA, nsB, nsC] = [`pl${tag(4)}a`, `pl${tag(4)}b`, `pl${tag(4)}c`];
    const { key1, key2, end2 } = await plPair(t, nsA, nsB, nsC);
    // The user deletes nsB and makes it again: the agent did not make this one (no mark of ours).
    ip(null, ['netns', 'del', nsB]);
    await eventually(async () => assert.notEqual((await agent.stateOf(key2))?.state, 'configured'));
    ip(null, ['netns', 'add', nsB]);
    await agent.until([key1, key2], 'configured');
    const moved = [{ key: key2, value: end2(nsC) }];
    const plan = await planOf({ puts: moved });
    const text = JSON.stringify(plan);
    assert.equal(
      plan.summary.entries.find((e) => e.key === `named-namespace/${nsB}`),
      undefined,
      `nsB is left in place, not removed: ${text}`,
    );
    assert.ok(!plan.actions.some((a) => a.key === `named-namespace/${nsB}`), text);
    assert.equal(
      plan.summary.entries.find((e) => e.key === `named-namespace/${nsC}`)?.change,
      'create',
      text,
    );
    // Applied: as planned, nsB stays.
    await agent.json('PUT', `/v1/config${key2}`, JSON.stringify(end2(nsC)));
    await agent.until([key1, key2], 'configured');
    await eventually(async () =>
      assert.equal((await agent.stateOf(`/named-namespace/${nsB}`))?.state, 'removed'),
    );
    assert.ok(existsSync(`/var/run/netns/${nsB}`), 'nsB is still there');
    // One the agent made is still planned removed.
    const gone = await planOf({ deletes: [key1, key2] });
    assert.equal(
      gone.summary.entries.find((e) => e.key === `named-namespace/${nsC}`)?.change,
      'remove',
      JSON.stringify(gone),
    );
    // Unless another program's link is in it: that removal would fail (and is retried until it goes).
    // The move to nsC applied (the PUT's `until` above may have seen the statuses from before it).
    await eventually(async () =>
      assert.equal((await agent.stateOf(`/named-namespace/${nsC}`))?.state, 'configured'),
    );
    ip(nsC, ['link', 'add', 'plhand0', 'type', 'veth', 'peer', 'name', 'plhand1']);
    const held = await planOf({ deletes: [key1, key2] });
    const entry = held.summary.entries.find((e) => e.key === `named-namespace/${nsC}`);
    assert.equal(entry?.change, 'remove', JSON.stringify(held));
    assert.match(
      entry.why,
      /; would fail: named namespace \S+ is kept while it holds links that are not ours \(plhand[01], plhand[01]\)$/,
    );
    ip(nsC, ['link', 'del', 'plhand0']);
  });

  test('POST /v1/plan: an item invalid in the store that the file makes valid is listed, also with replace', async (t) => {
    const [nsA, nsB] = [`pl${tag(4)}a`, `pl${tag(4)}b`];
    const { key1, key2, end1, end2 } = await plPair(t, nsA, nsB);
    // Invalid, written straight into the store: its last valid value stays applied. The file's
    // valid value (that same value) makes it configured again: the plan says so.
    const direct = new SqliteStore({ file: path.join(dir, 'store.db') });
    try {
      await direct.put(key1, JSON.stringify({ ...end1, mtu: 99999 }));
    } finally {
      await direct.close();
    }
    await agent.until([key1], 'invalid');
    for (const replace of [false, true]) {
      const puts = [
        { key: key1, value: end1 },
        { key: key2, value: end2(nsB) },
      ];
      const fixed = await planOf({ puts, replace });
      const entry = fixed.summary.entries.find((e) => e.key === key1);
      assert.equal(entry?.change, 'change', `replace ${replace}: ${JSON.stringify(fixed)}`);
      assert.match(entry.why, /^valid again, as it is in the kernel \(was invalid: mtu: /);
    }
  });

  test('/v1/events reports interface index events of the agent namespace', async (t) => {
    const host = `e2h${tag(4)}`;
    const ns = `e2pv${tag(4)}`;
    t.after(() => {
      ipTry(null, ['link', 'del', host]);
      deleteNamespaces(ns);
    });
    const hostKey = configKey(label, 'interface', 'hostend');
    const nsKey = configKey(label, 'interface', 'nsend');
    const events = followEvents(agent, token);
    try {
      assert.equal(await events.status, 200);
      await agent.json(
        'PUT',
        `/v1/config${hostKey}`,
        JSON.stringify({
          name: 'hostend',
          type: 'VETH',
          enabled: true,
          host_if_name: host,
          veth: { peer_if_name: 'nsend' },
        }),
      );
      await agent.json(
        'PUT',
        `/v1/config${nsKey}`,
        JSON.stringify({
          name: 'nsend',
          type: 'VETH',
          enabled: true,
          namespace: { type: 'NAMED_NS', name: ns },
          veth: { peer_if_name: 'hostend' },
        }),
      );
      await agent.until([hostKey, nsKey], 'configured');
      const ifindex = await eventually(() => {
        const link = events.events.find(
          (e) => e.type === 'link' && e.data.name === host && e.data.kind === 'added',
        );
        assert.ok(link, `link events: ${JSON.stringify(events.events.filter((e) => e.type === 'link'))}`);
        return link.data.ifindex;
      });
      const viaIp = JSON.parse(ipTry(null, ['-json', 'link', 'show', 'dev', host]).stdout) as {
        ifindex: number;
      }[];
      assert.equal(ifindex, viaIp[0]?.ifindex);
      await agent.json('DELETE', `/v1/config${hostKey}`);
      await eventually(() =>
        assert.ok(
          events.events.some((e) => e.type === 'link' && e.data.name === host && e.data.kind === 'removed'),
        ),
      );
      await agent.json('DELETE', `/v1/config${nsKey}`);
    } finally {
      events.close();
    }
  });

  test('/metrics: Prometheus text with transactions, items by state, netlink, datastore and process metrics', async () => {
    // The process's CPU time since it started (not since the first scrape), in clock ticks of 1/100 s.
    const stat = readFileSync(`/proc/${agent.child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const cpuBefore = (Number(stat[11]) + Number(stat[12])) / 100;
    const r = await agent.request('GET', '/metrics', undefined, null);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /text\/plain/);
    for (const name of [
      'netns_agent_transactions_total',
      'netns_agent_transaction_duration_seconds_bucket',
      'netns_agent_operations_total',
      'netns_agent_items{state="configured"}',
      'netns_agent_items{state="invalid"}',
      'netns_agent_pending_items',
      'netns_agent_netlink_requests_total',
      'netns_agent_netlink_errors_total',
      'netns_agent_netlink_already_gone_total',
      'netns_agent_datastore_reconnects_total',
      'netns_agent_process_resident_memory_bytes',
    ]) {
      assert.ok(r.text.includes(name), `${name} in /metrics`);
    }
    // Every sample is a number the text format knows (prom-client wrote "Nan").
    assert.doesNotMatch(r.text, / Nan$/m);
    // The store in use has its sample from the start (0: no reconnect yet).
    assert.match(r.text, /^netns_agent_datastore_reconnects_total\{store="sqlite"\} 0$/m);
    const requests = Number(/^netns_agent_netlink_requests_total (\d+)/m.exec(r.text)?.[1]);
    assert.ok(requests > 0, 'netlink requests counted');
    assert.match(r.text, /^netns_agent_transactions_total\{outcome="ok"\} [1-9]/m);
    const cpu = Number(/^netns_agent_process_cpu_seconds_total (\S+)/m.exec(r.text)?.[1]);
    assert.ok(cpu >= cpuBefore * 0.9, `CPU ${cpu} s against ${cpuBefore} s in /proc`);
  });
  test('an address the kernel refuses shows on its interface: failed, naming the address, in status and events', async (t) => {
    const refusing = seedPair(label, 'e2r');
    const local = new Cleanup();
    t.after(() => local.run());
    local.add(() => deleteNamespaces(refusing.ns1, refusing.ns2));
    // A namespace someone else made, where new links get no IPv6: the kernel refuses veth1's
    // IPv6 address (EACCES), while the link itself and its IPv4 address are fine.
    ip(null, ['netns', 'add', refusing.ns1]);
    ip(null, [
      'netns',
      'exec',
      refusing.ns1,
      'sh',
      '-c',
      'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6',
    ]);
    const events = followEvents(agent, token);
    local.add(() => events.close());
    await events.status;
    await agent.request('PUT', `/v1/config${refusing.key1}`, JSON.stringify(refusing.veth1));
    await agent.request('PUT', `/v1/config${refusing.key2}`, JSON.stringify(refusing.veth2));
    await agent.until([refusing.key2], 'configured');
    await agent.until([refusing.key1], 'failed');
    const row = await agent.json<StatusRow>('GET', `/v1/status${refusing.key1}`);
    assert.match(String(row.error), /^address 2001:db8::ff00:89e3:bb42\/48: .*EACCES/, JSON.stringify(row));
    assert.ok(ipLink(refusing.ns1, 'veth1Name')?.addr_info?.some((a) => a.local === '192.168.22.1'));
    await eventually(() => {
      const states = events.events.filter((e) => e.type === 'state' && e.data.key === refusing.key1);
      assert.ok(
        states.some((e) => e.data.state === 'failed'),
        JSON.stringify(states),
      );
    }, 5000);
    const summary = await agent.json<{ total: number; counts: Record<string, number> }>(
      'GET',
      '/v1/status?summary',
    );
    assert.ok((summary.counts.failed ?? 0) >= 1, JSON.stringify(summary));
    // Items removed from the configuration are counted apart, not in total.
    const inConfig = Object.entries(summary.counts).reduce((n, [s, c]) => n + (s === 'removed' ? 0 : c), 0);
    assert.equal(summary.total, inConfig, JSON.stringify(summary));

    // IPv6 allowed on the link again (a setting that sends no event): the address is tried again
    // on its own, and the interface is configured.
    ip(null, [
      'netns',
      'exec',
      refusing.ns1,
      'sh',
      '-c',
      'echo 0 > /proc/sys/net/ipv6/conf/veth1Name/disable_ipv6',
    ]);
    await agent.until([refusing.key1], 'configured');
    await eventually(() =>
      assert.ok(
        ipLink(refusing.ns1, 'veth1Name')?.addr_info?.some((a) => a.local === '2001:db8::ff00:89e3:bb42'),
      ),
    );

    // without that address the interface is configured
    const ipv4Only = { ...refusing.veth1, ip_addresses: ['192.168.22.1/24'] };
    await agent.request('PUT', `/v1/config${refusing.key1}`, JSON.stringify(ipv4Only));
    await agent.until([refusing.key1], 'configured');
    for (const key of [refusing.key1, refusing.key2]) await agent.request('DELETE', `/v1/config${key}`);
    await agent.until([refusing.key1, refusing.key2], 'removed');
  });
});

describe('HTTP API on a unix socket', { skip: skipUnlessRoot() }, () => {
  test('listens with mode 0600 and answers', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'netns-e2e-sock-'));
    const cleanup = new Cleanup();
    t.after(() => cleanup.run());
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    const socket = path.join(dir, 'api.sock');
    const agent = await AgentProcess.start({
      label: `e2eu${tag()}`,
      store: path.join(dir, 'store.db'),
      http: `unix:${socket}`,
    });
    cleanup.add(() => agent.stop());
    const mode = statSync(socket).mode;
    assert.ok(statSync(socket).isSocket());
    assert.equal((mode & 0o777).toString(8), '600');
    const r = await agent.request('GET', '/v1/status');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, []);
    assert.equal((await agent.request('GET', '/metrics')).status, 200);
    // netnsctl reaches it there too.
    const status = await netnsctl(['--server', `unix:${socket}`, 'status', '-o', 'json']);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(JSON.parse(status.stdout), []);
    const gone = await netnsctl(['--server', `unix:${path.join(dir, 'none.sock')}`, 'status']);
    assert.equal(gone.code, 3, gone.stderr);
  });
});

interface VethEnd {
  name: string;
  type: 'VETH';
  enabled: boolean;
  host_if_name: string;
  namespace: { type: 'NAMED_NS'; name: string };
  veth: { peer_if_name: string };
}

interface PlanAnswer {
  actions: { key: string; action: string }[];
  summary: { entries: { key: string; change: string; why: string }[] };
}
