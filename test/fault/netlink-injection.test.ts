/**
 * Netlink errors at the socket layer, survived without losing events (issue 7, part B):
 *
 * - in process, on a real kernel (fresh namespaces): the injection seam itself (a refused write
 *   request leaves the kernel untouched and is retriable; an event socket that "overruns" drops
 *   events, reports ENOBUFS, and the link registry re-dumps to exactly what `ip` sees), and a REAL
 *   overrun (a tiny receive buffer, a burst of 600 link events while the event loop is blocked);
 * - through the agent process (bin/netns-agent with NETNS_AGENT_FAULTS): every event of the test's
 *   namespaces (and of its own) dropped with ENOBUFS, yet items get configured, out-of-band changes
 *   are healed (link down, address removed, route and neighbour removed, a VETH end deleted) and the
 *   interface index registry (status, /v1/events) stays right; and write requests refused with
 *   EBUSY/EAGAIN at random, yet every item ends configured, the retries visible in the history,
 *   /metrics and the log, and removal works under the same faults, the last items of a namespace
 *   included (its view stays open while a failed removal there awaits its retry).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  INJECTED_MESSAGE,
  KernelEventStream,
  LinkRegistry,
  NetlinkError,
  NetlinkFaultInjector,
  NetlinkHandle,
  parseFaultSpec,
  type Link,
  type LinkChange,
} from '../../src/netlink/index.js';
import {
  eventually as eventuallyFast,
  ip,
  ipJson,
  ipTry,
  skipUnlessRoot,
  withNamespaces,
} from '../helpers/kernel.js';
import {
  AgentProcess,
  checkVethEnds,
  followEvents,
  Cleanup,
  configKey,
  deleteNamespaces,
  eventually,
  ipLink,
  seedPair,
  tag,
  type SeedPair,
  type StatusRow,
  type Transaction,
} from '../helpers/agent.js';

/** What `ip -json link` says: name -> ifindex, sorted by name. */
function ipLinkIndexes(ns: string | null): [string, number][] {
  return ipJson<{ ifname: string; ifindex: number }[]>(ns, ['link', 'show'])
    .map((l): [string, number] => [l.ifname, l.ifindex])
    .sort((a, b) => a[0].localeCompare(b[0]));
}

function registryIndexes(links: Link[]): [string, number][] {
  return links.map((l): [string, number] => [l.name, l.index]).sort((a, b) => a[0].localeCompare(b[0]));
}

