/**
 * What the HTTP API needs from the agent: a narrow interface, so the server is tested with a fake
 * and the agent's internals can change freely. Shapes follow DESIGN.md section 4.
 */
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

/** A server-sent event: item state changes and interface index registry changes. */
export interface AgentEvent {
  type: 'state' | 'link' | 'transaction';
  data: unknown;
}

export interface AgentService {
  readonly version: string;
  status(): ItemStatus[];
  statusOf(key: string): ItemStatus | undefined;
  getConfig(key: string): Promise<ConfigEntry | undefined>;
  listConfig(prefix: string): Promise<ConfigEntry[]>;
  /** Validates, then stores; invalid values are refused with field errors and not stored. */
  putConfig(key: string, valueText: string): Promise<PutResult>;
  /** False when there was nothing under the key. */
  deleteConfig(key: string): Promise<boolean>;
  kernel(): Promise<unknown>;
  history(): unknown[];
  /** What a set of puts/deletes would do, without doing it. */
  plan(change: { puts: { key: string; valueText: string }[]; deletes: string[] }): Promise<unknown>;
  /** Subscribes to events; returns the unsubscribe function. */
  subscribe(listener: (event: AgentEvent) => void): () => void;
  /** Version, label and store of the running agent (support bundles). */
  about(): Record<string, unknown>;
  /** The agent's last log lines (support bundles). */
  logs(): string[];
  /** Prometheus exposition text. */
  metrics(): Promise<{ contentType: string; body: string }>;
}
