/**
 * Reconcile engine benchmark (issue 3): the engine's own overhead, against descriptors that do
 * nothing. No root needed.
 *
 *   node dist/bench/engine.js [N=10000]
 *
 * Workload: groups of 4 items shaped like W1's: an interface (depends on its namespace fact,
 * re-created when it changes), its address (derived, depends on the interface), a route and an
 * ARP entry (depend on the interface). Namespaces: 50 facts, plus one namespace "shared" holding
 * 2,000 of the items.
 * Figures: engine_us_per_item (commit of N items, plan + execute, median of 5), the growth from
 * N/10 to N items and from N to 10N (linear = 10), the re-plan of a flip of the shared namespace (2,000 items
 * re-created), a resync over the right state (zero writes).
 */
import { performance } from 'node:perf_hooks';
import { Engine, type Descriptor, type TransactionRecord } from '../src/scheduler/index.js';
import { printResult, printTable } from './harness.js';

const N = Number(process.argv[2] ?? 10_000);
const SHARED_ITEMS = 2_000;
const RUNS = 5;

interface Iface {
  ns: string;
  address: string;
}

function engineWithNoopDescriptors(): { engine: Engine; writes: () => number } {
  let writes = 0;
  const engine = new Engine({ historyOperationLimit: 100 });
  const noop = <V>(
    name: string,
    prefix: string,
    extra: Partial<Descriptor<V, number>>,
  ): Descriptor<V, number> => ({
    name,
    keyPrefix: prefix,
    create: () => {
      writes++;
      return Promise.resolve(writes);
    },
    update: (_v, _k, _b, _a, m) => {
      writes++;
      return Promise.resolve(m);
    },
    delete: () => {
      writes++;
      return Promise.resolve();
    },
    ...extra,
  });
  engine.register(
    noop<Iface>('interface', 'if/', {
      handles: (key) => !key.includes('/address/'),
      dependencies: (_key, v) => [
        { key: `fact/ns/${v.ns}`, reason: `waiting for namespace ${v.ns}`, recreateOnChange: true },
      ],
      derived: (key, v) => [
        { key: `${key}/address/${v.address}`, value: { iface: key, cidr: v.address }, descriptor: 'address' },
      ],
      retrieve: (view, desired) =>
        Promise.resolve(
          desired.map((d) => ({
            key: d.key,
            value: d.value,
            metadata: view.metadata<number>(d.key) ?? 0,
            managed: true,
          })),
        ),
    }),
  );
  engine.register(
    noop<{ iface: string; cidr: string }>('address', 'if/', {
      handles: (key) => key.includes('/address/'),
      dependencies: (_key, v) => [{ key: v.iface, reason: `waiting for ${v.iface}` }],
      retrieveAfter: ['interface'],
      retrieve: (view, desired) =>
        Promise.resolve(
          desired.map((d) => ({
            key: d.key,
            value: d.value,
            metadata: view.metadata<number>(d.key) ?? 0,
            managed: true,
          })),
        ),
    }),
  );
  for (const kind of ['route', 'arp']) {
    engine.register(
      noop<{ iface: string }>(kind, `${kind}/`, {
        dependencies: (_key, v) => [{ key: v.iface, reason: `waiting for interface ${v.iface}` }],
        retrieve: (view, desired) =>
          Promise.resolve(
            desired.map((d) => ({
              key: d.key,
              value: d.value,
              metadata: view.metadata<number>(d.key) ?? 0,
              managed: true,
            })),
          ),
      }),
    );
  }
  return { engine, writes: () => writes };
}

/** Items for `n` (a multiple of 4): the first `shared` of them in namespace "shared". */
function workload(n: number, shared: number): { key: string; value: unknown }[] {
  const puts: { key: string; value: unknown }[] = [];
  for (let g = 0; g < n / 4; g++) {
    const ns = g * 4 < shared ? 'shared' : `ns${g % 50}`;
    const iface = `if/veth${g}`;
    puts.push({
      key: iface,
      value: { ns, address: `10.${(g >> 14) & 255}.${(g >> 6) & 255}.${(g & 63) * 4 + 1}/30` },
    });
    puts.push({ key: `route/r${g}`, value: { iface, dst: `192.168.${g & 255}.0/24` } });
    puts.push({ key: `arp/a${g}`, value: { iface, ip: `10.0.0.${g & 255}` } });
  }
  return puts;
}

function facts(): { key: string; value: unknown }[] {
  const out = [{ key: 'fact/ns/shared', value: { inode: 1 } }];
  for (let i = 0; i < 50; i++) out.push({ key: `fact/ns/ns${i}`, value: { inode: 100 + i } });
  return out;
}

