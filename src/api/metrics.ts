/**
 * Prometheus metrics of the agent, on a registry of its own (no process-global state).
 *
 * prom-client (with its process collectors) costs some 60 ms of start-up and 13 MB: it is loaded
 * when metrics are first scraped. Until then the agent's figures are kept here as plain numbers,
 * and transaction durations as a bounded list that is replayed into the histogram when it loads
 * (it loads anyway when the list is full, so nothing is ever dropped).
 */
import type { Counter, Histogram, Metric, Registry } from 'prom-client';
import type { ItemState } from './service.js';

const STATES: ItemState[] = ['configured', 'pending', 'failed', 'invalid', 'removed'];
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];
/** Transaction durations kept before prom-client is loaded. */
const MAX_UNLOADED_OBSERVATIONS = 50_000;

export interface NetlinkTotals {
  requests: number;
  errors: number;
  /** Deletions answered "no such object": the object went with its link, or someone removed it. */
  alreadyGone: number;
}

interface Loaded {
  registry: Registry;
  transactionSeconds: Histogram;
  operations: Counter<'kind' | 'outcome'>;
}

/** 2^63 ns, rounded down: no real delay comes near it. */
const EMPTY_HISTOGRAM_MIN_SECONDS = 9e9;

/**
 * The event loop's delay histogram says 2^63 ns as its minimum while it holds no sample (the first
 * scrape, which is when prom-client starts sampling here): that reads as a 292-year lag. Reported
 * as NaN (no value) instead, as its mean already is.
 */
function withoutEmptyLagMinimum(metric: Metric | undefined): void {
  if (metric === undefined) return;
  const get = metric.get.bind(metric);
  metric.get = async () => {
    const snapshot = await get();
    for (const sample of snapshot.values) if (sample.value >= EMPTY_HISTOGRAM_MIN_SECONDS) sample.value = NaN;
    return snapshot;
  };
}

export class AgentMetrics {
  private loaded: Loaded | undefined;
  private loading: Promise<Loaded> | undefined;
  private readonly transactionCounts = { ok: 0, errors: 0 };
  /** Durations not yet in the histogram (before prom-client is loaded). */
  private unobserved: number[] = [];
  /** Operation counts by "kind outcome", before prom-client is loaded. */
  private readonly operationCounts = new Map<string, number>();
  private readonly reconnectCounts = new Map<string, number>();
  private readonly inSync = new Map<string, boolean>();
  private itemCounts: () => Partial<Record<ItemState, number>> = () => ({});
  private netlinkTotals: () => NetlinkTotals = () => ({ requests: 0, errors: 0, alreadyGone: 0 });

  observeTransaction(seconds: number, ok: boolean): void {
    this.transactionCounts[ok ? 'ok' : 'errors']++;
    if (this.loaded) this.loaded.transactionSeconds.observe(seconds);
    else {
      this.unobserved.push(seconds);
      if (this.unobserved.length >= MAX_UNLOADED_OBSERVATIONS) void this.load();
    }
  }

  /** `outcome`: done (ok), failed (error), skipped (not started: what it needs was missing). */
  observeOperation(kind: string, result: 'done' | 'failed' | 'skipped'): void {
    const outcome = result === 'done' ? 'ok' : result === 'failed' ? 'error' : 'skipped';
    if (this.loaded) this.loaded.operations.inc({ kind, outcome });
    else {
      const key = `${kind} ${outcome}`;
      this.operationCounts.set(key, (this.operationCounts.get(key) ?? 0) + 1);
    }
  }

  /** How items are counted by state, asked when metrics are scraped (not on every change). */
  setItemCounts(count: () => Partial<Record<ItemState, number>>): void {
    this.itemCounts = count;
  }

  setNetlinkTotals(read: () => NetlinkTotals): void {
    this.netlinkTotals = read;
  }

  /** The store in use: its reconnect count is exported from the start, at 0. */
  datastoreUsed(store: string): void {
    if (!this.reconnectCounts.has(store)) this.reconnectCounts.set(store, 0);
    if (!this.inSync.has(store)) this.inSync.set(store, false);
  }

  datastoreReconnect(store: string): void {
    this.reconnectCounts.set(store, (this.reconnectCounts.get(store) ?? 0) + 1);
  }

