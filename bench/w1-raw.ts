/**
 * Raw W1 benchmark (issue 2): the W1 workload applied directly through the netlink layer and
 * removed again, each against the same work done by `ip -batch` in the same run.
 *
 *   node dist/bench/w1-raw.js [N=1000] [M=50]
 *
 * Figures: raw_apply_ratio = our apply time / ip -batch apply time (target <= 1.1);
 * raw_teardown_speedup = one `ip link del` per pair / our bulk delete by group (target >= 20).
 */
import { AF_INET, NUD_PERMANENT, NetlinkHandle } from '../src/netlink/index.js';
import {
  addNamespaces,
  deleteNamespaces,
  printResult,
  printTable,
  ratio,
  runIpBatches,
  timed,
  uniquePrefix,
} from './harness.js';
import { w1IpBatches, w1Pairs, type W1Pair } from './w1-workload.js';

const N = Number(process.argv[2] ?? 1000);
const M = Number(process.argv[3] ?? 50);
const GROUP = 4242;

async function applyThroughLayer(
  pairs: W1Pair[],
  hub: NetlinkHandle,
  handles: NetlinkHandle[],
  paths: string[],
): Promise<void> {
  await Promise.all(
    pairs.map(async (p) => {
      const nsHandle = handles[p.k]!;
      const a = await hub.linkAddVeth({
        name: p.a,
        mtu: 1400,
        up: true,
        group: GROUP,
        peer: { name: p.b, mtu: 1400, namespacePath: paths[p.k]! },
      });
      if (!a) throw new Error(`${p.a} not found after creation`);
      const hubAddress = hub.addrAdd({ index: a.index, address: p.addressA, prefixLength: 30 });
      const b = await nsHandle.linkGet(p.b);
      if (!b) throw new Error(`peer ${p.b} not found`);
      // One socket runs its requests in order: up, address, then the route that needs both.
      await Promise.all([
        hubAddress,
        nsHandle.addrAdd({ index: b.index, address: p.addressB, prefixLength: 30 }),
        nsHandle.linkSetUp(b.index),
        nsHandle.routeAdd({ dst: p.routeDst, dstLength: 24, gateway: p.addressA, oif: b.index }),
        nsHandle.neighAdd({ index: b.index, address: p.addressA, mac: p.macA, state: NUD_PERMANENT }),
      ]);
    }),
  );
}

async function countRoutes(handle: NetlinkHandle): Promise<number> {
  return (await handle.routeList({ family: AF_INET, table: 254 })).filter((r) => r.gateway).length;
}

async function main(): Promise<void> {
  const prefix = uniquePrefix('w1r');
  const hubName = `${prefix}hub`;
  const nsNames = Array.from({ length: M }, (_, k) => `${prefix}ns${k}`);
  const paths = nsNames.map((n) => `/var/run/netns/${n}`);
  addNamespaces([hubName, ...nsNames]);
  const hub = new NetlinkHandle({ namespacePath: `/var/run/netns/${hubName}`, label: hubName });
  const handles = paths.map((p, k) => new NetlinkHandle({ namespacePath: p, label: nsNames[k]! }));
  try {
    // Baseline: ip -batch, one batch per namespace.
    const basePairs = w1Pairs(N, M, { a: 'a', b: 'b' });
    const baseApply = await timed(() => runIpBatches(w1IpBatches(basePairs, hubName, nsNames)));
    const baseRoutes = await countRoutes(handles[7 % M]!);
    const baseTeardown = await timed(() =>
      runIpBatches(new Map([[hubName, basePairs.map((p) => `link del ${p.a}`)]])),
    );

    // Ours: the same through the netlink layer (other names: deleted names may linger a moment).
    const ourPairs = w1Pairs(N, M, { a: 'x', b: 'y' });
    const ourApply = await timed(() => applyThroughLayer(ourPairs, hub, handles, paths));
    const ourRoutes = await countRoutes(handles[7 % M]!);
    if (ourRoutes !== baseRoutes) throw new Error(`route count differs: ours ${ourRoutes}, ip ${baseRoutes}`);
    const ourTeardown = await timed(() => hub.linkDelGroup(GROUP));
    const left = (await hub.linkList()).filter((l) => l.name !== 'lo').length;
    if (left !== 0) throw new Error(`${left} links left after bulk delete`);

    const requests =
      hub.socket.counters.requests + handles.reduce((s, h) => s + h.socket.counters.requests, 0);
    const sends =
      hub.socket.counters.sendCalls + handles.reduce((s, h) => s + h.socket.counters.sendCalls, 0);
    printTable(`W1 raw: ${N} VETH pairs, ${M} namespaces + hub`, [
      ['ip -batch apply', `${baseApply.ms.toFixed(0)} ms`],
      [
        'netlink layer apply',
        `${ourApply.ms.toFixed(0)} ms (${requests} requests in ${sends} sendmsg calls)`,
      ],
      ['apply ratio (ours / ip)', `${ratio(ourApply.ms, baseApply.ms)}`],
      ['ip -batch link del per pair', `${baseTeardown.ms.toFixed(0)} ms`],
      ['link del group (bulk)', `${ourTeardown.ms.toFixed(0)} ms`],
      ['teardown speedup', `${ratio(baseTeardown.ms, ourTeardown.ms)}x`],
      ['gateway routes in one B namespace', `${ourRoutes}`],
    ]);
    printResult({
      raw_apply_ratio: ratio(ourApply.ms, baseApply.ms),
      raw_teardown_speedup: ratio(baseTeardown.ms, ourTeardown.ms),
      raw_apply_ms: Math.round(ourApply.ms),
      ip_batch_apply_ms: Math.round(baseApply.ms),
      raw_teardown_ms: Math.round(ourTeardown.ms),
      ip_link_del_ms: Math.round(baseTeardown.ms),
    });
  } finally {
    hub.close();
    for (const h of handles) h.close();
    deleteNamespaces([hubName, ...nsNames]);
  }
}

await main();
