/**
 * `kill -9` of the agent, with the full W1 workload (4000 items) on the embedded store.
 *
 * 1. Killed in the middle of the big transaction (as soon as the hub has reported 200 new W1 links),
 *    then started again: it converges to exactly W1 (every item configured; in the kernel exactly
 *    the wanted links, addresses, routes and ARP entries; every A end paired with its B end; no link
 *    of ours or named like ours beyond those), and unmanaged links, addresses, routes and neighbours
 *    in the same namespaces (one of them a link marked by another agent label) are exactly as before.
 * 2. Killed with everything applied, half of the pairs deleted from the store while it is dead, then
 *    started again: the deleted half is gone from the kernel, the other half kept as it was (same
 *    ifindexes), unmanaged objects untouched.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import {
  AgentProcess,
  Cleanup,
  deleteNamespaces,
  eventually,
  kernelWriteOps,
  tag,
} from '../helpers/agent.js';
import {
  addNamespaces,
  checkW1Kernel,
  deleteItems,
  ifindexes,
  incompleteHistory,
  itemsOfPairs,
  linkState,
  LinkMonitor,
  mapDifferences,
  operationCounts,
  operationsTotal,
  putItems,
  w1Config,
  type W1Config,
} from '../helpers/fault.js';
import { ip, ipJson, skipUnlessRoot } from '../helpers/kernel.js';

const PAIRS = 1000;
const SPREAD = 50;
const KILL_AFTER_LINKS = 200;

interface Setup {
  config: W1Config;
  storeFile: string;
  all: string[];
  /** Unmanaged objects: namespace and link name of each, to compare before and after. */
  unmanaged: [string, string][];
}

/**
 * W1 namespaces made by the test, plus unmanaged objects in them: a VETH pair from the hub into
 * namespace 0 with addresses, a route and a permanent neighbour; a link in namespace 1 whose alias
 * claims it for another agent label; a veth pair inside namespace 2 named like nothing of ours.
 */
function setup(cleanup: Cleanup, prefix: string, pairs = PAIRS, spread = SPREAD): Setup {
  const config = w1Config(`${prefix}${tag()}`, pairs, spread);
  const all = [config.hub, ...config.namespaces];
  addNamespaces(all);
  cleanup.add(() => deleteNamespaces(...all));
  const dir = mkdtempSync(path.join(tmpdir(), 'netns-fault-kill9-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  const [n0, n1, n2] = config.namespaces as [string, string, string];
  ip(config.hub, ['link', 'add', 'um0', 'type', 'veth', 'peer', 'name', 'um1', 'netns', n0]);
  ip(config.hub, ['addr', 'add', '10.250.0.1/24', 'dev', 'um0']);
  ip(config.hub, ['link', 'set', 'um0', 'up']);
  ip(n0, ['addr', 'add', '10.250.0.2/24', 'dev', 'um1']);
  ip(n0, ['link', 'set', 'um1', 'up']);
  ip(n0, ['route', 'add', '10.251.0.0/16', 'via', '10.250.0.1', 'dev', 'um1']);
  ip(n0, ['neigh', 'add', '10.250.0.9', 'lladdr', '02:aa:00:00:00:09', 'dev', 'um1', 'nud', 'permanent']);
  ip(n1, ['link', 'add', 'um5', 'type', 'veth', 'peer', 'name', 'um2']);
  ip(n1, ['link', 'set', 'um5', 'alias', `netns-agent:other${config.label}:x5`]);
  ip(n2, ['link', 'add', 'um3', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'um4']);
  ip(n2, ['addr', 'add', '10.250.1.1/24', 'dev', 'um3']);
  // The snapshot of the unmanaged objects must not catch um0/um1 half up: the kernel turns the
  // carrier on (linkwatch) and adds the IPv6 link-local address after `ip link set up` returns.
  settled(() => linkReady(config.hub, 'um0') && linkReady(n0, 'um1'), 'um0/um1 up with carrier');
  return {
    config,
    storeFile: path.join(dir, 'store.db'),
    all,
    unmanaged: [
      [config.hub, 'um0'],
      [n0, 'um1'],
      [n1, 'um5'],
      [n1, 'um2'],
      [n2, 'um3'],
      [n2, 'um4'],
    ],
  };
}

/** Up with carrier and its IPv6 link-local address. */
function linkReady(ns: string, name: string): boolean {
  const [link] = ipJson<{ operstate?: string; addr_info?: { family: string; scope: string }[] }[]>(ns, [
    'addr',
    'show',
    'dev',
    name,
  ]);
  return (
    link?.operstate === 'UP' && (link.addr_info ?? []).some((a) => a.family === 'inet6' && a.scope === 'link')
  );
}

/** Waits (synchronously: setup is) until `ready`, up to 10 s. */
function settled(ready: () => boolean, what: string): void {
  const deadline = Date.now() + 10_000;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`not settled in 10 s: ${what}`);
    Atomics.wait(nap, 0, 0, 50);
  }
}

