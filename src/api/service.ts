/**
 * What the HTTP API needs from the agent: a narrow interface, so the server is tested with a fake
 * and the agent's internals can change freely. Shapes follow DESIGN.md section 4.
 */
import type { PlanSummary, Topology } from '../web/contract/topology.js';

export type ItemState = 'configured' | 'pending' | 'failed' | 'invalid' | 'removed';

export interface FieldErrorView {
  key?: string;
  field: string;
  message: string;
}

export interface ItemStatus {
  key: string;
  state: ItemState;
  reason?: string;
  error?: string;
  /** failed: the error's stable code (e.g. ERR_ROUTE_REFUSED, ERR_NETLINK) and the field it is about. */
  errorCode?: string;
  errorField?: string;
  fieldErrors?: FieldErrorView[];
  retries?: number;
  nextRetryAt?: string;
  updatedAt: string;
  /** For interfaces: what the kernel reports (ifindex, oper state, MAC, MTU, counters). */
  interface?: InterfaceState;
}

export interface InterfaceState {
  name: string;
  hostIfName: string;
  namespace: string;
  ifindex: number;
  operState: string;
  mac?: string;
  mtu: number;
  stats?: Record<string, number>;
}

export interface ConfigEntry {
  key: string;
  value: unknown;
  revision?: number;
}

export type PutResult = { ok: true; revision?: number } | { ok: false; errors: FieldErrorView[] };

/**
 * Many values stored and keys deleted (one write each), or nothing at all: every refused value's or
 * key's field errors, with its key. `deleted`: the keys that had a value.
 */
export type WriteConfigResult =
  { ok: true; stored: number; deleted: string[]; revision: number } | { ok: false; errors: FieldErrorView[] };

/** A server-sent event: item state changes and interface index registry changes. */
export interface AgentEvent {
  type: 'state' | 'link' | 'transaction';
  data: unknown;
}

/** Whether the agent follows its datastore now, since when, and the last error if it does not. */
export interface DatastoreState {
  state: string;
  /** ISO time of the last change of state. */
  since: string;
  error?: string;
  /**
   * The store revision up to which the configuration is taken in: every change up to it was handed
   * to a transaction that has ended (`netnsctl apply --wait` waits for its puts' revisions).
   */
  revision?: number;
  /** ISO time the agent first read its whole configuration; absent until it has (a datastore away since its start). */
  configurationReadAt?: string;
}

/** POST /v1/plan: a set of puts and deletes, or the whole desired configuration (`replace`). */
export interface PlanRequest {
  puts: { key: string; valueText: string }[];
  deletes: string[];
  /** The puts are the whole configuration: every other item would be removed. */
  replace?: boolean;
  /** Also return the topology as it would be once applied (for the topology page). */
  topology?: boolean;
}

export interface PlanResult {
  /** The engine's dry run: one action per key it would touch, derived items included. */
  actions: unknown[];
  /** Puts refused by validation, with their field errors. */
  invalid: { key: string; errors: FieldErrorView[] }[];
  /** One entry per configuration item or named namespace (and the planned topology, if asked). */
  summary: PlanSummary;
  /** What the plan takes for granted about the kernel, in words, when it had to. */
  assumed?: string;
}

export interface AgentService {
  readonly version: string;
  status(): ItemStatus[];
  /** How many configuration items are in each state (cheap: no per-item rows). */
  statusCounts(): Partial<Record<ItemState, number>>;
  statusOf(key: string): ItemStatus | undefined;
  getConfig(key: string): Promise<ConfigEntry | undefined>;
  listConfig(prefix: string): Promise<ConfigEntry[]>;
  /** Validates, then stores; invalid values are refused with field errors and not stored. */
  putConfig(key: string, valueText: string): Promise<PutResult>;
  /**
   * Checks every value and key, then stores the values in one write and deletes the keys in
   * another; with one refused, nothing is written.
   */
  writeConfig(change: {
    puts: readonly { key: string; valueText: string }[];
    deletes: readonly string[];
  }): Promise<WriteConfigResult>;
  /** False when there was nothing under the key. */
  deleteConfig(key: string): Promise<boolean>;
  /** What the kernel holds, a namespace at a time (GET /v1/kernel's elements, in order). */
  kernel(): AsyncIterable<unknown>;
  history(): unknown[];
  /** The agent's label (document files are turned into its keys). */
  readonly label: string;
  /** What a set of puts/deletes would do, without doing it. */
  plan(change: PlanRequest): Promise<PlanResult>;
  /** Configured items by namespace with their states, for the topology page. */
  topology(): Topology;
  /** Subscribes to events; returns the unsubscribe function. */
  subscribe(listener: (event: AgentEvent) => void): () => void;
  /** Version, label and store of the running agent (support bundles). */
  about(): Record<string, unknown>;
  /** The configuration watch's state (see DatastoreState). */
  datastore(): DatastoreState;
  /**
   * Whether the items' states are known: the first full read of the configuration has been taken
   * in (its transaction ended). Before, an empty list would say "no items", which is not so.
   */
  statesKnown(): boolean;
  /** The agent's last log lines (support bundles). */
  logs(): string[];
  /** Prometheus exposition text. */
  metrics(): Promise<{ contentType: string; body: string }>;
}