/** Items counted: config values plus derived addresses (n/4 groups x 4). */
async function applyOnce(
  n: number,
): Promise<{ ms: number; record: TransactionRecord; engine: Engine; writes: () => number }> {
  const { engine, writes } = engineWithNoopDescriptors();
  await engine.notify(facts());
  const puts = workload(n, Math.min(SHARED_ITEMS, n));
  const start = performance.now();
  const record = await engine.commit({ puts });
  const ms = performance.now() - start;
  if (record.counts.create !== n) throw new Error(`expected ${n} creates, got ${record.counts.create}`);
  return { ms, record, engine, writes };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function medianApply(
  n: number,
  runCount = RUNS,
): Promise<{ ms: number; planMs: number; executeMs: number }> {
  const runs: { ms: number; planMs: number; executeMs: number }[] = [];
  for (let i = 0; i < runCount; i++) {
    const r = await applyOnce(n);
    runs.push({ ms: r.ms, planMs: r.record.planMs, executeMs: r.record.executeMs });
    await r.engine.close();
  }
  const ms = median(runs.map((r) => r.ms));
  return { ms, planMs: median(runs.map((r) => r.planMs)), executeMs: median(runs.map((r) => r.executeMs)) };
}

async function main(): Promise<void> {
  await applyOnce(N); // warm-up (JIT)
  const small = await medianApply(N / 10);
  const large = await medianApply(N);

  const { engine, writes } = await applyOnce(N);
  // Dry run of the flip: planning only.
  const dryStart = performance.now();
  const dry = engine.plan({ facts: [{ key: 'fact/ns/shared', value: { inode: 2 } }] });
  const dryMs = performance.now() - dryStart;
  const flip = await engine.notify([{ key: 'fact/ns/shared', value: { inode: 2 } }]);
  const gone = await engine.notify([{ key: 'fact/ns/shared', deleted: true }]);
  const back = await engine.notify([{ key: 'fact/ns/shared', value: { inode: 3 } }]);
  const before = writes();
  const resync = await engine.resync();
  const resyncWrites = writes() - before;
  const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
  await engine.close();
  if (!flip || !gone || !back) throw new Error('notification lost');
  // Last: its large heap would slow the figures above down.
  const huge = await medianApply(N * 10, 3);

  const usPerItem = (large.ms * 1000) / N;
  const growth = large.ms / small.ms;
  const growthUp = huge.ms / large.ms;
  printTable(`reconcile engine, no-op descriptors, median of ${RUNS}`, [
    [
      `apply ${N / 10} items`,
      `${small.ms.toFixed(1)} ms (plan ${small.planMs.toFixed(1)}, execute ${small.executeMs.toFixed(1)})`,
    ],
    [
      `apply ${N} items`,
      `${large.ms.toFixed(1)} ms (plan ${large.planMs.toFixed(1)}, execute ${large.executeMs.toFixed(1)})`,
    ],
    [
      `apply ${N * 10} items (median of 3)`,
      `${huge.ms.toFixed(1)} ms (plan ${huge.planMs.toFixed(1)}, execute ${huge.executeMs.toFixed(1)})`,
    ],
    ['engine overhead per item', `${usPerItem.toFixed(2)} us`],
    [`growth ${N / 10} -> ${N} items`, `${growth.toFixed(2)}x time`],
    [`growth ${N} -> ${N * 10} items`, `${growthUp.toFixed(2)}x time`],
    [
      `flip shared namespace (${SHARED_ITEMS} items): dry-run plan`,
      `${dryMs.toFixed(1)} ms, ${dry.plan.deletes.length + dry.plan.applies.length} operations`,
    ],
    [
      'flip: transaction (plan / total)',
      `${flip.planMs.toFixed(1)} / ${flip.durationMs.toFixed(1)} ms, ${flip.counts.planned} operations`,
    ],
    [
      'namespace gone: transaction',
      `${gone.durationMs.toFixed(1)} ms, ${gone.counts.delete} removed, ${gone.counts.pending} pending`,
    ],
    ['namespace back: transaction', `${back.durationMs.toFixed(1)} ms, ${back.counts.create} created`],
    [`resync over right state (${N} items)`, `${resync.durationMs.toFixed(1)} ms, ${resyncWrites} writes`],
    ['heap used at the end (not collected)', `${heapMb.toFixed(0)} MiB`],
  ]);
  printResult({
    engine_us_per_item: Math.round(usPerItem * 100) / 100,
    items: N,
    growth_ratio_10x: Math.round(growth * 100) / 100,
    growth_ratio_10x_to_100x: Math.round(growthUp * 100) / 100,
    flip_replan_ms: Math.round(flip.planMs * 100) / 100,
    flip_dry_run_ms: Math.round(dryMs * 100) / 100,
    flip_transaction_ms: Math.round(flip.durationMs * 100) / 100,
    flip_items: SHARED_ITEMS,
    resync_ms: Math.round(resync.durationMs * 100) / 100,
    resync_writes: resyncWrites,
  });
}

await main();
