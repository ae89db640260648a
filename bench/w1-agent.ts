/**
 * W1 end to end (issue 5): the agent runs as its own process on the embedded store; the 4000 W1
 * items are put into the store in one go; timed until every item is configured, against `ip -batch`
 * doing the same work in the same run. Then: restart resync (time and kernel writes, ifindexes
 * unchanged), peak RSS, teardown (all items deleted -> no W1 link left) against one `ip link del`
 * per pair, and one VETH pair put -> both configured, p50/p99 over 200 rounds.
 *
 *   node dist/bench/w1-agent.js [N=1000] [M=50] [ROUNDS=200]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../src/datastore/index.js';
import { configPrefix, interfaceKey } from '../src/model/index.js';
import { NetlinkHandle } from '../src/netlink/index.js';
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
import { w1IpBatches, w1Pairs } from './w1-workload.js';
import { w1Items } from './w1-items.js';
import { StateFollower, peakRssMb, startAgent, type AgentProcess } from './agent-process.js';

const N = Number(process.argv[2] ?? 1000);
const M = Number(process.argv[3] ?? 50);
const ROUNDS = Number(process.argv[4] ?? 200);
const PORT = 19000 + Math.floor(Math.random() * 1000);

async function statusCounts(server: string): Promise<{ total: number; configured: number }> {
  // The summary form: polling the full list (4000 rows) every few ms would load the agent it measures.
  const summary = (await (await fetch(`${server}/v1/status?summary`)).json()) as {
    total: number;
    counts: { configured?: number };
  };
  return { total: summary.total, configured: summary.counts.configured ?? 0 };
}

async function history(
  server: string,
): Promise<{ counts: { create: number; update: number; delete: number } }[]> {
  return (await (await fetch(`${server}/v1/history`)).json()) as {
    counts: { create: number; update: number; delete: number };
  }[];
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 10) / 10;
}

async function main(): Promise<void> {
  const prefix = uniquePrefix('w1a');
  const label = `bench${prefix}`;
  const hub = `${prefix}hub`;
  const namespaces = Array.from({ length: M }, (_, k) => `${prefix}ns${k}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'w1-agent-'));
  const storeFile = path.join(dir, 'store.db');
  addNamespaces([hub, ...namespaces]);
  const store = new SqliteStore({ file: storeFile });
  const hubHandle = new NetlinkHandle({ namespacePath: `/var/run/netns/${hub}` });
  let agent: AgentProcess | undefined;
  try {
    // Baseline apply and per-pair teardown with ip.
    const basePairs = w1Pairs(N, M, { a: 'a', b: 'b' });
    const baseApply = await timed(() => runIpBatches(w1IpBatches(basePairs, hub, namespaces)));
    const baseTeardown = await timed(() =>
      runIpBatches(new Map([[hub, basePairs.map((p) => `link del ${p.a}`)]])),
    );

    agent = await startAgent(label, storeFile, PORT);
    const follower = new StateFollower(agent.server);
    const pairs = w1Pairs(N, M, { a: 'x', b: 'y' });
    const items = w1Items(label, pairs, hub, namespaces);
    const keys = items.map((i) => i.key);
    await new Promise((r) => setTimeout(r, 200)); // the event stream is connected
    let putClock = 0;
    let storedAfterMs = 0;
    const apply = await timed(async () => {
      putClock = Date.now();
      await store.putMany(items.map((i) => ({ key: i.key, value: JSON.stringify(i.json) })));
      storedAfterMs = Date.now() - putClock;
      await follower.until(keys, 'configured', 180_000);
    });
    follower.close();
    if (process.env.W1_DEBUG) {
      // The apply's transactions, from the put's start: when each began, its planning and execution.
      const putAt = putClock;
      console.log(`apply: stored after ${storedAfterMs} ms, all configured after ${apply.ms.toFixed(0)} ms`);
      for (const t of (await history(agent.server)) as unknown as {
        seq: number;
        startedAt: number;
        planMs: number;
        executeMs: number;
        durationMs: number;
        counts: Record<string, number>;
      }[])
        console.log(
          `apply transaction ${t.seq}: starts at ${t.startedAt - putAt} ms, ${t.durationMs.toFixed(0)} ms (plan ${t.planMs.toFixed(0)}, execute ${t.executeMs.toFixed(0)})`,
          JSON.stringify(t.counts),
        );
    }
    const ifindexesBefore = new Map((await hubHandle.linkList()).map((l) => [l.name, l.index]));

    // Restart: the new agent reads the store and the kernel; nothing should be written.
    await agent.stop();
    const restartedAt = Number(process.hrtime.bigint() / 1_000_000n);
    const restartedAtClock = Date.now();
    const restart = await timed(async () => {
      agent = await startAgent(label, storeFile, PORT);
      for (;;) {
        const { configured } = await statusCounts(agent.server);
        if (configured >= keys.length) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    const rssAfterResync = peakRssMb(agent!);
    // W1_DEBUG: the agent's resident size every 250 ms from here on (where the peak comes from).
    const rssSamples: string[] = [];
    const rssTimer = process.env.W1_DEBUG
      ? setInterval(() => {
          try {
            const status = readFileSync(`/proc/${agent!.child.pid}/status`, 'utf8');
            rssSamples.push(`${Date.now() - restartedAtClock}:${/VmRSS:\s+(\d+)/.exec(status)?.[1]}`);
          } catch {
            // exited
          }
        }, 250)
      : undefined;
    if (process.env.W1_DEBUG)
      // Log lines only: with AGENT_NODE_FLAGS=--trace-gc the collector's lines are in there too.
      for (const line of agent!.log
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('{'))) {
        const entry = JSON.parse(line) as { time?: number; msg?: string };
        if (entry.msg !== 'namespace available')
          console.log(`restart log: +${(entry.time ?? 0) - restartedAtClock} ms ${entry.msg}`);
      }
    const restartHistory = await history(agent!.server);
    // Operations that write to the kernel (VETH end markers and existing named namespaces write nothing).
    const writes = (
      restartHistory as unknown as { operations: { descriptor: string; outcome: string }[] }[]
    ).reduce(
      (n, t) =>
        n +
        t.operations.filter(
          (op) =>
            op.outcome === 'done' && op.descriptor !== 'veth-end' && op.descriptor !== 'named-namespace',
        ).length,
      0,
    );
    if (process.env.W1_DEBUG) {
      for (const t of restartHistory as unknown as {
        seq: number;
        operations: { kind: string; descriptor: string; why: string }[];
      }[]) {
        const byKind = new Map<string, number>();
        for (const op of t.operations)
          byKind.set(
            `${op.kind} ${op.descriptor} (${op.why})`,
            (byKind.get(`${op.kind} ${op.descriptor} (${op.why})`) ?? 0) + 1,
          );
        console.log(t.seq, JSON.stringify([...byKind]));
      }
    }
    const ifindexesAfter = new Map((await hubHandle.linkList()).map((l) => [l.name, l.index]));
    const ifindexChanges = [...ifindexesBefore].filter(
      ([name, index]) => ifindexesAfter.get(name) !== index,
    ).length;

    // One VETH pair put -> both ends configured, many rounds.
    const latencies: number[] = [];
    /** Of each round: the store's own commit (fsync included), before the agent can know. */
    const putLatencies: number[] = [];
    const roundStarts: number[] = [];
    const roundFollower = new StateFollower(agent!.server);
    await new Promise((r) => setTimeout(r, 200));
    for (let round = 0; round < ROUNDS; round++) {
      const a = `pa${round}`;
      const b = `pb${round}`;
      const pairKeys = [interfaceKey(label, a), interfaceKey(label, b)];
      const start = process.hrtime.bigint();
      await store.putMany([
        {
          key: pairKeys[0]!,
          value: JSON.stringify({
            name: a,
            type: 'VETH',
            enabled: true,
            ip_addresses: ['10.250.0.1/30'],
            namespace: { type: 'NAMED_NS', name: hub },
            veth: { peer_if_name: b },
          }),
        },
        {
          key: pairKeys[1]!,
          value: JSON.stringify({
            name: b,
            type: 'VETH',
            enabled: true,
            ip_addresses: ['10.250.0.2/30'],
            namespace: { type: 'NAMED_NS', name: namespaces[0] },
            veth: { peer_if_name: a },
          }),
        },
      ]);
      const stored = process.hrtime.bigint();
      await roundFollower.until(pairKeys, 'configured', 10_000);
      latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
      putLatencies.push(Number(stored - start) / 1e6);
      if (process.env.W1_DEBUG) roundStarts.push(Number(start / 1_000_000n));
      await store.delete(pairKeys[0]!);
      await store.delete(pairKeys[1]!);
      await roundFollower.until(pairKeys, 'removed', 10_000);
    }
    roundFollower.close();
    if (process.env.W1_DEBUG) {
      const slowest = latencies
        .map((ms, round) => ({
          ms,
          putMs: putLatencies[round],
          round,
          at: (roundStarts[round] ?? 0) - (roundStarts[0] ?? 0),
        }))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 6);
      console.log(
        'slowest rounds (at: ms after round 0, which began',
        (roundStarts[0] ?? 0) - restartedAt,
        'ms after the agent was started)',
        JSON.stringify(slowest),
      );
      // With AGENT_NODE_FLAGS=--trace-gc: the agent's collections that paused it 5 ms or more.
      const pauses = agent!.log
        .join('')
        .split('\n')
        .filter((l) => / (\d+\.\d+) \/ /.test(l) && Number(/, (\d+\.\d+) \/ /.exec(l)?.[1] ?? 0) >= 5);
      if (pauses.length) console.log('GC pauses >= 5 ms:\n' + pauses.slice(-20).join('\n'));
    }
    clearInterval(rssTimer);
    if (process.env.W1_DEBUG) console.log('agent RSS (ms since restart:KiB)', rssSamples.join(' '));
    const rss = peakRssMb(agent!);

    // Teardown: every W1 item deleted from the store -> no W1 link left.
    const teardownStartedAt = Date.now();
    const teardown = await timed(async () => {
      await store.deletePrefix(configPrefix(label));
      if (process.env.W1_DEBUG) console.log('teardown: store commit', Date.now() - teardownStartedAt, 'ms');
      for (;;) {
        const left = (await hubHandle.linkList()).filter((l) => l.name.startsWith('x')).length;
        if (left === 0) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    });

    if (process.env.W1_DEBUG) {
      type Record = {
        seq: number;
        startedAt: number;
        durationMs: number;
        retrieveMs: number;
        planMs: number;
        executeMs: number;
        counts: object;
      };
      // A transaction is recorded when it ends, which may be after its links are gone.
      let records: Record[] = [];
      for (let i = 0; i < 100 && !records.some((t) => t.startedAt >= teardownStartedAt); i++) {
        records = (await history(agent!.server)) as unknown as Record[];
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const t of records) {
        if (t.startedAt < teardownStartedAt) continue;
        console.log(
          `teardown transaction ${t.seq}: starts at ${t.startedAt - teardownStartedAt} ms, ${t.durationMs.toFixed(0)} ms`,
          `(plan ${t.planMs.toFixed(0)}, execute ${t.executeMs.toFixed(0)})`,
          JSON.stringify(t.counts),
        );
      }
    }

    printTable(
      `W1 end to end: agent process, embedded store, ${N} VETH pairs, ${M} namespaces + hub, ${items.length} items`,
      [
        ['ip -batch apply', `${baseApply.ms.toFixed(0)} ms`],
        ['agent apply (put -> all configured)', `${apply.ms.toFixed(0)} ms`],
        ['w1_apply_ratio', `${ratio(apply.ms, baseApply.ms)}`],
        ['ip link del per pair', `${baseTeardown.ms.toFixed(0)} ms`],
        ['agent teardown (delete -> no link left)', `${teardown.ms.toFixed(0)} ms`],
        ['w1_teardown_speedup', `${ratio(baseTeardown.ms, teardown.ms)}x`],
        [
          'restart resync (start -> all configured)',
          `${restart.ms.toFixed(0)} ms, ${writes} writes, ${ifindexChanges} ifindex changes`,
        ],
        ['agent peak RSS', `${rss} MiB (${rssAfterResync} MiB by the end of the restart resync)`],
        [
          `pair put -> configured (${ROUNDS} rounds)`,
          `p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms`,
        ],
      ],
    );
    printResult({
      w1_apply_ratio: ratio(apply.ms, baseApply.ms),
      w1_apply_ms: Math.round(apply.ms),
      w1_ip_batch_apply_ms: Math.round(baseApply.ms),
      w1_teardown_speedup: ratio(baseTeardown.ms, teardown.ms),
      w1_teardown_ms: Math.round(teardown.ms),
      w1_resync_s: Math.round(restart.ms) / 1000,
      w1_resync_writes: writes,
      w1_resync_ifindex_changes: ifindexChanges,
      w1_rss_mb: rss,
      pair_p50_ms: percentile(latencies, 50),
      pair_p99_ms: percentile(latencies, 99),
    });
  } finally {
    await agent?.stop();
    hubHandle.close();
    await store.close();
    deleteNamespaces([hub, ...namespaces]);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
