/**
 * What GET /v1/topology and POST /v1/plan return for the topology page: the shapes shared by the agent
 * (which builds them) and the page (which draws them). Types only, so it compiles for Node and for
 * the browser alike and emits nothing either side depends on at run time.
 */
export type TopologyState = 'configured' | 'pending' | 'failed' | 'invalid' | 'removed';

export interface TopologyFieldError {
  field: string;
  message: string;
}

/** What every configuration item shows: its key, name and state, with the state's words. */
export interface TopologyItem {
  key: string;
  name: string;
  state: TopologyState;
  /** pending: what it waits for. */
  reason?: string;
  /** failed: the last error. */
  error?: string;
  /** invalid: the problems of the refused value (the previous valid value, if any, is shown). */
  fieldErrors?: TopologyFieldError[];
}

export type NamespaceKind = 'default' | 'pid' | 'microservice' | 'named' | 'file';

export interface TopologyNamespace {
  /** The model's canonical id: 'default', 'named/ns1', 'pid/42', 'microservice/ms-a', 'file/<path>'. */
  id: string;
  kind: NamespaceKind;
  /** For people: 'default', 'named ns1', 'pid 42', 'file /run/x', 'microservice ms-a'. */
  title: string;
  /** The agent has the namespace open (it exists and is watched). */
  available: boolean;
  /** microservice: the running container the label resolves to, when Docker reports one. */
  container?: { id: string; name: string; pid: number };
}

export interface TopologyInterface extends TopologyItem {
  namespace: string;
  /** VETH, AUTO_TAP, LOOPBACK, DUMMY, EXISTING. */
  type: string;
  hostIfName: string;
  enabled: boolean;
  mtu?: number;
  ipAddresses: string[];
  physAddress?: string;
  description?: string;
  /** VETH: the config key of the other end. */
  peer?: string;
  /** AUTO_TAP: the TAP's name before the agent takes it. */
  tempIfName?: string;
  /** What the kernel reports for an applied interface. */
  kernel?: { ifindex: number; operState: string; mtu: number; mac?: string };
}

export interface TopologyRoute extends TopologyItem {
  namespace: string;
  interface?: string;
  dst: string;
  gateway?: string;
  metric: number;
  table: number;
}

export interface TopologyArp extends TopologyItem {
  namespace: string;
  interface: string;
  ipAddress: string;
  hwAddress: string;
  nudState: string;
}

/** An item whose value never was valid: it has no namespace to be drawn in. */
export interface TopologyUnplaced extends TopologyItem {
  kind: 'interface' | 'route' | 'arp';
}

export interface Topology {
  label: string;
  namespaces: TopologyNamespace[];
  interfaces: TopologyInterface[];
  routes: TopologyRoute[];
  arps: TopologyArp[];
  unplaced: TopologyUnplaced[];
}

/** What a plan does to one thing: a configuration item (by key) or a named namespace (by id). */
export type PlanChange = 'create' | 'change' | 'recreate' | 'remove' | 'pending' | 'invalid';

export interface PlanEntry {
  /** A configuration key, or `named-namespace/<name>` for a namespace the agent would create or remove. */
  key: string;
  change: PlanChange;
  /** In words: "new", "value changed", a pending reason, field errors... */
  why: string;
}

/** POST /v1/plan, beyond the engine's raw `actions`: one entry per item, and the planned topology. */
export interface PlanSummary {
  entries: PlanEntry[];
  /** The topology as it would be once applied (when asked for with `topology: true`). */
  topology?: Topology;
}
