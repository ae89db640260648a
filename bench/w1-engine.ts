/**
 * W1 through the engine and the Linux descriptors (issue 4): the 4000 items (2000 VETH ends with
 * address, MTU, MAC, up; 1000 routes; 1000 ARP entries) committed at once, timed until every item is
 * configured, against the same work done by `ip -batch` in the same run.
 *
 *   node dist/bench/w1-engine.js [N=1000] [M=50]
 *
 * RESULT keys: engine_apply_ratio (target <= 1.2), engine_apply_ms, ip_batch_apply_ms,
 * engine_resync_writes (a full resync right after: target 0); engine_apply_stall_ms and
 * engine_teardown_stall_ms, the longest the event loop was held during each (an agent's HTTP API,
 * kernel events and other namespaces' work wait that long); engine_pair_delete_stall_ms, the same
 * for the deletion of one VETH pair (median of 20).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Engine } from '../src/scheduler/index.js';
import { LinuxPlugin } from '../src/descriptors/linux-plugin.js';
import { interfaceKey, parseItem } from '../src/model/index.js';
import {
  addNamespaces,
  deleteNamespaces,
  printResult,
  printTable,
  ratio,
  runIpBatches,
  timed,
  timedCpu,
  uniquePrefix,
} from './harness.js';
import { w1IpBatches, w1Pairs } from './w1-workload.js';
import { w1Items } from './w1-items.js';

const N = Number(process.argv[2] ?? 1000);
const M = Number(process.argv[3] ?? 50);

/** Waits until every key is configured or, with `removed`, gone (the engine keeps only some removed statuses). */
async function settled(engine: Engine, keys: string[], timeoutMs: number, removed = false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(keys);
  const done = (key: string): boolean => {
    const state = engine.status(key)?.state;
    return removed ? state === undefined || state === 'removed' : state === 'configured';
  };
  const check = (): void => {
    for (const key of pending) if (done(key)) pending.delete(key);
  };
  check();
  while (pending.size > 0) {
    if (Date.now() > deadline) {
      const sample = [...pending].slice(0, 3).map((k) => `${k}: ${JSON.stringify(engine.status(k))}`);
      throw new Error(`${pending.size} items not settled in time, e.g. ${sample.join('; ')}`);
    }
    await new Promise<void>((resolve) => {
      const stop = engine.onStatus(() => {
        stop();
        resolve();
      });
      setTimeout(() => {
        stop();
        resolve();
      }, 50);
    });
    check();
  }
}

/** Watches how long the event loop is held, at most, until stop() (ms). */
function stallWatch(): { stop(): number } {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  return {
    stop() {
      histogram.disable();
      return Math.round(histogram.max / 1e5) / 10;
    },
  };
}

/** One VETH pair (hub <-> first namespace) put and deleted `rounds` times: the stall of each deletion. */
async function pairDeletionStalls(
  engine: Engine,
  plugin: LinuxPlugin,
  label: string,
  hub: string,
  other: string,
  rounds: number,
): Promise<number[]> {
  const stalls: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const ends = [
      { name: `da${round}`, peer: `db${round}`, ns: hub, cidr: '10.250.0.1/30' },
      { name: `db${round}`, peer: `da${round}`, ns: other, cidr: '10.250.0.2/30' },
    ];
    const puts = ends.map((end) => {
      const key = interfaceKey(label, end.name);
      const json = {
        name: end.name,
        type: 'VETH',
        enabled: true,
        ip_addresses: [end.cidr],
        namespace: { type: 'NAMED_NS', name: end.ns },
        veth: { peer_if_name: end.peer },
      };
      return { key, value: parseItem(key, json).value };
    });
    const keys = puts.map((p) => p.key);
    plugin.setReferencedNamespaces(puts.map((p) => p.value.namespace));
    await plugin.prepare(puts);
    await engine.commit({ puts });
    await settled(engine, keys, 10_000);
    const stall = stallWatch();
    await engine.commit({ deletes: keys });
    await settled(engine, keys, 10_000, true);
    await new Promise((resolve) => setTimeout(resolve, 10)); // a deletion's tail of kernel events
    stalls.push(stall.stop());
  }
  return stalls.sort((a, b) => a - b);
}

