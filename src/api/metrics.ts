/** Prometheus metrics of the agent, on a registry of its own (no process-global state). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ItemState } from './service.js';

const STATES: ItemState[] = ['configured', 'pending', 'failed', 'invalid', 'removed'];

export interface NetlinkTotals {
  requests: number;
  errors: number;
}

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly transactions: Counter<'outcome'>;
  private readonly transactionSeconds: Histogram;
  private readonly operations: Counter<'kind' | 'outcome'>;
  private readonly items: Gauge<'state'>;
  private readonly reconnects: Counter<'store'>;
  private itemCounts: () => Partial<Record<ItemState, number>> = () => ({});
  private netlinkTotals: () => NetlinkTotals = () => ({ requests: 0, errors: 0 });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'netns_agent_' });
    this.transactions = new Counter({
      name: 'netns_agent_transactions_total',
      help: 'Transactions executed by the reconcile engine, by outcome',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.transactionSeconds = new Histogram({
      name: 'netns_agent_transaction_duration_seconds',
      help: 'Duration of reconcile transactions',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [this.registry],
    });
    this.operations = new Counter({
      name: 'netns_agent_operations_total',
      help: 'Operations executed through descriptors (create, update, delete), by outcome',
      labelNames: ['kind', 'outcome'],
      registers: [this.registry],
    });
    // prom-client calls collect() with the metric as `this`: read the agent's figures through closures.
    const itemCount = (state: ItemState): number => this.itemCounts()[state] ?? 0;
    const netlink = (): NetlinkTotals => this.netlinkTotals();
    this.items = new Gauge({
      name: 'netns_agent_items',
      help: 'Configuration items by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        for (const state of STATES) this.set({ state }, itemCount(state));
      },
    });
    new Gauge({
      name: 'netns_agent_pending_items',
      help: 'Items waiting for a prerequisite',
      registers: [this.registry],
      collect() {
        this.set(itemCount('pending'));
      },
    });
    new Counter({
      name: 'netns_agent_netlink_requests_total',
      help: 'rtnetlink requests sent',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(netlink().requests);
      },
    });
    new Counter({
      name: 'netns_agent_netlink_errors_total',
      help: 'rtnetlink requests the kernel refused or that failed',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(netlink().errors);
      },
    });
    this.reconnects = new Counter({
      name: 'netns_agent_datastore_reconnects_total',
      help: 'Datastore connections lost and re-established',
      labelNames: ['store'],
      registers: [this.registry],
    });
  }

  observeTransaction(seconds: number, ok: boolean): void {
    this.transactions.inc({ outcome: ok ? 'ok' : 'errors' });
    this.transactionSeconds.observe(seconds);
  }

  observeOperation(kind: string, ok: boolean): void {
    this.operations.inc({ kind, outcome: ok ? 'ok' : 'error' });
  }

  /** How items are counted by state, asked when metrics are scraped (not on every change). */
  setItemCounts(count: () => Partial<Record<ItemState, number>>): void {
    this.itemCounts = count;
  }

  setNetlinkTotals(read: () => NetlinkTotals): void {
    this.netlinkTotals = read;
  }

  datastoreReconnect(store: string): void {
    this.reconnects.inc({ store });
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