function unmanagedState(s: Setup): string[] {
  return s.unmanaged.map(([ns, name]) => `${ns}/${name}\n${linkState(ns, name)}`);
}

/** What the kernel holds of W1 at a moment, in numbers. */
function w1Counts(config: W1Config): string {
  const hub = ipJson<{ ifname: string; ifalias?: string }[]>(config.hub, ['link', 'show']).filter((l) =>
    /^x\d+$/.test(l.ifname),
  );
  const marked = hub.filter((l) => l.ifalias?.startsWith(`netns-agent:${config.label}:`)).length;
  const addresses = ipJson<unknown[]>(config.hub, ['-4', 'addr', 'show']).length;
  let routes = 0;
  for (const ns of config.namespaces)
    routes += ipJson<unknown[]>(ns, ['route', 'show', 'proto', '144']).length;
  return `${hub.length} A ends (${marked} marked), ${addresses} hub links with IPv4, ${routes} routes`;
}

/** Puts every item and kills the agent with SIGKILL once the hub has reported `links` new A ends. */
async function putAndKill(s: Setup, monitor: LinkMonitor, agent: AgentProcess, links: number): Promise<void> {
  const seen = new Set<string>();
  const killed = new Promise<void>((resolve) => {
    monitor.on((event) => {
      if (event.deleted || !/^x\d+$/.test(event.name)) return;
      seen.add(event.name);
      if (seen.size >= links && agent.running) {
        agent.child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await putItems(s.storeFile, s.config.items);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    killed,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not ${links} new links within 60 s`)), 60_000);
    }),
  ]).finally(() => clearTimeout(timer));
  await agent.stop('SIGKILL');
}

describe('kill -9 of the agent', { skip: skipUnlessRoot() }, () => {
  let cleanup = new Cleanup();
  afterEach(async () => {
    await cleanup.run();
    cleanup = new Cleanup();
  });

  test('in the middle of the W1 transaction: restart converges to exactly W1, unmanaged untouched', async () => {
    const s = setup(cleanup, 'flk');
    const { config } = s;
    const unmanagedBefore = unmanagedState(s);
    const monitor = await LinkMonitor.start([config.hub]);
    cleanup.add(() => monitor.stop());
    let agent = await AgentProcess.start({ label: config.label, store: s.storeFile });
    cleanup.add(() => agent.stop('SIGKILL'));
    const t0 = Date.now();
    await putAndKill(s, monitor, agent, KILL_AFTER_LINKS);
    const atKill = w1Counts(config);
    console.log(`# killed ${Date.now() - t0} ms after the put: ${atKill}`);
    assert.throws(() => checkW1Kernel(config), 'the kill left W1 unfinished');

    const t1 = Date.now();
    agent = await AgentProcess.start({ label: config.label, store: s.storeFile });
    await agent.until(config.keys, 'configured', 60_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${agent.logText()}`);
    });
    const ops = operationCounts(await agent.history());
    console.log(`# restarted: all configured in ${Date.now() - t1} ms; operations ${JSON.stringify(ops)}`);
    checkW1Kernel(config);
    assert.deepEqual(unmanagedState(s), unmanagedBefore, 'unmanaged objects untouched');
  });

  test('half the config deleted while the agent is dead: that half removed, the rest kept', async () => {
    const s = setup(cleanup, 'flh');
    const { config } = s;
    const unmanagedBefore = unmanagedState(s);
    let agent = await AgentProcess.start({ label: config.label, store: s.storeFile });
    cleanup.add(() => agent.stop('SIGKILL'));
    await putItems(s.storeFile, config.items);
    await agent.until(config.keys, 'configured', 120_000);
    checkW1Kernel(config);
    await agent.stop('SIGKILL');

    // Odd pairs: their B namespaces (odd indexes) are left with no item at all.
    const deleted = config.pairs.filter((p) => p.i % 2 === 1);
    const kept = config.pairs.filter((p) => p.i % 2 === 0);
    const deletedKeys = itemsOfPairs(config, deleted).map((i) => i.key);
    const keptKeys = itemsOfPairs(config, kept).map((i) => i.key);
    await deleteItems(s.storeFile, deletedKeys);
    const before = ifindexes(s.all);

    const t0 = Date.now();
    agent = await AgentProcess.start({ label: config.label, store: s.storeFile });
    await agent.until(keptKeys, 'configured', 60_000);
    const known = new Set((await agent.status()).filter((r) => r.state !== 'removed').map((r) => r.key));
    assert.deepEqual(
      deletedKeys.filter((k) => known.has(k)),
      [],
      'deleted keys unknown to the agent',
    );
    // The deleted half's links go (with their routes and ARP entries); the rest stays as it was.
    await eventually(() => checkW1Kernel(config, kept), 20_000);
    const ms = Date.now() - t0;
    const history = await agent.history();
    const writes = kernelWriteOps(history);
    const ops = operationCounts(history);
    console.log(`# restart removed ${deleted.length} pairs in ${ms} ms; operations ${JSON.stringify(ops)}`);
    const after = ifindexes(s.all);
    const keptLinks = new Map(
      [...before].filter(([k]) => {
        const name = k.slice(k.lastIndexOf('/') + 1);
        return !/^[xy]\d+$/.test(name) || Number(name.slice(1)) % 2 === 0;
      }),
    );
    assert.deepEqual(mapDifferences(keptLinks, after), [], 'kept links and unmanaged links: same ifindexes');
    assert.deepEqual(unmanagedState(s), unmanagedBefore, 'unmanaged objects untouched');
    // No operation but deletions since the start proves it; else the history must list every one.
    if ((await operationsTotal(agent, (kind) => kind !== 'delete')) > 0)
      assert.equal(incompleteHistory(history), undefined, 'the history holds every operation');
    assert.deepEqual(
      writes.filter((op) => op.kind !== 'delete').map((op) => `${op.kind} ${op.key}`),
      [],
      'the restart only deleted',
    );
  });
  test('killed in the middle, then the config deleted while it is dead: no half-made link left', async () => {
    const s = setup(cleanup, 'flz', 300, 10);
    const { config } = s;
    const monitor = await LinkMonitor.start([config.hub]);
    cleanup.add(() => monitor.stop());
    let agent = await AgentProcess.start({ label: config.label, store: s.storeFile });
    cleanup.add(() => agent.stop('SIGKILL'));
    await putAndKill(s, monitor, agent, 100);
    console.log(`# killed: ${w1Counts(config)}`);
    // Keep one pair, so that the hub is still a namespace the configuration uses.
    const [keep, ...rest] = config.pairs;
    await deleteItems(
      s.storeFile,
      itemsOfPairs(config, rest).map((i) => i.key),
    );
    agent = await AgentProcess.start({ label: config.label, store: s.storeFile });
    await agent.until(
      itemsOfPairs(config, [keep!]).map((i) => i.key),
      'configured',
      30_000,
    );
    await eventually(() => checkW1Kernel(config, [keep!]), 10_000).catch((error: unknown) => {
      throw new Error(`${String(error)}; ${w1Counts(config)}`);
    });
  });
});