/** W1_PROFILE=FILE: a CPU profile of the apply only (open it in Chrome's DevTools). */
async function startProfiler(): Promise<{ stop(file: string): Promise<void> }> {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** CPU time (user + system, ms) of each of this process's threads, by thread id and name. */
function threadTimes(): Map<string, number> {
  const times = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      times.set(`${tid} ${name}`, ((Number(fields[11]) + Number(fields[12])) * 1000) / 100);
      times.set(`${tid} ${name} (system)`, (Number(fields[12]) * 1000) / 100);
    } catch {
      // the thread ended
    }
  }
  return times;
}

function threadDelta(before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .map(([thread, ms]) => [thread, ms - (before.get(thread) ?? 0)] as const)
    .filter(([, ms]) => ms > 0)
    .map(([thread, ms]) => `${thread}: ${ms}`)
    .join(', ');
}

async function main(): Promise<void> {
  const prefix = uniquePrefix('w1e');
  const label = `bench${prefix}`;
  const hub = `${prefix}hub`;
  const namespaces = Array.from({ length: M }, (_, k) => `${prefix}ns${k}`);
  addNamespaces([hub, ...namespaces]);
  const engine = new Engine({
    ...(process.env.W1_CONCURRENCY ? { concurrency: Number(process.env.W1_CONCURRENCY) } : {}),
    ...(process.env.W1_REMOVAL_CONCURRENCY
      ? { removalConcurrency: Number(process.env.W1_REMOVAL_CONCURRENCY) }
      : {}),
  });
  const plugin = new LinuxPlugin({ label, engine });
  try {
    const basePairs = w1Pairs(N, M, { a: 'a', b: 'b' });
    const base = await timedCpu(() => runIpBatches(w1IpBatches(basePairs, hub, namespaces)));
    // Clear the baseline quickly (bulk delete by group) so our items start from the same state.
    runIpBatches(
      new Map([[hub, [...basePairs.map((p) => `link set ${p.a} group 77`), 'link del group 77']]]),
    );

    await plugin.start();
    const pairs = w1Pairs(N, M, { a: 'x', b: 'y' });
    const raw = w1Items(label, pairs, hub, namespaces);
    const profiler = process.env.W1_PROFILE ? await startProfiler() : undefined;
    const threadsBefore = threadTimes();
    const usageBefore = process.cpuUsage();
    const applyStall = stallWatch();
    const ours = await timedCpu(async () => {
      const puts = raw.map((r) => ({ key: r.key, value: parseItem(r.key, r.json).value }));
      // As the agent does (src/agent/config-sync.ts): namespaces first, then one commit.
      plugin.setReferencedNamespaces(puts.map((p) => p.value.namespace));
      await plugin.prepare(puts);
      await engine.commit({ puts });
      await settled(
        engine,
        raw.map((r) => r.key),
        120_000,
      );
    });
    const applyStallMs = applyStall.stop();
    const usage = process.cpuUsage(usageBefore);
    if (process.env.W1_DEBUG)
      console.log('apply CPU per thread (ms):', threadDelta(threadsBefore, threadTimes()));
    if (profiler) await profiler.stop(process.env.W1_PROFILE!);
    if (process.env.W1_DEBUG)
      console.log(
        `apply CPU: user ${(usage.user / 1000).toFixed(0)} ms, system ${(usage.system / 1000).toFixed(0)} ms`,
      );
    await engine.idle();
    const resync = await engine.resync();
    if (process.env.W1_HEAP_SNAPSHOT) {
      const { writeHeapSnapshot } = await import('node:v8');
      console.log(
        'heap',
        JSON.stringify(process.memoryUsage()),
        writeHeapSnapshot(process.env.W1_HEAP_SNAPSHOT),
      );
    }
    const writes = resync.counts.create + resync.counts.update + resync.counts.delete;
    const requestsAfterApply = plugin.views.netlinkTotals().requests;
    const dumps = plugin.views.all().reduce((n, v) => n + v.handle.socket.counters.dumps, 0);
    const sends = plugin.views.all().reduce((n, v) => n + v.handle.socket.counters.sendCalls, 0);

    const txBefore = engine.transactions().length;
    const teardownProfiler = process.env.W1_PROFILE_TEARDOWN ? await startProfiler() : undefined;
    const teardownStall = stallWatch();
    const teardown = await timed(async () => {
      await engine.commit({ deletes: raw.map((r) => r.key) });
      for (;;) {
        const hubView = plugin.views.get(`named/${hub}`);
        const left = hubView
          ? (await hubView.handle.linkList()).filter((l) => l.name.startsWith('x')).length
          : 0;
        if (left === 0) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    const teardownStallMs = teardownStall.stop();
    const pairStalls = await pairDeletionStalls(engine, plugin, label, hub, namespaces[0]!, 20);
    const pairStallMs = pairStalls[Math.floor(pairStalls.length / 2)]!;
    if (teardownProfiler) await teardownProfiler.stop(process.env.W1_PROFILE_TEARDOWN!);
    if (process.env.W1_DEBUG) {
      const txs = engine.transactions();
      console.log('teardown starts at transaction', txBefore);
      const t0 = txs[0]?.startedAt ?? 0;
      for (const t of txs)
        console.log(
          t.seq,
          (t.startedAt - t0).toFixed(0),
          'dur',
          t.durationMs.toFixed(0),
          `retrieve ${t.retrieveMs.toFixed(0)} plan ${t.planMs.toFixed(0)} execute ${t.executeMs.toFixed(0)}`,
          JSON.stringify(t.counts),
        );
      for (const t of txs.filter((t) => t.causes.includes('resync'))) {
        const kinds = new Map<string, number>();
        for (const op of t.operations) {
          const k = `${op.kind} ${op.descriptor} ${op.outcome} (${op.why})`;
          kinds.set(k, (kinds.get(k) ?? 0) + 1);
        }
        console.log('resync', t.seq, JSON.stringify([...kinds]), JSON.stringify(t.operations.slice(0, 2)));
      }
    }

    printTable(
      `W1 through engine + descriptors: ${N} VETH pairs, ${M} namespaces + hub, ${raw.length} items`,
      [
        ['ip -batch apply', `${base.ms.toFixed(0)} ms`],
        ['engine apply (all configured)', `${ours.ms.toFixed(0)} ms`],
        ['apply ratio (engine / ip)', `${ratio(ours.ms, base.ms)}`],
        ['CPU: ip -batch / engine', `${base.childCpuMs.toFixed(0)} ms / ${ours.cpuMs.toFixed(0)} ms`],
        ['netlink requests', `${requestsAfterApply} (${dumps} dumps, ${sends} sendmsg calls)`],
        ['resync right after: writes', `${writes} (in ${resync.durationMs.toFixed(0)} ms)`],
        ['teardown (delete all -> no link left)', `${teardown.ms.toFixed(0)} ms`],
        ['event loop held at most: apply / teardown', `${applyStallMs} ms / ${teardownStallMs} ms`],
        [
          'event loop held by one pair deletion (20)',
          `median ${pairStallMs} ms, max ${pairStalls[pairStalls.length - 1]} ms`,
        ],
      ],
    );
    printResult({
      engine_apply_ratio: ratio(ours.ms, base.ms),
      engine_apply_ms: Math.round(ours.ms),
      engine_apply_cpu_ratio: ratio(ours.cpuMs, base.childCpuMs),
      engine_ip_batch_apply_ms: Math.round(base.ms),
      engine_resync_writes: writes,
      engine_resync_ms: Math.round(resync.durationMs),
      engine_teardown_ms: Math.round(teardown.ms),
      engine_apply_stall_ms: applyStallMs,
      engine_teardown_stall_ms: teardownStallMs,
      engine_pair_delete_stall_ms: pairStallMs,
    });
  } finally {
    plugin.close();
    await engine.close();
    deleteNamespaces([hub, ...namespaces]);
  }
}

await main();