  /** Whether the store's watch is in sync now (a gauge for alerts: reconnects count only outages that ended). */
  datastoreInSync(store: string, inSync: boolean): void {
    this.inSync.set(store, inSync);
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    const { registry } = await this.load();
    // prom-client writes a gauge without samples yet (the event loop's mean delay) as "Nan"; the
    // text format spells it NaN, and Prometheus refuses the other.
    const body = (await registry.metrics()).replace(/ Nan$/gm, ' NaN');
    return { contentType: registry.contentType, body };
  }

  private load(): Promise<Loaded> {
    if (this.loaded) return Promise.resolve(this.loaded);
    this.loading ??= this.build().then((loaded) => {
      for (const seconds of this.unobserved) loaded.transactionSeconds.observe(seconds);
      this.unobserved = [];
      for (const [key, count] of this.operationCounts) {
        const [kind = '', outcome = ''] = key.split(' ');
        loaded.operations.inc({ kind, outcome }, count);
      }
      this.operationCounts.clear();
      this.loaded = loaded;
      return loaded;
    });
    return this.loading;
  }

  private async build(): Promise<Loaded> {
    const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = await import('prom-client');
    const registry = new Registry();
    // prom-client counts CPU from the moment it is loaded, which is the first scrape here: what the
    // process used before is added, so the counters are the process's whole CPU time, as users read them.
    const usedBefore = process.cpuUsage();
    collectDefaultMetrics({ register: registry, prefix: 'netns_agent_' });
    const addCpu = (name: string, micros: number): void => {
      const metric = registry.getSingleMetric(`netns_agent_process_cpu_${name}`);
      if (metric instanceof Counter) metric.inc(micros / 1e6);
    };
    addCpu('user_seconds_total', usedBefore.user);
    addCpu('system_seconds_total', usedBefore.system);
    addCpu('seconds_total', usedBefore.user + usedBefore.system);
    withoutEmptyLagMinimum(registry.getSingleMetric('netns_agent_nodejs_eventloop_lag_min_seconds'));
    // prom-client calls collect() with the metric as `this`: read the agent's figures through closures.
    const transactions = (): { ok: number; errors: number } => this.transactionCounts;
    const reconnects = (): Map<string, number> => this.reconnectCounts;
    const inSync = (): Map<string, boolean> => this.inSync;
    const itemCount = (state: ItemState): number => this.itemCounts()[state] ?? 0;
    const netlink = (): NetlinkTotals => this.netlinkTotals();
    new Counter({
      name: 'netns_agent_transactions_total',
      help: 'Transactions executed by the reconcile engine, by outcome: ok, or error (one operation or more failed)',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        this.reset();
        const counts = transactions();
        this.inc({ outcome: 'ok' }, counts.ok);
        this.inc({ outcome: 'error' }, counts.errors);
      },
    });
    const transactionSeconds = new Histogram({
      name: 'netns_agent_transaction_duration_seconds',
      help: 'Duration of reconcile transactions',
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
    const operations = new Counter({
      name: 'netns_agent_operations_total',
      help: 'Operations executed through descriptors (create, update, delete), by outcome',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    });
    new Gauge({
      name: 'netns_agent_items',
      help: 'Configuration items by state',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        for (const state of STATES) this.set({ state }, itemCount(state));
      },
    });
    new Gauge({
      name: 'netns_agent_pending_items',
      help: 'Items waiting for a prerequisite',
      registers: [registry],
      collect() {
        this.set(itemCount('pending'));
      },
    });
    new Counter({
      name: 'netns_agent_netlink_requests_total',
      help: 'rtnetlink requests sent',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(netlink().requests);
      },
    });
    new Counter({
      name: 'netns_agent_netlink_errors_total',
      help: 'rtnetlink requests the kernel refused or that failed (not deletions of what was already gone)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(netlink().errors);
      },
    });
    new Counter({
      name: 'netns_agent_netlink_already_gone_total',
      help: 'rtnetlink deletions answered "no such object" (removed with its link, or by someone else)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(netlink().alreadyGone);
      },
    });
    new Counter({
      name: 'netns_agent_datastore_reconnects_total',
      help: 'Datastore connections lost and re-established',
      labelNames: ['store'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [store, count] of reconnects()) this.inc({ store }, count);
      },
    });
    new Gauge({
      name: 'netns_agent_datastore_in_sync',
      help: '1 while the datastore watch is in sync, 0 while it is connecting or lost (the kernel is kept as it is then)',
      labelNames: ['store'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [store, ok] of inSync()) this.set({ store }, ok ? 1 : 0);
      },
    });
    return { registry, transactionSeconds, operations };
  }
}