describe('fault injection seam, in process, real kernel', { skip: skipUnlessRoot() }, () => {
  test('a refused write request is rejected as the kernel would (retriable), without reaching the kernel', () =>
    withNamespaces(
      1,
      async ([ns]) => {
        const injector = new NetlinkFaultInjector(parseFaultSpec('request-every=2,request-errno=EAGAIN'));
        const handle = new NetlinkHandle({
          namespacePath: ns!.path,
          label: `ns ${ns!.name}`,
          faults: injector,
        });
        try {
          await handle.linkAddVeth({ name: 'ok0', peer: { name: 'ok1' } }); // 1st write: through
          const refused = await handle.linkAddVeth({ name: 'refused0', peer: { name: 'refused1' } }).then(
            () => undefined,
            (error: unknown) => error,
          );
          assert.ok(refused instanceof NetlinkError, String(refused));
          assert.equal(refused.errnoName, 'EAGAIN');
          assert.equal(refused.retriable, true);
          assert.equal(refused.kernelMessage, INJECTED_MESSAGE);
          assert.match(refused.message, /refused0/);
          // reads and dumps are never refused, and the refused request changed nothing
          for (let i = 0; i < 3; i++) assert.ok(await handle.linkGet('ok0'));
          const names = (await handle.linkList()).map((l) => l.name).sort();
          assert.deepEqual(names, ['lo', 'ok0', 'ok1']);
          assert.equal(ipTry(ns!.name, ['link', 'show', 'refused0']).status, 1);
          // retried, it goes through (3rd write)
          await handle.linkAddVeth({ name: 'refused0', peer: { name: 'refused1' } });
          assert.equal(ipTry(ns!.name, ['link', 'show', 'refused0']).status, 0);
          assert.equal(handle.socket.counters.errors, 1);
          assert.equal(injector.counters.requestErrors, 1);
          // a socket without injection (null) in the same process is untouched
          const plain = new NetlinkHandle({ namespacePath: ns!.path, faults: null });
          try {
            const ok0 = (await plain.linkGet('ok0'))!.index;
            for (let i = 0; i < 4; i++) await plain.linkSet(ok0, { mtu: 1400 + i });
            assert.equal(plain.socket.counters.errors, 0);
          } finally {
            plain.close();
          }
        } finally {
          handle.close();
        }
      },
      'fi',
    ));

  test('every event dropped with ENOBUFS: the link registry re-dumps and misses no change', () =>
    withNamespaces(
      1,
      async ([ns]) => {
        const injector = new NetlinkFaultInjector(parseFaultSpec('events-enobufs-every=1'));
        const handle = new NetlinkHandle({ namespacePath: ns!.path, label: `ns ${ns!.name}`, faults: null });
        const registry = new LinkRegistry(handle, ns!.path, { faults: injector });
        const changes: string[] = [];
        const resynced: string[] = [];
        const passedThrough: unknown[] = [];
        registry.on('change', (list: LinkChange[]) =>
          changes.push(...list.map((c) => `${c.kind} ${c.link.name} #${c.link.index}`)),
        );
        registry.on('resynced', (reason) => resynced.push(reason));
        registry.on('kernel', (events) => passedThrough.push(...events));
        try {
          await registry.start();
          ip(ns!.name, ['link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'a1']);
          ip(ns!.name, ['link', 'add', 'b0', 'type', 'veth', 'peer', 'name', 'b1']);
          ip(ns!.name, ['addr', 'add', '10.9.0.1/24', 'dev', 'a0']);
          await eventuallyFast(() =>
            assert.deepEqual(registryIndexes(registry.list()), ipLinkIndexes(ns!.name)),
          );
          ip(ns!.name, ['link', 'del', 'a0']);
          ip(ns!.name, ['link', 'set', 'b0', 'name', 'c0']);
          await eventuallyFast(() =>
            assert.deepEqual(registryIndexes(registry.list()), ipLinkIndexes(ns!.name)),
          );
          assert.equal(registry.get('b0'), undefined, 'the old name is gone from the registry');
          assert.ok(injector.counters.eventOverruns > 0);
          assert.ok(registry.lostResyncs > 0);
          assert.ok(
            resynced.every((r) => r.includes('ENOBUFS (fault injected)')),
            JSON.stringify(resynced),
          );
          assert.deepEqual(passedThrough, [], 'no event got through');
          // every change was still reported, from the re-dumps
          for (const name of ['a0', 'a1', 'b0', 'b1'])
            assert.ok(changes.some((c) => c.startsWith(`added ${name} `)));
          assert.ok(
            changes.some((c) => c.startsWith('removed a0 ')),
            JSON.stringify(changes),
          );
          assert.ok(
            changes.some((c) => c.startsWith('changed c0 ')),
            JSON.stringify(changes),
          );
        } finally {
          registry.close();
          handle.close();
        }
      },
      'fi',
    ));

  test('a real overrun (tiny receive buffer, 600 link events while the loop is blocked): ENOBUFS, and the registry re-dumps', () =>
    withNamespaces(
      1,
      async ([ns]) => {
        const lost: string[] = [];
        const stream = new KernelEventStream({
          namespacePath: ns!.path,
          receiveBufferBytes: 4096,
          faults: null,
          onEvents: () => undefined,
          onLost: (reason) => lost.push(reason),
        });
        const handle = new NetlinkHandle({ namespacePath: ns!.path, faults: null });
        // the same through the installed-injector path: a plan with only events-rcvbuf
        const registry = new LinkRegistry(handle, ns!.path, {
          faults: new NetlinkFaultInjector(parseFaultSpec('events-rcvbuf=4096')),
        });
        const resynced: string[] = [];
        registry.on('resynced', (reason) => resynced.push(reason));
        try {
          await registry.start();
          // spawnSync blocks the event loop: nobody reads the sockets while the kernel fills them
          const lines = Array.from({ length: 200 }, (_, i) => `link add d${i} type veth peer name e${i}`);
          const run = spawnSync('ip', ['-n', ns!.name, '-batch', '-'], { input: lines.join('\n') + '\n' });
          assert.equal(run.status, 0, String(run.stderr));
          const gone = Array.from({ length: 100 }, (_, i) => `link del d${i * 2}`);
          assert.equal(
            spawnSync('ip', ['-n', ns!.name, '-batch', '-'], { input: gone.join('\n') + '\n' }).status,
            0,
          );
          await eventuallyFast(() => assert.ok(lost.length > 0, 'ENOBUFS reported'));
          assert.match(lost[0]!, /ENOBUFS/);
          await eventuallyFast(() =>
            assert.ok(
              resynced.some((r) => /ENOBUFS/.test(r)),
              JSON.stringify(resynced),
            ),
          );
          await eventuallyFast(() =>
            assert.deepEqual(registryIndexes(registry.list()), ipLinkIndexes(ns!.name)),
          );
          assert.equal(registry.list().length, 201);
        } finally {
          stream.close();
          registry.close();
          handle.close();
        }
      },
      'fi',
    ));
});

// ---------------------------------------------------------------------------------------------
// Through the agent process

/** Starts the agent (embedded store in a temporary directory) with NETNS_AGENT_FAULTS = spec. */
async function startWithFaults(label: string, spec: string, cleanup: Cleanup): Promise<AgentProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'netns-agent-fault-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  // AgentProcess spawns with this process's environment: set the variable for that spawn only.
  const previous = process.env.NETNS_AGENT_FAULTS;
  process.env.NETNS_AGENT_FAULTS = spec;
  let agent: AgentProcess;
  try {
    agent = await AgentProcess.start({ label, store: path.join(dir, 'store.db') });
  } finally {
    if (previous === undefined) delete process.env.NETNS_AGENT_FAULTS;
    else process.env.NETNS_AGENT_FAULTS = previous;
  }
  cleanup.add(() => agent.stop());
  assert.match(agent.logText(), /FAULT INJECTION is active/);
  return agent;
}

async function put(agent: AgentProcess, key: string, value: unknown): Promise<void> {
  const r = await agent.request('PUT', `/v1/config${key}`, JSON.stringify(value));
  assert.ok(r.status < 300, `PUT ${key}: ${r.status} ${r.text}`);
}

/** Log lines of injected faults. */
function injected(agent: AgentProcess, fault: string): Record<string, unknown>[] {
  return agent.log
    .join('')
    .split('\n')
    .filter((l) => l.includes('"netlink fault injected"') && l.includes(`"fault":"${fault}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A route in ns1 through the seed pair's veth1, via veth2's address. */
function routeValue(pair: SeedPair): Record<string, unknown> {
  return {
    name: 'to-lan',
    namespace: { type: 2, name: pair.ns1 },
    interface: 'veth1',
    dst_ip_addr: '10.10.0.0/16',
    gw_addr: '192.168.22.2',
    metric: 100,
  };
}

interface IpRoute {
  dst: string;
  gateway?: string;
  protocol?: string | number;
}
interface IpNeigh {
  dst: string;
  lladdr?: string;
  state?: string[];
}

function routeThere(ns: string): boolean {
  return ipJson<IpRoute[]>(ns, ['route', 'show', '10.10.0.0/16']).some((r) => r.gateway === '192.168.22.2');
}
function neighThere(ns: string): boolean {
  return ipJson<IpNeigh[]>(ns, ['neigh', 'show', '192.168.22.9']).some(
    (n) => n.lladdr === '02:00:00:00:22:09' && (n.state ?? []).includes('PERMANENT'),
  );
}

/** The seed pair is as configured: veth1/veth2 up with MTU, MAC, addresses; route and neighbour. */
function checkAll(pair: SeedPair): { ifindex1: number; ifindex2: number } {
  const l1 = ipLink(pair.ns1, 'veth1Name');
  const l2 = ipLink(pair.ns2, 'veth2Name');
  assert.ok(l1 && l2, 'both ends exist');
  assert.ok(l1.flags.includes('UP') && l2.flags.includes('UP'), 'both up');
  const addrs = (l: typeof l1) => (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
  assert.ok(addrs(l1).includes('192.168.22.1/24'), `veth1 addresses ${addrs(l1).join(' ')}`);
  assert.ok(addrs(l1).includes('2001:db8::ff00:89e3:bb42/48'), `veth1 addresses ${addrs(l1).join(' ')}`);
  assert.ok(addrs(l2).includes('192.168.22.2/24'), `veth2 addresses ${addrs(l2).join(' ')}`);
  assert.equal(l1.address, 'd2:74:8c:12:67:d2');
  assert.ok(routeThere(pair.ns1), 'route 10.10.0.0/16 via 192.168.22.2');
  assert.ok(neighThere(pair.ns1), 'permanent neighbour 192.168.22.9');
  return { ifindex1: l1.ifindex, ifindex2: l2.ifindex };
}

/** What the agent's status says of each interface (from its link registries) agrees with ip. */
async function checkRegistry(agent: AgentProcess, pair: SeedPair): Promise<void> {
  const rows = new Map((await agent.status()).map((r): [string, StatusRow] => [r.key, r]));
  for (const [key, ns, name] of [
    [pair.key1, pair.ns1, 'veth1Name'],
    [pair.key2, pair.ns2, 'veth2Name'],
  ] as const) {
    const row = rows.get(key);
    const link = ipLink(ns, name);
    assert.ok(row?.interface, `${key} has its kernel view: ${JSON.stringify(row)}`);
    assert.ok(link, `${name} exists`);
    assert.equal(row.interface.ifindex, link.ifindex, `${key}: registry ifindex`);
    assert.equal(row.interface.hostIfName, name);
    assert.equal(row.interface.mtu, link.mtu);
  }
}

describe('the agent with injected netlink faults', { skip: skipUnlessRoot() }, () => {
  for (const [title, events] of [
    ['every event lost', 'events-enobufs-every=1'],
    ['every other event lost', 'events-enobufs-every=2'],
  ] as const) {
    test(`ENOBUFS on the event sockets (${title}): configured, drift healed, registry right`, async (t) => {
      const started = Date.now();
      const cleanup = new Cleanup();
      t.after(() => cleanup.run());
      const label = `flte${tag()}`;
      const pair = seedPair(label, 'fle');
      cleanup.add(() => deleteNamespaces(pair.ns1, pair.ns2));
      const agent = await startWithFaults(
        label,
        `${events},events-ns=${pair.ns1}|${pair.ns2}|own namespace`,
        cleanup,
      );
      const sse = followEvents(agent);
      cleanup.add(() => sse.close());
      await sse.status;

      // set up under the faults: the items need link and gateway facts the lost events carried
      const routeKey = configKey(label, 'route', 'to-lan');
      const arpKey = configKey(label, 'arp', 'gw-arp');
      await put(agent, pair.key1, pair.veth1);
      await put(agent, pair.key2, pair.veth2);
      await put(agent, routeKey, routeValue(pair));
      await put(agent, arpKey, {
        name: 'gw-arp',
        namespace: { type: 2, name: pair.ns1 },
        interface: 'veth1',
        ip_addr: '192.168.22.9',
        hw_address: '02:00:00:00:22:09',
      });
      const keys = [pair.key1, pair.key2, routeKey, arpKey];
      await agent.until(keys, 'configured', 20_000);
      let indexes = await eventually(() => checkAll(pair), 5000);
      await eventually(() => checkRegistry(agent, pair), 5000);

      // drift made while events are being lost
      ip(pair.ns1, ['link', 'set', 'veth1Name', 'down']);
      await eventually(
        () => assert.ok(ipLink(pair.ns1, 'veth1Name')?.flags.includes('UP'), 'up again'),
        10_000,
      );
      ip(pair.ns1, ['addr', 'del', '192.168.22.1/24', 'dev', 'veth1Name']);
      ip(pair.ns2, ['link', 'set', 'veth2Name', 'mtu', '1400']);
      // Two namespaces, two event sockets: the address in ns1 and the MTU in ns2 heal each in its own time.
      await eventually(() => {
        checkAll(pair);
        assert.equal(ipLink(pair.ns2, 'veth2Name')?.mtu, 1500, 'MTU healed');
      }, 10_000);
      assert.deepEqual(checkAll(pair), indexes, 'healed in place');
      ip(pair.ns1, ['route', 'del', '10.10.0.0/16']);
      ip(pair.ns1, ['neigh', 'del', '192.168.22.9', 'dev', 'veth1Name']);
      await eventually(() => checkAll(pair), 10_000);
      ip(pair.ns1, ['link', 'del', 'veth1Name']);
      await eventually(() => {
        const now = checkAll(pair);
        assert.notEqual(now.ifindex1, indexes.ifindex1, 're-created');
        indexes = now;
      }, 10_000);
      await agent.until(keys, 'configured', 10_000);
      await eventually(() => checkRegistry(agent, pair), 5000);

      // the interface index registry of the agent's own namespace: add/remove events although
      // every (or every other) event of that namespace is lost
      const foreign = `flt${tag(4)}`;
      cleanup.add(() => ipTry(null, ['link', 'del', foreign]));
      ip(null, ['link', 'add', foreign, 'type', 'veth', 'peer', 'name', `${foreign}p`]);
      const foreignIndex = ipJson<{ ifindex: number }[]>(null, ['link', 'show', foreign])[0]!.ifindex;
      const linkEvents = () =>
        sse.events
          .filter((e) => e.type === 'link' && e.data.name === foreign)
          .map((e) => `${e.data.kind} ${e.data.ifindex}`);
      await eventually(() => assert.deepEqual(linkEvents(), [`added ${foreignIndex}`]), 10_000);
      ip(null, ['link', 'del', foreign]);
      await eventually(
        () => assert.deepEqual(linkEvents(), [`added ${foreignIndex}`, `removed ${foreignIndex}`]),
        10_000,
      );
      const kernel = await agent.json<{ namespace: string; links: { name: string; index: number }[] }[]>(
        'GET',
        '/v1/kernel',
      );
      for (const [ns, name] of [
        [pair.ns1, 'veth1Name'],
        [pair.ns2, 'veth2Name'],
      ] as const) {
        const dump = kernel.find((d) => d.namespace === `named/${ns}`);
        assert.equal(
          dump?.links.find((l) => l.name === name)?.index,
          ipLink(ns, name)?.ifindex,
          `/v1/kernel ${name}`,
        );
      }

      const overruns = injected(agent, 'event-overrun');
      assert.ok(overruns.length > 0, 'overruns were injected');
      for (const ns of [pair.ns1, pair.ns2, 'own namespace'])
        assert.ok(
          overruns.some((o) => String(o.socket).includes(ns)),
          `overruns injected on the event socket of ${ns}`,
        );
      // each loss made the agent re-read that namespace (and re-check its managed items)
      const rereads = agent.log
        .join('')
        .split('\n')
        .filter((l) => l.includes('"msg":"kernel events lost; namespace re-read"'))
        .map((l) => String((JSON.parse(l) as { namespace?: string }).namespace));
      for (const id of [`named/${pair.ns1}`, `named/${pair.ns2}`, 'default'])
        assert.ok(rereads.includes(id), `${id} re-read: ${JSON.stringify([...new Set(rereads)])}`);
      assert.ok(agent.running);
      t.diagnostic(
        `${title}: ${overruns.length} overruns injected, ` +
          `${overruns.reduce((n, o) => n + Number(o.dropped), 0)} events dropped, ` +
          `${rereads.length} namespace re-reads, ${Date.now() - started} ms`,
      );
    });
  }

  test('write requests refused with EBUSY/EAGAIN: retried with backoff, all configured, retries visible', async (t) => {
    const started = Date.now();
    const cleanup = new Cleanup();
    t.after(() => cleanup.run());
    const label = `fltr${tag()}`;
    const nsA = `flr${tag(4)}a`;
    const nsB = `flr${tag(4)}b`;
    cleanup.add(() => deleteNamespaces(nsA, nsB));
    // A new seed each run (printed): other requests refused each time.
    const seed = 1 + (Date.now() % 100_000);
    const agent = await startWithFaults(
      label,
      `request-rate=0.25,request-errno=EBUSY|EAGAIN,request-ns=${nsA}|${nsB},seed=${seed}`,
      cleanup,
    );
    const PAIRS = 12;
    const keys: string[] = [];
    for (let i = 0; i < PAIRS; i++) {
      const a = `a${i}`;
      const b = `b${i}`;
      const base = { type: 0, enabled: true, mtu: 1450 };
      await put(agent, configKey(label, 'interface', a), {
        ...base,
        name: a,
        host_if_name: `fa${i}`,
        ip_addresses: [`10.77.${i}.1/24`],
        namespace: { type: 2, name: nsA },
        veth: { peer_if_name: b },
      });
      await put(agent, configKey(label, 'interface', b), {
        ...base,
        name: b,
        host_if_name: `fb${i}`,
        ip_addresses: [`10.77.${i}.2/24`],
        namespace: { type: 2, name: nsB },
        veth: { peer_if_name: a },
      });
      await put(agent, configKey(label, 'route', `r${i}`), {
        name: `r${i}`,
        namespace: { type: 2, name: nsB },
        interface: b,
        dst_ip_addr: `10.88.${i}.0/24`,
        gw_addr: `10.77.${i}.1`,
      });
      keys.push(
        configKey(label, 'interface', a),
        configKey(label, 'interface', b),
        configKey(label, 'route', `r${i}`),
      );
    }
    const explain = async (error: unknown): Promise<never> => {
      const rows = (await agent.status()).filter((r) => r.state !== 'removed' && r.state !== 'configured');
      const notDone = (await agent.history()).flatMap((tx) =>
        tx.operations
          .filter((op) => op.outcome !== 'done' || op.key.includes('/address/'))
          .map((op) => `#${tx.seq} ${op.kind} ${op.key} ${op.outcome} ${op.error?.message ?? ''}`),
      );
      throw new Error(
        `seed ${seed}: ${String(error)}\nnot configured: ${JSON.stringify(rows)}\n${notDone.slice(-40).join('\n')}`,
      );
    };
    await agent.until(keys, 'configured', 60_000);
    const configuredAfter = Date.now() - started;
    await eventually(() => {
      for (let i = 0; i < PAIRS; i++) {
        const [a, b] = checkVethEnds(
          { ns: nsA, name: `fa${i}`, address: `10.77.${i}.1` },
          { ns: nsB, name: `fb${i}`, address: `10.77.${i}.2` },
          1450,
        );
        assert.equal(a.ifalias, `netns-agent:${label}:a${i}`);
        assert.equal(b.ifalias, `netns-agent:${label}:b${i}`);
      }
      const routes = ipJson<IpRoute[]>(nsB, ['route', 'show']).filter((r) => r.dst.startsWith('10.88.'));
      assert.equal(routes.length, PAIRS);
    }, 10_000).catch(explain);

    // the retries are visible: failed operations with the injected errno, retried and done
    const refusals = injected(agent, 'request-error');
    assert.ok(refusals.length >= 5, `only ${refusals.length} refusals injected`);
    const history = await agent.history();
    const failedOps = history.flatMap((tx) => tx.operations.filter((op) => op.outcome === 'failed'));
    assert.ok(failedOps.length > 0, 'failed operations in the history');
    for (const op of failedOps)
      assert.match(op.error?.message ?? '', /(EBUSY|EAGAIN) \(fault injected\)/, JSON.stringify(op));
    assert.ok(
      history.some((tx: Transaction) => tx.causes.includes('retry')),
      'retry transactions in the history',
    );
    const status = await agent.status();
    assert.ok(
      status.every((r) => r.state === 'configured'),
      'nothing left failed',
    );
    const metrics = (await agent.request('GET', '/metrics')).text;
    const metric = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? 0);
    const opErrors =
      metric(/netns_agent_operations_total\{kind="create",outcome="error"\} (\d+)/) +
      metric(/netns_agent_operations_total\{kind="update",outcome="error"\} (\d+)/) +
      metric(/netns_agent_operations_total\{kind="delete",outcome="error"\} (\d+)/);
    assert.ok(opErrors > 0, 'operation errors in /metrics');
    // Not >= refusals: the gauge sums the sockets of the namespace views open now, and the short-lived
    // handle that marks a new named namespace is not one of them.
    assert.ok(metric(/netns_agent_netlink_errors_total (\d+)/) > 0, 'netlink errors in /metrics');

    // removal under the same faults, while pair 0 keeps both namespaces in use: the other pairs go
    const linksOf = (ns: string): string[] =>
      existsSync(`/var/run/netns/${ns}`)
        ? ipJson<{ ifname: string }[]>(ns, ['link'])
            .map((l) => l.ifname)
            .filter((n) => n !== 'lo')
        : [];
    const [lastKeys, otherKeys] = [keys.slice(0, 3), keys.slice(3)];
    for (const key of otherKeys) assert.ok((await agent.request('DELETE', `/v1/config${key}`)).status < 300);
    await eventually(() => {
      assert.deepEqual(linksOf(nsA), ['fa0']);
      assert.deepEqual(linksOf(nsB), ['fb0']);
    }, 30_000).catch(explain);
    await agent.until(lastKeys, 'configured', 5000);
    const removedAfter = Date.now() - started;

    // the last items of both namespaces: their removal must not be dropped when the namespaces stop
    // being referenced (the agent then closes its view of them), even if a first attempt fails
    for (const key of lastKeys) assert.ok((await agent.request('DELETE', `/v1/config${key}`)).status < 300);
    await t.test('removing the last items of a namespace under write faults leaves nothing behind', () =>
      eventually(() => {
        assert.deepEqual([...linksOf(nsA), ...linksOf(nsB)], []);
      }, 5000).catch(explain),
    );
    const totalRefusals = injected(agent, 'request-error').length;
    t.diagnostic(
      `seed ${seed}: ${PAIRS * 3} items configured in ${configuredAfter} ms despite ${refusals.length} refused writes ` +
        `(${failedOps.length} failed operations retried); ${PAIRS - 1} pairs removed at ${removedAfter} ms ` +
        `(${totalRefusals} refusals in all)`,
    );
  });

  test("an EXISTING link's MTU refused after its MAC was set: failed, and the MAC is given back at once (nothing half set)", async (t) => {
    const cleanup = new Cleanup();
    t.after(() => cleanup.run());
    const label = `flte${tag()}`;
    const ns = `fle${tag(4)}`;
    ip(null, ['netns', 'add', ns]);
    cleanup.add(() => ipTry(null, ['netns', 'del', ns]));
    ip(ns, ['link', 'add', 'ex0', 'type', 'veth', 'peer', 'name', 'ex1']);
    ip(ns, ['link', 'set', 'ex0', 'up']);
    const macOf = () => ipJson<{ address: string }[]>(ns, ['link', 'show', 'ex0'])[0]?.address;
    const original = macOf();
    // The writes in that namespace: the MAC (alone, as the link is up), then the MTU: refused.
    const agent = await startWithFaults(
      label,
      `request-every=2,request-limit=1,request-errno=EINVAL,request-ns=named namespace ${ns}`,
      cleanup,
    );
    const key = configKey(label, 'interface', 'ex');
    await put(agent, key, {
      name: 'ex',
      type: 'EXISTING',
      enabled: true,
      host_if_name: 'ex0',
      phys_address: '02:00:00:00:ee:01',
      mtu: 1400,
      namespace: { type: 2, name: ns },
    });
    await agent.until([key], 'failed', 10_000);
    assert.equal(injected(agent, 'request-error').length, 1);
    assert.equal(macOf(), original, 'the MAC set before the refused MTU is undone');
    assert.equal(ipJson<{ mtu: number }[]>(ns, ['link', 'show', 'ex0'])[0]?.mtu, 1500);
    assert.ok((await agent.request('DELETE', `/v1/config${key}`)).status < 300);
    await agent.until([key], 'removed', 5000);
    assert.equal(macOf(), original);
  });

  test('the mark of a named namespace refused: no namespace is named unmarked; the retry makes it, marked, and it is deleted with its last item', async (t) => {
    const cleanup = new Cleanup();
    t.after(() => cleanup.run());
    const label = `fltm${tag()}`;
    const made = `flm${tag(4)}m`; // the agent makes this one
    const theirs = `flm${tag(4)}t`; // and finds this one
    cleanup.add(() => deleteNamespaces(made, theirs));
    ip(null, ['netns', 'add', theirs]);
    // The first write request through the agent's short-lived handle in the new namespace (not
    // named yet) is the alias that marks its lo as ours: refused once.
    const agent = await startWithFaults(
      label,
      `request-every=1,request-limit=1,request-errno=EBUSY,request-ns=named namespace ${made}`,
      cleanup,
    );
    const keys = [configKey(label, 'interface', 'm0'), configKey(label, 'interface', 't0')];
    const end = (name: string, ns: string, peer: string) => ({
      name,
      type: 0,
      enabled: true,
      namespace: { type: 2, name: ns },
      veth: { peer_if_name: peer },
    });
    await put(agent, keys[0]!, end('m0', made, 't0'));
    await put(agent, keys[1]!, end('t0', theirs, 'm0'));
    await agent.until(keys, 'configured', 20_000);
    const refused = injected(agent, 'request-error');
    assert.equal(refused.length, 1, JSON.stringify(refused));
    assert.match(String(refused[0]!.request), /alias/i);
    // The namespace is named only once marked: the retry (after a backoff) made it, marked.
    assert.equal(ipLink(made, 'lo')?.ifalias, `netns-agent-namespace:${label}`, 'marked when named');

    for (const key of keys) assert.ok((await agent.request('DELETE', `/v1/config${key}`)).status < 300);
    await eventually(() => {
      assert.ok(!existsSync(`/var/run/netns/${made}`), 'the namespace the agent made is deleted');
      assert.ok(existsSync(`/var/run/netns/${theirs}`), 'the one it found stays');
    }, 10_000);
  });
});
