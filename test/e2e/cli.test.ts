/**
 * bin/netnsctl as a process against a running agent (embedded store): every command, its output and
 * exit code, and the error codes (2 bad key / not found, 3 unreachable, 4 refused, 5 invalid value).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { freePort } from '../helpers/etcd.js';
import { ip, ipTry, skipUnlessRoot } from '../helpers/kernel.js';
import {
  AgentProcess,
  checkSeedPair,
  Cleanup,
  deleteNamespaces,
  EXAMPLES_DIR,
  eventually,
  ipLink,
  netnsctl,
  netnsctlSpawn,
  seedPair,
  tag,
  type SeedPair,
} from '../helpers/agent.js';

/** The per-item entries of `netnsctl plan -o json`. */
function planEntries(stdout: string): { key: string; change: string; why: string }[] {
  return (
    JSON.parse(stdout) as { plan: { summary: { entries: { key: string; change: string; why: string }[] } } }
  ).plan.summary.entries;
}

describe('netnsctl', { skip: skipUnlessRoot() }, () => {
  const cleanup = new Cleanup();
  const label = `e2ec${tag()}`;
  const token = `tok-${tag(8)}`;
  let agent: AgentProcess;
  let pair: SeedPair;
  let dir: string;
  let base: string[];
  const file = (name: string, content: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'netns-e2e-cli-'));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    pair = seedPair(label, 'e2c');
    cleanup.add(() => deleteNamespaces(pair.ns1, pair.ns2));
    agent = await AgentProcess.start({ label, store: path.join(dir, 'store.db'), token });
    cleanup.add(() => agent.stop());
    base = ['--server', agent.server, '--token', token, '--label', label];
  });
  after(() => cleanup.run());

  test('example: lists the examples, prints the seed pair, exit 2 for an unknown one', async () => {
    const list = await netnsctl(['example']);
    assert.equal(list.code, 0, list.stderr);
    for (const name of ['veth', 'tap', 'route', 'arp', 'microservice'])
      assert.match(list.stdout, new RegExp(`^${name}\\b`, 'm'));
    const veth = await netnsctl(['example', 'veth', '-o', 'json']);
    assert.equal(veth.code, 0);
    const docs = JSON.parse(veth.stdout) as { kind: string; name: string; value: Record<string, unknown> }[];
    const seed1 = JSON.parse(readFileSync(path.join(EXAMPLES_DIR, 'veth1.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(docs.find((d) => d.name === 'veth1')?.value, seed1);
    const yaml = await netnsctl(['example', 'veth']);
    assert.equal(yaml.code, 0);
    assert.match(yaml.stdout, /host_if_name: veth1Name/);
    const unknown = await netnsctl(['example', 'nonesuch']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no example nonesuch/);
  });

  test('put (file and stdin), get, list, status', async () => {
    const f1 = file('veth1.json', JSON.stringify(pair.veth1));
    const put1 = await netnsctl([...base, 'put', 'interface/veth1', f1]);
    assert.equal(put1.code, 0, put1.stderr);
    assert.equal(put1.stdout.trim(), `stored ${pair.key1}`);
    // --wait: veth1 stays pending until its peer is put (exit 6, saying why); veth2 makes the pair.
    const waitLonely = await netnsctl([...base, 'put', '--wait-timeout', '1', 'interface/veth1', f1]);
    assert.equal(waitLonely.code, 6, `${waitLonely.stdout}${waitLonely.stderr}`);
    assert.match(waitLonely.stderr, /not configured within 1 s: pending: waiting for VETH peer veth2/);
    const put2 = await netnsctl(
      [...base, 'put', '--wait', pair.key2, '-', '-o', 'json'],
      JSON.stringify(pair.veth2),
    );
    assert.equal(put2.code, 0, put2.stderr);
    assert.deepEqual(
      { ...(JSON.parse(put2.stdout) as Record<string, unknown>), seconds: 0 },
      { key: pair.key2, stored: true, configured: true, seconds: 0 },
    );
    await agent.until([pair.key1, pair.key2], 'configured');
    checkSeedPair(pair);

    const get = await netnsctl([...base, 'get', 'interface/veth1']);
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(JSON.parse(get.stdout), pair.veth1);
    const getKind = await netnsctl([...base, 'get', 'interface', '-o', 'json']);
    assert.equal(getKind.code, 0);
    assert.deepEqual((JSON.parse(getKind.stdout) as { key: string }[]).map((e) => e.key).sort(), [
      pair.key1,
      pair.key2,
    ]);
    const getYaml = await netnsctl([...base, '-o', 'yaml', 'get']);
    assert.equal(getYaml.code, 0);
    assert.equal((parseYaml(getYaml.stdout) as unknown[]).length, 2);
    // What get prints goes back in with apply (nothing changes: both already hold those values).
    const roundTrip = await netnsctl([...base, 'apply', '-f', file('all.yaml', getYaml.stdout)]);
    assert.equal(roundTrip.code, 0, `${roundTrip.stdout}${roundTrip.stderr}`);
    assert.match(roundTrip.stdout, /stored 2 of 2 items/);

    const list = await netnsctl([...base, 'list']);
    assert.equal(list.code, 0);
    assert.deepEqual(list.stdout.trim().split('\n').sort(), [pair.key1, pair.key2]);

    const status = await netnsctl([...base, 'status']);
    assert.equal(status.code, 0, status.stderr);
    const lines = status.stdout.trim().split('\n');
    assert.match(lines[0]!, /^KEY\s+STATE\s+REASON/);
    assert.ok(
      lines.some((l) => l.startsWith(pair.key1) && /\bconfigured\b/.test(l)),
      status.stdout,
    );
    const one = await netnsctl([...base, 'status', 'interface/veth1', '-o', 'json']);
    assert.equal(one.code, 0);
    assert.equal((JSON.parse(one.stdout) as { state: string }).state, 'configured');
    const oneYaml = await netnsctl([...base, 'status', 'interface/veth2']);
    assert.equal((parseYaml(oneYaml.stdout) as { state: string }).state, 'configured');

    // A status key whole: its value only, as for a config key.
    const statusKey = `/vnf-agent/${label}/linux/status/v1/interface/veth1`;
    await eventually(async () => {
      const state = await netnsctl([...base, 'get', statusKey]);
      assert.equal(state.code, 0, state.stderr);
      assert.equal((JSON.parse(state.stdout) as { name?: string }).name, 'veth1', state.stdout);
    });

    // -o table asked for: nested values as tables too.
    const getTable = await netnsctl([...base, 'get', 'interface/veth1', '-o', 'table']);
    assert.equal(getTable.code, 0, getTable.stderr);
    assert.match(getTable.stdout, /^FIELD\s+VALUE\n/);
    assert.match(getTable.stdout, /^namespace\.name\s+\S+$/m);
    const oneTable = await netnsctl([...base, 'status', 'interface/veth1', '-o', 'table']);
    assert.match(oneTable.stdout, /^state\s+configured$/m);
    const historyTable = await netnsctl([...base, 'history', '-o', 'table']);
    assert.equal(historyTable.code, 0, historyTable.stderr);
    assert.match(historyTable.stdout, /^SEQ\s+STARTED\s+MS\s+CAUSES/);
    const dumpTable = await netnsctl([...base, 'dump', '-o', 'table']);
    assert.equal(dumpTable.code, 0, dumpTable.stderr);
    assert.match(dumpTable.stdout, /^NAMESPACE\s+KIND\s+WHAT\s+MANAGED/);
    assert.match(dumpTable.stdout, /\blink\s+\S+ #\d+ up .*\S+$/m);
    // Asked under another label than the agent serves: said, beside its items.
    const otherLabel = await netnsctl([
      '--server',
      agent.server,
      '--token',
      token,
      '--label',
      `${label}x`,
      'status',
    ]);
    assert.equal(otherLabel.code, 0, otherLabel.stderr);
    assert.match(otherLabel.stderr, new RegExp(`serves the label ${label}, not ${label}x`));
    assert.doesNotMatch(
      (await netnsctl([...base, 'status'])).stderr,
      /serves the label/,
      'not under its own label',
    );
  });

  test('dump and history', async () => {
    const dump = await netnsctl([...base, 'dump', '-o', 'json']);
    assert.equal(dump.code, 0, dump.stderr);
    const namespaces = JSON.parse(dump.stdout) as { namespace: string; links: { name: string }[] }[];
    assert.ok(
      namespaces.find((n) => n.namespace.includes(pair.ns1))?.links.some((l) => l.name === 'veth1Name'),
    );
    const dumpYaml = await netnsctl([...base, 'dump']);
    assert.equal(dumpYaml.code, 0);
    assert.match(dumpYaml.stdout, /veth2Name/);
    const history = await netnsctl([...base, 'history', '-o', 'json']);
    assert.equal(history.code, 0);
    const transactions = JSON.parse(history.stdout) as { operations: { key: string }[] }[];
    assert.ok(transactions.some((t) => t.operations.some((op) => op.key === pair.key1)));
  });

  test('watch: live state changes and interface index events', async (t) => {
    const child = netnsctlSpawn([...base, 'watch']);
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    // The stream replays nothing: wait until it is live, shown by the link event of a throwaway
    // link in the default namespace (a fixed sleep was not always enough for node to start).
    const probe = `nw${tag(6)}`;
    t.after(() => ipTry(null, ['link', 'del', probe]));
    for (let attempt = 0; !out.includes(` ${probe} `); attempt++) {
      assert.ok(attempt < 50, 'netnsctl watch shows a link event within 15 s');
      ipTry(null, ['link', 'del', probe]);
      ip(null, ['link', 'add', probe, 'type', 'veth', 'peer', 'name', `${probe}p`]);
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.match(out, new RegExp(`link ${probe} \\(ifindex \\d+\\) added`), 'the ifindex is shown');
    // A rename names the name the link had.
    const renamed = `nr${tag(6)}`;
    t.after(() => ipTry(null, ['link', 'del', renamed]));
    ip(null, ['link', 'set', probe, 'name', renamed]);
    await eventually(
      () => assert.match(out, new RegExp(`link ${renamed} \\(ifindex \\d+\\) changed \\(was ${probe}\\)`)),
      5000,
    );
    ip(null, ['link', 'del', renamed]);
    const changed = { ...pair.veth1, mtu: 1400 };
    assert.equal((await netnsctl([...base, 'put', 'interface/veth1', '-'], JSON.stringify(changed))).code, 0);
    // A transaction in words: its number and what it did.
    await eventually(
      () => assert.match(out, /^\d{4}-\d\d-\d\dT\S+ transaction #\d+ update 1 in \d+ ms$/m),
      10_000,
    );
    await eventually(() => assert.equal(ipLink(pair.ns1, 'veth1Name')?.mtu, 1400));
    // veth2 goes: veth1 waits for its peer (pending with a reason); veth2 back: both configured
    assert.equal((await netnsctl([...base, 'del', 'interface/veth2'])).code, 0);
    const line = (key: string, state: string) =>
      new RegExp(`^\\S+ state ${key.replace(/\//g, '\\/')} ${state}`, 'm');
    await eventually(() => assert.match(out, line(pair.key1, 'pending')), 10_000);
    assert.equal(
      (await netnsctl([...base, 'put', 'interface/veth2', '-'], JSON.stringify(pair.veth2))).code,
      0,
    );
    await eventually(() => assert.match(out, line(pair.key2, 'configured')), 10_000);
    await eventually(() => assert.match(out, line(pair.key1, 'configured')), 10_000);
    assert.equal(child.exitCode, null, 'watch keeps running');
  });

  test('del: removes the value; deleting it again is 2 (not found)', async () => {
    const del = await netnsctl([...base, 'del', 'interface/veth1']);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout.trim(), `deleted ${pair.key1}`);
    await eventually(() => assert.equal(ipLink(pair.ns1, 'veth1Name'), undefined));
    const again = await netnsctl([...base, 'del', 'interface/veth1']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /no value/);
    const asData = await netnsctl([...base, '-o', 'json', 'del', 'interface/veth1']);
    assert.equal(asData.code, 2);
    assert.deepEqual(JSON.parse(asData.stdout), { key: pair.key1, deleted: false });
    const get = await netnsctl([...base, 'get', 'interface/veth1']);
    assert.equal(get.code, 2, `get of a missing key: ${get.stdout}${get.stderr}`);
    assert.equal((await netnsctl([...base, 'del', 'interface/veth2'])).code, 0);

    // Names holding what a URL gives a meaning to reach the agent as written.
    const odd = ['k#1', 'k?x=1', 'k%41', 'ké'];
    const value = (n: number) => ({
      type: 'VETH',
      enabled: true,
      host_if_name: `kodd${n}`,
      namespace: { type: 'NAMED_NS', name: pair.ns1 },
      veth: { peer_if_name: 'nobody' },
    });
    for (const [n, name] of odd.entries()) {
      const put = await netnsctl(
        [...base, 'put', `interface/${name}`, '-'],
        JSON.stringify({ ...value(n), name }),
      );
      assert.equal(put.code, 0, `${name}: ${put.stderr}`);
    }
    const listed = await netnsctl([...base, 'list']);
    assert.deepEqual(
      listed.stdout.trim().split('\n').sort(),
      odd.map((name) => `/vnf-agent/${label}/linux/config/v1/interface/${name}`).sort(),
    );
    for (const name of odd) {
      const status = await netnsctl([...base, 'status', `interface/${name}`, '-o', 'json']);
      assert.equal(status.code, 0, `${name}: ${status.stderr}`);
      assert.equal(
        (JSON.parse(status.stdout) as { key: string }).key.endsWith(`/${name}`),
        true,
        status.stdout,
      );
    }
    // Many at once: keys given, and the items of a file (as apply -f reads it); one not there is 2.
    const many = await netnsctl([
      ...base,
      'del',
      `interface/${odd[0]}`,
      `interface/${odd[1]}`,
      'interface/none',
    ]);
    assert.equal(many.code, 2, many.stderr);
    assert.equal(many.stdout.trim(), 'deleted 2 of 3 keys');
    assert.match(many.stderr, /no value under 1 of the 3 keys: \S+interface\/none/);
    const file = odd
      .slice(2)
      .map((name, n) => JSON.stringify({ kind: 'interface', ...value(n + 2), name }))
      .join('\n---\n');
    const fromFile = await netnsctl([...base, '-o', 'json', 'del', '-f', '-'], file);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.deepEqual((JSON.parse(fromFile.stdout) as { deleted: string[] }).deleted.length, 2);
    assert.equal((await netnsctl([...base, 'list'])).stdout.trim(), '');
  });

  test('plan -f and apply -f: the seed pair from `example veth`, then removed', async () => {
    const example = await netnsctl(['example', 'veth']);
    const text = example.stdout
      .replaceAll('name: ns1', `name: ${pair.ns1}`)
      .replaceAll('name: ns2', `name: ${pair.ns2}`);
    const f = file('veth.yaml', text);
    const plan = await netnsctl([...base, 'plan', '-f', f, '-o', 'json']);
    assert.equal(plan.code, 0, plan.stderr);
    const planned = JSON.parse(plan.stdout) as { invalid: unknown[]; plan: { actions: unknown[] } };
    assert.deepEqual(planned.invalid, []);
    assert.ok(planned.plan.actions.length > 0);
    assert.ok(plan.stdout.includes(pair.key1));
    const planTable = await netnsctl([...base, 'plan', '-f', f, '-o', 'table']);
    assert.equal(planTable.code, 0, planTable.stderr);
    assert.match(planTable.stdout, /^KEY\s+CHANGE\s+WHY\n/);
    assert.match(planTable.stdout, new RegExp(`^${pair.key1}\\s+create\\s`, 'm'));
    assert.equal(ipLink(pair.ns1, 'veth1Name'), undefined, 'plan changes nothing');
    // With the route and ARP entry through veth1: made once the pair is (not "waiting for veth1Name
    // to exist": the plan assumes the links it creates exist).
    const more = await Promise.all(['route', 'arp'].map((name) => netnsctl(['example', name])));
    const all = file(
      'veth-route-arp.yaml',
      [text, ...more.map((m) => m.stdout.replaceAll('name: ns1', `name: ${pair.ns1}`))].join('---\n'),
    );
    const planAll = await netnsctl([...base, 'plan', '-f', all, '-o', 'table']);
    assert.equal(planAll.code, 0, planAll.stderr);
    for (const kind of ['route/to-ns2-lan', 'arp/veth2-arp'])
      assert.match(
        planAll.stdout,
        new RegExp(`^/vnf-agent/${label}/linux/config/v1/${kind}\\s+create\\s`, 'm'),
      );

    // --wait: back once the agent has configured both (the kernel holds them then).
    const apply = await netnsctl([...base, 'apply', '-f', f, '--wait-timeout', '20']);
    assert.equal(apply.code, 0, apply.stderr);
    assert.match(apply.stdout, /stored 2 of 2 items \(0 invalid, 0 failed to store\)/);
    assert.match(apply.stdout, /configured 2 of 2 items \(waited [\d.]+ s\)/);
    checkSeedPair(pair);
    await agent.until([pair.key1, pair.key2], 'configured');

    const mixed = file(
      'mixed.json',
      JSON.stringify([
        { kind: 'interface', name: 'veth1', value: { ...pair.veth1, mtu: 1300 } },
        {
          kind: 'interface',
          name: 'broken',
          value: { name: 'broken', type: 0, mtu: 1, veth: { peer_if_name: 'x' } },
        },
      ]),
    );
    // --replace: the file is the whole configuration, so veth2 (not in it) would be removed.
    const onlyVeth1 = file(
      'only-veth1.json',
      JSON.stringify([{ kind: 'interface', name: 'veth1', value: pair.veth1 }]),
    );
    const replacing = await netnsctl([...base, 'plan', '-f', onlyVeth1, '--replace', '-o', 'json']);
    assert.equal(replacing.code, 0, replacing.stderr);
    const entries = planEntries(replacing.stdout);
    assert.equal(entries.find((e) => e.key === pair.key2)?.change, 'remove', replacing.stdout);
    // veth1 stays configured, but a VETH end cannot exist without its peer
    assert.match(
      entries.find((e) => e.key === pair.key1)?.why ?? '',
      /stays pending: waiting for VETH peer veth2/,
    );
    // --replace with an item the file cannot give: no plan (it would remove what apply keeps).
    const replacingMixed = await netnsctl([...base, 'plan', '-f', mixed, '--replace', '-o', 'json']);
    assert.equal(replacingMixed.code, 5, replacingMixed.stderr);
    assert.match(replacingMixed.stderr, /a --replace plan needs every item of the file/);
    assert.match(
      JSON.stringify(JSON.parse(replacingMixed.stdout) as unknown),
      /broken/,
      'the invalid item is listed',
    );
    const additive = await netnsctl([...base, 'plan', '-f', onlyVeth1, '-o', 'json']);
    assert.ok(
      !(
        JSON.parse(additive.stdout) as { plan: { summary: { entries: { key: string; change: string }[] } } }
      ).plan.summary.entries.some((e) => e.change === 'remove'),
      'without --replace nothing is removed',
    );
    assert.ok(ipLink(pair.ns2, 'veth2Name'), 'plan changes nothing');

    // A route through veth1: a plan that removes veth1, or sets it down, says the route would wait.
    const route = {
      name: 'r1',
      namespace: { type: 'NAMED_NS', name: pair.ns1 },
      interface: 'veth1',
      dst_ip_addr: '10.99.0.0/16',
      gw_addr: '192.168.22.2',
    };
    const routeKey = `/vnf-agent/${label}/linux/config/v1/route/r1`;
    // A route via a link-local gateway waiting for a link no one makes: not in a plan of others.
    const waitingKey = `/vnf-agent/${label}/linux/config/v1/route/r6wait`;
    const waitingRoute = {
      ...route,
      name: 'r6wait',
      interface: 'nolink0',
      dst_ip_addr: '2001:db8:98::/64',
      gw_addr: 'fe80::7',
    };
    assert.equal(
      (await netnsctl([...base, 'put', 'route/r6wait', '-'], JSON.stringify(waitingRoute))).code,
      0,
    );
    await agent.until([waitingKey], 'pending');
    // Its gateway is on veth1's network, in the kernel already: the plan creates it, as apply does.
    const routePlan = await agent.request(
      'POST',
      '/v1/plan',
      JSON.stringify({ puts: [{ key: routeKey, value: route }] }),
    );
    const routePlanEntries = (routePlan.json as { summary: { entries: { key: string; change: string }[] } })
      .summary.entries;
    const plannedRoute = routePlanEntries.find((e) => e.key === routeKey);
    assert.equal(plannedRoute?.change, 'create', routePlan.text);
    assert.equal(
      routePlanEntries.find((e) => e.key === waitingKey),
      undefined,
      routePlan.text,
    );
    assert.equal((await netnsctl([...base, 'del', 'route/r6wait'])).code, 0);
    // An IPv6 route via a link-local gateway through a VETH end the same plan makes (no address
    // yet): the gateway is on its link by definition, so the route is created, as apply does.
    const llKey = (kind: string, name: string): string =>
      `/vnf-agent/${label}/linux/config/v1/${kind}/${name}`;
    const llEnd = (name: string, peer: string, ns: string) => ({
      key: llKey('interface', name),
      value: {
        name,
        type: 'VETH',
        enabled: true,
        namespace: { type: 'NAMED_NS', name: ns },
        veth: { peer_if_name: peer },
      },
    });
    const linkLocalPlan = await agent.request(
      'POST',
      '/v1/plan',
      JSON.stringify({
        puts: [
          llEnd('vll1', 'vll2', pair.ns1),
          llEnd('vll2', 'vll1', pair.ns2),
          {
            key: llKey('route', 'r6ll'),
            value: {
              ...route,
              name: 'r6ll',
              interface: 'vll1',
              dst_ip_addr: '2001:db8:99::/64',
              gw_addr: 'fe80::5',
            },
          },
        ],
      }),
    );
    assert.equal(
      (
        linkLocalPlan.json as { summary: { entries: { key: string; change: string }[] } }
      ).summary.entries.find((e) => e.key === llKey('route', 'r6ll'))?.change,
      'create',
      linkLocalPlan.text,
    );
    assert.equal((await netnsctl([...base, 'put', 'route/r1', '-'], JSON.stringify(route))).code, 0);
    await agent.until([routeKey], 'configured');
    for (const change of [
      { deletes: [pair.key1] },
      { puts: [{ key: pair.key1, value: { ...pair.veth1, enabled: false } }] },
    ]) {
      const dry = await agent.request('POST', '/v1/plan', JSON.stringify(change));
      const entries = (dry.json as { summary: { entries: { key: string; change: string; why: string }[] } })
        .summary.entries;
      const routeEntry = entries.find((e) => e.key === routeKey);
      assert.ok(routeEntry, `${JSON.stringify(change)}: ${dry.text}`);
      assert.match(routeEntry.why, /veth1/, dry.text);
    }
    // veth2 moved to a namespace that does not exist yet: the pair is made again once the plan has
    // made that namespace, and the route through veth1 with it (a later round of assumptions sees
    // what a first one saw only removed), in words, not fact keys.
    const moved = await agent.request(
      'POST',
      '/v1/plan',
      JSON.stringify({
        puts: [
          {
            key: pair.key2,
            value: { ...pair.veth2, namespace: { type: 'NAMED_NS', name: `${pair.ns2}x` } },
          },
        ],
      }),
    );
    const movedRoute = (
      moved.json as { summary: { entries: { key: string; change: string; why: string }[] } }
    ).summary.entries.find((e) => e.key === routeKey);
    assert.equal(movedRoute?.change, 'recreate', moved.text);
    assert.match(
      movedRoute?.why ?? '',
      /^interface veth1Name in named namespace \S+ came up anew/,
      moved.text,
    );
    // veth1's address on the gateway's network replaced by another: the route would wait for it.
    const readdressed = await agent.request(
      'POST',
      '/v1/plan',
      JSON.stringify({
        puts: [{ key: pair.key1, value: { ...pair.veth1, ip_addresses: ['10.55.0.1/24'] } }],
      }),
    );
    const waiting = (
      readdressed.json as { summary: { entries: { key: string; change: string; why: string }[] } }
    ).summary.entries.find((e) => e.key === routeKey);
    assert.equal(waiting?.change, 'remove', readdressed.text);
    assert.match(waiting?.why ?? '', /stays pending: .*192\.168\.22\.2/, readdressed.text);
    // Applied, the route waits; a plan of what makes it possible again says it would be made.
    for (const [away, back] of [
      [{ ip_addresses: ['10.55.0.1/24'] }, {}],
      [{ enabled: false }, {}],
    ] as const) {
      const put = async (extra: object): Promise<void> => {
        const value = JSON.stringify({ ...pair.veth1, ...extra });
        assert.equal((await netnsctl([...base, 'put', 'interface/veth1', '-'], value)).code, 0);
      };
      await put(away);
      await agent.until([routeKey], 'pending');
      const dry = await agent.request(
        'POST',
        '/v1/plan',
        JSON.stringify({ puts: [{ key: pair.key1, value: { ...pair.veth1, ...back } }] }),
      );
      const made = (
        dry.json as { summary: { entries: { key: string; change: string; why: string }[] } }
      ).summary.entries.find((e) => e.key === routeKey);
      assert.equal(made?.change, 'create', `${JSON.stringify(away)}: ${dry.text}`);
      await put(back);
      await agent.until([routeKey], 'configured');
    }
    // veth1 renamed in place: the route is made again through the new name, not left waiting.
    const renamed = await agent.request(
      'POST',
      '/v1/plan',
      JSON.stringify({ puts: [{ key: pair.key1, value: { ...pair.veth1, host_if_name: 'veth1Renamed' } }] }),
    );
    const throughRenamed = (
      renamed.json as { summary: { entries: { key: string; change: string; why: string }[] } }
    ).summary.entries.find((e) => e.key === routeKey);
    assert.ok(throughRenamed && throughRenamed.change !== 'remove', renamed.text);
    assert.doesNotMatch(throughRenamed.why, /pending/, renamed.text);
    assert.equal((await netnsctl([...base, 'del', 'route/r1'])).code, 0);

    // The same file planned: the plan of the valid item is shown, and the invalid one makes it exit 5.
    const planMixed = await netnsctl([...base, 'plan', '-f', mixed, '-o', 'table']);
    assert.equal(planMixed.code, 5, `${planMixed.stdout}${planMixed.stderr}`);
    assert.match(planMixed.stdout, /^\S*broken\s+invalid\s+mtu/m);
    assert.match(planMixed.stderr, /1 invalid item/);
    // As JSON: one `invalid` list holding it, not a second, empty one inside the plan.
    const planMixedJson = await netnsctl([...base, 'plan', '-f', mixed, '-o', 'json']);
    assert.equal(planMixedJson.code, 5);
    const mixedPlan = JSON.parse(planMixedJson.stdout) as { invalid: { key?: string }[]; plan: object };
    assert.equal(mixedPlan.invalid.length, 1, planMixedJson.stdout);
    assert.match(mixedPlan.invalid[0]?.key ?? '', /broken/);
    assert.equal('invalid' in mixedPlan.plan, false, planMixedJson.stdout);

    const partial = await netnsctl([...base, 'apply', '-f', mixed]);
    assert.equal(partial.code, 5, `${partial.stdout}${partial.stderr}`);
    assert.match(partial.stderr, /invalid .*broken.*mtu/);
    assert.match(partial.stdout, /stored 1 of 2 items \(1 invalid, 0 failed to store\)/);
    await eventually(() => assert.equal(ipLink(pair.ns1, 'veth1Name')?.mtu, 1300));

    // Two items claiming one host name: the agent's dry run refuses the second, which is not stored.
    const existing = (name: string) => ({
      kind: 'interface',
      name,
      type: 'EXISTING',
      host_if_name: 'kclaim0',
      namespace: { type: 'NAMED_NS', name: pair.ns1 },
    });
    const claims = file('claims.json', JSON.stringify([existing('ex1'), existing('ex2')]));
    const claimed = await netnsctl([...base, 'apply', '-f', claims]);
    assert.equal(claimed.code, 5, `${claimed.stdout}${claimed.stderr}`);
    assert.match(claimed.stdout, /stored 1 of 2 items \(1 invalid, 0 failed to store\)/);
    assert.match(claimed.stderr, /invalid \S+\/ex2: .*kclaim0/);
    assert.equal((await netnsctl([...base, 'get', 'interface/ex2'])).code, 2, 'not stored');
    assert.equal((await netnsctl([...base, 'del', 'interface/ex1'])).code, 0);

    const missing = await netnsctl([...base, 'apply', '-f', path.join(dir, 'no-such-file.yaml')]);
    assert.equal(missing.code, 2);
    for (const key of ['interface/veth1', 'interface/veth2'])
      assert.equal((await netnsctl([...base, 'del', key])).code, 0);
    await eventually(() => assert.equal(ipLink(pair.ns2, 'veth2Name'), undefined));

    // --wait on an item that stays pending (its VETH peer is not configured): exit 6 when the time
    // is up, saying which and why.
    const lonely = file(
      'lonely.json',
      JSON.stringify([{ kind: 'interface', name: 'veth1', value: pair.veth1 }]),
    );
    const waited = await netnsctl([
      ...base,
      'apply',
      '-f',
      lonely,
      '--wait',
      '--wait-timeout',
      '1.5',
      '-o',
      'json',
    ]);
    assert.equal(waited.code, 6, `${waited.stdout}${waited.stderr}`);
    assert.match(waited.stderr, new RegExp(`not configured ${pair.key1}: pending: .*veth2`));
    assert.match(waited.stderr, /1 item not configured within 1.5 s/);
    const waitedData = JSON.parse(waited.stdout) as {
      stored: number;
      wait: { notConfigured: { key: string }[] };
    };
    assert.equal(waitedData.stored, 1, 'one JSON document: what was stored and what the wait saw');
    assert.deepEqual(
      waitedData.wait.notConfigured.map((n) => n.key),
      [pair.key1],
    );
    assert.equal((await netnsctl([...base, 'apply', '-f', lonely, '--wait-timeout', 'soon'])).code, 2);
    assert.equal((await netnsctl([...base, 'del', 'interface/veth1'])).code, 0);

    // Failed with no retry planned (the kernel refuses the source address for good): --wait does
    // not wait out its time.
    const ns = `${label}w`;
    /** apply --wait of a file whose items cannot all be configured: exit 6, saying so, well before 30 s. */
    const waitEndsEarly = async (f: string, said: RegExp): Promise<void> => {
      const startedAt = Date.now();
      const waited = await netnsctl([...base, 'apply', '-f', f, '--wait']);
      assert.equal(waited.code, 6, `${waited.stdout}${waited.stderr}`);
      assert.match(waited.stderr, said);
      assert.ok(Date.now() - startedAt < 15_000, `${Date.now() - startedAt} ms`);
    };
    const refused = file(
      'refused.yaml',
      [
        `kind: interface\nname: wlo\ntype: LOOPBACK\nenabled: true\nnamespace: {type: NAMED_NS, name: ${ns}}`,
        `kind: route\nname: wr\nnamespace: {type: NAMED_NS, name: ${ns}}\ninterface: wlo\n` +
          'dst_ip_addr: 10.99.0.0/16\nsrc_ip_addr: 10.250.250.250',
      ].join('\n---\n'),
    );
    try {
      await waitEndsEarly(refused, /1 item not configured: invalid, failed with no retry planned/);
    } finally {
      assert.equal((await netnsctl([...base, 'del', '-f', refused])).code, 0);
    }

    // A VETH pair one end of which takes a host name another program's link has: that end fails
    // for good, the other waits for it, and so do a route and an ARP entry on that other end;
    // --wait does not wait out its time either.
    const foreign = `${label.slice(0, 8)}f`;
    ip(null, ['link', 'add', foreign, 'type', 'veth', 'peer', 'name', `${foreign}p`]);
    const blocked = file(
      'blocked.yaml',
      [
        `kind: interface\nname: wv1\ntype: VETH\nenabled: true\nhost_if_name: ${foreign}\nveth: {peer_if_name: wv2}`,
        `kind: interface\nname: wv2\ntype: VETH\nenabled: true\nnamespace: {type: NAMED_NS, name: ${ns}}\n` +
          'veth: {peer_if_name: wv1}\nip_addresses: [10.98.0.1/24]',
        `kind: route\nname: wvr\nnamespace: {type: NAMED_NS, name: ${ns}}\ninterface: wv2\n` +
          'dst_ip_addr: 10.97.0.0/16\ngw_addr: 10.98.0.2',
        `kind: arp\nname: wva\nnamespace: {type: NAMED_NS, name: ${ns}}\ninterface: wv2\n` +
          'ip_addr: 10.98.0.2\nhw_address: 02:00:00:00:98:02',
      ].join('\n---\n'),
    );
    try {
      await waitEndsEarly(
        blocked,
        /4 items not configured: invalid, failed with no retry planned, or waiting/,
      );
    } finally {
      assert.equal((await netnsctl([...base, 'del', '-f', blocked])).code, 0);
      ipTry(null, ['link', 'del', foreign]);
    }

    // An item in the namespace of a process that exited: another process never stands for it.
    const exiting = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
    const inExited = file(
      'exited.yaml',
      `kind: interface\nname: wgl\ntype: LOOPBACK\nenabled: true\nnamespace: {type: PID_REF_NS, pid: ${exiting.pid}}`,
    );
    try {
      await eventually(() =>
        assert.notEqual(readlinkSync(`/proc/${exiting.pid}/ns/net`), readlinkSync('/proc/self/ns/net')),
      );
      assert.equal((await netnsctl([...base, 'apply', '-f', inExited, '--wait'])).code, 0);
      exiting.kill('SIGKILL');
      await agent.until([`/vnf-agent/${label}/linux/config/v1/interface/wgl`], 'pending');
      await waitEndsEarly(inExited, /\(the process first seen as pid \d+ has exited; a new process/);
    } finally {
      exiting.kill('SIGKILL');
      assert.equal((await netnsctl([...base, 'del', '-f', inExited])).code, 0);
    }
  });

  test("plan: a process's namespace and a namespace file that exist are used as they are (created, not pending)", async () => {
    const proc = spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' });
    try {
      const pid = proc.pid!;
      // unshare has its own namespace once /proc/PID/ns/net differs from ours (it execs sleep after).
      await eventually(() =>
        assert.notEqual(readlinkSync(`/proc/${pid}/ns/net`), readlinkSync('/proc/self/ns/net')),
      );
      const loopback = (name: string, namespace: Record<string, unknown>) => ({
        kind: 'interface',
        name,
        type: 'LOOPBACK',
        enabled: true,
        namespace,
      });
      const f = file(
        'pid-file.json',
        JSON.stringify([
          loopback('lpid', { type: 'PID_REF_NS', pid }),
          loopback('lfile', { type: 'FILE_REF_NS', filepath: `/proc/${pid}/ns/net` }),
        ]),
      );
      const plan = await netnsctl([...base, 'plan', '-f', f, '-o', 'json']);
      assert.equal(plan.code, 0, plan.stderr);
      assert.deepEqual(
        planEntries(plan.stdout)
          .map((e) => [e.key.split('/').at(-1), e.change])
          .sort(),
        [
          ['lfile', 'create'],
          ['lpid', 'create'],
        ],
        plan.stdout,
      );
    } finally {
      proc.kill('SIGKILL');
    }
  });

  test('plan: a named namespace that exists is used as it is, and an EXISTING link in it is configured', async () => {
    const ns = `e2cx${tag(4)}`;
    const host = `kx${tag(4)}`;
    ip(null, ['netns', 'add', ns]);
    try {
      ip(ns, ['link', 'add', host, 'type', 'veth', 'peer', 'name', `${host}p`]);
      ip(ns, ['link', 'set', host, 'up']);
      const item = {
        kind: 'interface',
        name: 'ex9',
        type: 'EXISTING',
        enabled: true,
        host_if_name: host,
        ip_addresses: ['10.77.0.1/24'],
        namespace: { type: 'NAMED_NS', name: ns },
      };
      const f = file('existing-ns.json', JSON.stringify([item]));
      const plan = await netnsctl([...base, 'plan', '-f', f, '-o', 'json']);
      assert.equal(plan.code, 0, plan.stderr);
      const entries = planEntries(plan.stdout);
      assert.deepEqual(
        entries.map((e) => [e.key, e.change]),
        [[`/vnf-agent/${label}/linux/config/v1/interface/ex9`, 'create']],
        plan.stdout,
      );
      // The engine's actions do not say it either.
      const actions = (JSON.parse(plan.stdout) as { plan: { actions: { key: string }[] } }).plan.actions;
      assert.ok(!actions.some((a) => a.key === `named-namespace/${ns}`), plan.stdout);
      assert.equal(ipTry(ns, ['-j', 'addr', 'show', 'dev', host]).stdout.includes('10.77.0.1'), false);

      // A VETH end whose host name a link of someone else's holds there: the plan reads it too.
      const pair = file(
        'taken-ns.json',
        JSON.stringify([
          {
            kind: 'interface',
            name: 'tk1',
            type: 'VETH',
            host_if_name: host,
            namespace: { type: 'NAMED_NS', name: ns },
            veth: { peer_if_name: 'tk2' },
          },
          {
            kind: 'interface',
            name: 'tk2',
            type: 'VETH',
            namespace: { type: 'NAMED_NS', name: ns },
            veth: { peer_if_name: 'tk1' },
          },
        ]),
      );
      const taken = await netnsctl([...base, 'plan', '-f', pair, '-o', 'json']);
      assert.equal(taken.code, 0, taken.stderr);
      const why = new Map(
        planEntries(taken.stdout).map((e) => [e.key.slice(e.key.lastIndexOf('/') + 1), e.why]),
      );
      assert.match(
        why.get('tk1') ?? '',
        new RegExp(`would fail: ${host} already exists there`),
        taken.stdout,
      );
      assert.match(why.get('tk2') ?? '', /would stay pending: its VETH peer tk1 would fail/, taken.stdout);
    } finally {
      ipTry(null, ['netns', 'del', ns]);
    }
  });

  test("plan: a route or ARP entry where another program's is says it would fail, and apply leaves that one alone", async () => {
    const ns = `e2cf${tag(4)}`;
    const host = `kf${tag(4)}`;
    // An EXISTING link (some kernels have no dummy type): the agent opens the namespace for it.
    const existing = {
      kind: 'interface',
      name: 'df1',
      type: 'EXISTING',
      enabled: true,
      host_if_name: host,
      ip_addresses: ['10.78.0.1/24'],
      namespace: { type: 'NAMED_NS', name: ns },
    };
    const route = {
      kind: 'route',
      name: 'rf1',
      namespace: { type: 'NAMED_NS', name: ns },
      interface: 'df1',
      dst_ip_addr: '10.79.0.0/24',
    };
    const arp = {
      kind: 'arp',
      name: 'af1',
      namespace: { type: 'NAMED_NS', name: ns },
      interface: host,
      ip_addr: '10.78.0.9',
      hw_address: '02:00:00:00:78:09',
      state: { type: 'PERMANENT' },
    };
    try {
      ip(null, ['netns', 'add', ns]);
      ip(ns, ['link', 'add', host, 'type', 'veth', 'peer', 'name', `${host}p`]);
      const put = await netnsctl([...base, 'apply', '-f', file('foreign.json', JSON.stringify([existing]))]);
      assert.equal(put.code, 0, put.stderr);
      await eventually(() => assert.ok(ipLink(ns, host)?.flags.includes('UP'), 'the link is up'));
      // Another program's route and static entry, at the places the items would take.
      ip(ns, ['route', 'add', '10.79.0.0/24', 'dev', host, 'proto', 'static']);
      ip(ns, ['neigh', 'add', '10.78.0.9', 'lladdr', '02:00:00:00:99:99', 'dev', host, 'nud', 'permanent']);
      const f = file('foreign-items.json', JSON.stringify([route, arp]));
      const plan = await netnsctl([...base, 'plan', '-f', f, '-o', 'json']);
      assert.equal(plan.code, 0, plan.stderr);
      const entries = planEntries(plan.stdout);
      const why = (kind: string, name: string): string | undefined =>
        entries.find((e) => e.key === `/vnf-agent/${label}/linux/config/v1/${kind}/${name}`)?.why;
      assert.match(
        why('route', 'rf1') ?? '',
        /^new; would fail: route 10\.79\.0\.0\/24 \(table 254, metric 0\) in .* is a route of protocol 4, not made by this agent/,
        plan.stdout,
      );
      assert.match(
        why('arp', 'af1') ?? '',
        /^new; would fail: ARP entry 10\.78\.0\.9 on kf\w+ in .* is a static \(permanent\) entry not made by this agent \(lladdr 02:00:00:00:99:99\)/,
        plan.stdout,
      );
      // As planned: both fail, and the kernel keeps the other program's.
      const applied = await netnsctl([...base, 'apply', '-f', f]);
      assert.equal(applied.code, 0, applied.stderr);
      await eventually(async () => {
        for (const key of ['route/rf1', 'arp/af1']) {
          const status = await netnsctl([...base, 'status', key, '-o', 'json']);
          assert.equal((JSON.parse(status.stdout) as { state: string }).state, 'failed', status.stdout);
        }
      });
      assert.match(ipTry(ns, ['neigh', 'show', '10.78.0.9', 'dev', host]).stdout, /02:00:00:00:99:99/);
      assert.match(ipTry(ns, ['route', 'show', '10.79.0.0/24']).stdout, /proto static/);
    } finally {
      for (const key of ['route/rf1', 'arp/af1', 'interface/df1']) await netnsctl([...base, 'del', key]);
      ipTry(null, ['netns', 'del', ns]);
    }
  });

  test('report DIR: a support bundle', async () => {
    const out = path.join(dir, 'report');
    // Another label's key in the same store: not this agent's, not in its bundle.
    const otherKey = `/vnf-agent/other${label}/linux/config/v1/interface/x`;
    const other = await netnsctl(
      ['--store', path.join(dir, 'store.db'), '--label', `other${label}`, 'put', otherKey, '-'],
      JSON.stringify({ name: 'x', type: 'DUMMY' }),
    );
    assert.equal(other.code, 0, other.stderr);
    // Something of the agent's in a named namespace: its book of namespaces used is in the bundle.
    for (const [key, value] of [
      [pair.key1, pair.veth1],
      [pair.key2, pair.veth2],
    ] as const)
      assert.equal((await netnsctl([...base, 'put', key, '-'], JSON.stringify(value))).code, 0);
    await agent.until([pair.key1, pair.key2], 'configured');
    await eventually(() => assert.ok(existsSync(path.join(dir, `${label}.namespaces.json`))));
    const report = await netnsctl([...base, 'report', out]);
    assert.equal(report.code, 0, report.stderr);
    for (const f of [
      'status.json',
      'history.json',
      'config.json',
      'kernel.json',
      'metrics.txt',
      'about.json',
      'agent.json',
      'agent-logs.jsonl',
    ]) {
      assert.ok(existsSync(path.join(out, f)), `${f} in the bundle`);
    }
    assert.match(readFileSync(path.join(out, 'metrics.txt'), 'utf8'), /netns_agent_transactions_total/);
    const about = JSON.parse(readFileSync(path.join(out, 'about.json'), 'utf8')) as {
      label: string;
      stateDir: string;
    };
    assert.equal(about.label, label);
    // The agent's state files of its label, beside its store here.
    assert.equal(about.stateDir, dir);
    assert.ok(
      readdirSync(path.join(out, 'state')).every((name) => name.startsWith(`${label}.`)),
      readdirSync(path.join(out, 'state')).join(' '),
    );
    assert.ok(existsSync(path.join(out, 'state', `${label}.namespaces.json`)), 'the namespaces used');
    // An earlier bundle is never overwritten.
    const again = await netnsctl([...base, 'report', out]);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /is not empty: give a new directory/);
    const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')) as {
      body: { key: string }[];
    };
    assert.ok(Array.isArray(config.body), JSON.stringify(config));
    assert.deepEqual(
      config.body.filter((entry) => !entry.key.startsWith(`/vnf-agent/${label}/`)).map((entry) => entry.key),
      [],
      "only this agent's keys",
    );
    JSON.parse(readFileSync(path.join(out, 'kernel.json'), 'utf8'));
    const agentInfo = JSON.parse(readFileSync(path.join(out, 'agent.json'), 'utf8')) as {
      body: { version: string; label: string };
    };
    assert.equal(agentInfo.body.label, label);
    assert.match(agentInfo.body.version, /^\d+\.\d+\.\d+/);
    const logs = readFileSync(path.join(out, 'agent-logs.jsonl'), 'utf8').trim().split('\n');
    assert.ok(
      logs.some((line) => (JSON.parse(line) as { msg?: string }).msg === 'started'),
      'the agent log is in the bundle',
    );
    // The agent not answering: what can be read without it is written (the configuration from
    // --store), and exit 3 says the agent did not answer.
    // and the kernel, read by netnsctl itself, with this label's marks.
    const downOut = path.join(dir, 'report-down');
    const server = `http://127.0.0.1:${await freePort()}`;
    const store = path.join(dir, 'store.db');
    for (const [key, value] of [
      [pair.key1, pair.veth1],
      [pair.key2, pair.veth2],
    ] as const)
      assert.equal((await netnsctl([...base, 'put', key, '-'], JSON.stringify(value))).code, 0);
    await agent.until([pair.key1, pair.key2], 'configured');
    const down = await netnsctl(['--server', server, '--label', label, '--store', store, 'report', downOut]);
    for (const key of [pair.key1, pair.key2]) await netnsctl([...base, 'del', key]);
    assert.equal(down.code, 3, `${down.stdout}${down.stderr}`);
    assert.match(down.stderr, /the agent did not answer .*the report holds what could be read without it/);
    const downConfig = JSON.parse(readFileSync(path.join(downOut, 'config.json'), 'utf8')) as {
      source?: string;
    };
    assert.equal(downConfig.source, 'store');
    const downKernel = JSON.parse(readFileSync(path.join(downOut, 'kernel.json'), 'utf8')) as {
      source?: string;
      body?: { namespace: string; links: { name: string; managed?: string }[] }[];
    };
    assert.match(downKernel.source ?? '', /read by netnsctl/);
    const namespaceOf = (id: string) => downKernel.body?.find((n) => n.namespace === id);
    assert.ok(
      namespaceOf('default')?.links.some((l) => l.name === 'lo'),
      JSON.stringify(downKernel).slice(0, 500),
    );
    assert.equal(
      namespaceOf(`named/${pair.ns1}`)?.links.find((l) => l.name === 'veth1Name')?.managed,
      pair.veth1.name,
      'the managed mark is read for --label',
    );
    const downStatus = JSON.parse(readFileSync(path.join(downOut, 'status.json'), 'utf8')) as {
      error?: string;
    };
    assert.match(downStatus.error ?? '', /cannot reach the agent/);
    const downAbout = JSON.parse(readFileSync(path.join(downOut, 'about.json'), 'utf8')) as {
      agentDidNotAnswer?: string;
    };
    assert.match(downAbout.agentDidNotAnswer ?? '', /cannot reach the agent/);
    assert.match(readFileSync(path.join(downOut, 'metrics.txt'), 'utf8'), /^# not collected: /);
    assert.ok(
      existsSync(path.join(downOut, 'state', `${label}.namespaces.json`)),
      'state files, from --store',
    );
    // A directory the kernel cannot make (Node's recursive mkdir spun for ever there).
    const proc = await netnsctl([...base, 'report', '/proc/netns-agent-nope/report']);
    assert.equal(proc.code, 2, proc.stderr);
    assert.match(proc.stderr, /cannot make the report directory .*ENOENT/);
  });

  test('a second netns-agent of the same label on this host is refused at its start (another store, another port)', async () => {
    const agentBin = fileURLToPath(new URL('../../../bin/netns-agent', import.meta.url));
    const second = spawnSync(
      agentBin,
      [
        '--label',
        label,
        '--store',
        path.join(dir, 'second.db'),
        '--http',
        `127.0.0.1:${await freePort()}`,
        '--no-docker',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(second.status, 1, `${second.stdout}${second.stderr}`);
    assert.match(
      `${second.stdout}${second.stderr}`,
      new RegExp(`another agent of label ${label} runs on this host \\(pid ${agent.child.pid}`),
    );
    assert.equal(existsSync(path.join(dir, 'second.db')), false, 'it opened nothing');
    const status = await netnsctl([...base, 'status', '-o', 'json']);
    assert.equal(status.code, 0, 'the first one goes on');
  });

  test('netns-agent refuses a bad --status-interval before it opens anything (exit 2)', () => {
    const agentBin = fileURLToPath(new URL('../../../bin/netns-agent', import.meta.url));
    for (const value of ['5', 'soon', '1.5e3x']) {
      const run = spawnSync(agentBin, ['--status-interval', value, '--store', path.join(dir, 'never.db')], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(run.status, 2, `${value}: ${run.stdout}${run.stderr}`);
      assert.match(run.stderr, /--status-interval/);
    }
    assert.equal(existsSync(path.join(dir, 'never.db')), false, 'no store was created');
  });

  test('errors: invalid value -> 5, bad key -> 2, unreachable agent -> 3, wrong token -> 4, bad usage -> 2', async () => {
    const invalid = await netnsctl(
      [...base, 'put', 'interface/veth1', '-'],
      JSON.stringify({ ...pair.veth1, mtu: 99_999 }),
    );
    assert.equal(invalid.code, 5, invalid.stderr);
    assert.match(invalid.stderr, /invalid value for .*veth1/);
    assert.match(invalid.stderr, /mtu: /);
    const notJson = await netnsctl([...base, 'put', 'interface/veth1', '-'], '{"mtu": ');
    assert.equal(notJson.code, 5, notJson.stderr);
    // Asked for data: the field errors are data too, on standard output.
    const asJson = await netnsctl(
      [...base, '-o', 'json', 'put', 'interface/veth1', '-'],
      JSON.stringify({ ...pair.veth1, mtu: 99_999 }),
    );
    assert.equal(asJson.code, 5, asJson.stderr);
    const data = JSON.parse(asJson.stdout) as { key: string; errors: { field: string }[] };
    assert.match(data.key, /interface\/veth1$/);
    assert.deepEqual(
      data.errors.map((e) => e.field),
      ['mtu'],
    );
    // Another label's key: its delete is refused as its put is (exit 5, key and field errors).
    const foreign = `/vnf-agent/${label}x/linux/config/v1/interface/veth1`;
    const del = await netnsctl([...base, '-o', 'json', 'del', foreign]);
    assert.equal(del.code, 5, del.stderr);
    const delData = JSON.parse(del.stdout) as { key: string; errors: { field: string; message: string }[] };
    assert.equal(delData.key, foreign);
    assert.match(delData.errors[0]?.message ?? '', new RegExp(`belongs to agent label ${label}x`));

    for (const args of [
      ['put', 'veth1', '-'],
      ['del', 'bridge/b1'],
      ['status', 'nokey'],
      ['get', 'a/b/c'],
    ]) {
      const bad = await netnsctl([...base, ...args], '{}');
      assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.code} ${bad.stderr}`);
      assert.match(bad.stderr, /is not a key/);
    }
    const unknownStatus = await netnsctl([...base, 'status', 'interface/nobody']);
    assert.equal(unknownStatus.code, 2);

    const port = await freePort();
    for (const args of [['status'], ['list'], ['put', 'interface/veth1', '-'], ['dump'], ['watch']]) {
      const down = await netnsctl(['--server', `http://127.0.0.1:${port}`, ...args], '{}');
      assert.equal(down.code, 3, `${args.join(' ')}: ${down.code} ${down.stderr}`);
      assert.match(down.stderr, /cannot reach the agent/);
    }
    // Deletions that never left (the connection refused) are not deleted, not "maybe deleted".
    const delDown = await netnsctl([
      '--server',
      `http://127.0.0.1:${port}`,
      'del',
      'interface/a1',
      'interface/a2',
    ]);
    assert.equal(delDown.code, 3, delDown.stderr);
    assert.match(delDown.stderr, /not deleted \(2\)/);
    assert.doesNotMatch(delDown.stderr, /maybe deleted/);

    const refused = await netnsctl([
      '--server',
      agent.server,
      '--label',
      label,
      '--token',
      'wrong',
      'status',
    ]);
    assert.equal(refused.code, 4, refused.stderr);
    const noToken = await netnsctl(['--server', agent.server, 'list']);
    assert.equal(noToken.code, 4);

    const usage = await netnsctl(['frobnicate']);
    assert.equal(usage.code, 2);
    assert.equal((await netnsctl(['-o', 'xml', 'status'])).code, 2, 'a value not among the choices');
    const missingArg = await netnsctl([...base, 'put', 'interface/veth1']);
    assert.equal(missingArg.code, 2);
    const help = await netnsctl(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /apply/);
  });
});
