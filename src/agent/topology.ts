/**
 * The host as users think of it, for the topology page (GET /v1/topology): namespaces with the
 * interfaces, routes and ARP entries configured in them, each with its state, and VETH ends linked
 * to their peers. Built from the desired values (already parsed by the model) and the items' states,
 * so it is cheap (no kernel request) and reads the same for the current state and a planned one.
 * Pure.
 */
import {
  configPrefix,
  parseConfigKey,
  namespaceId,
  type LinuxArpEntry,
  type LinuxInterface,
  type LinuxRoute,
  type NamespaceRef,
} from '../model/index.js';
import type {
  Topology,
  TopologyArp,
  TopologyInterface,
  TopologyItem,
  TopologyNamespace,
  TopologyRoute,
  TopologyUnplaced,
} from '../web/contract/topology.js';
import type { InterfaceState } from '../api/service.js';
import { naturalCompare } from '../util/natural-order.js';

/** One configuration item: its state, and its valid value in effect (none while never valid). */
export interface TopologyInput {
  key: string;
  status: Omit<TopologyItem, 'key' | 'name'>;
  value: LinuxInterface | LinuxRoute | LinuxArpEntry | undefined;
}

export interface TopologySources {
  label: string;
  items: Iterable<TopologyInput>;
  /** Kernel state of applied interfaces, by config key. */
  kernel: ReadonlyMap<string, InterfaceState>;
  /** Namespace ids the agent has open. */
  available: ReadonlySet<string>;
  /** The container a microservice label resolves to, if known. */
  container(label: string): { id: string; name: string; pid: number } | undefined;
}

function describe(ref: NamespaceRef): Omit<TopologyNamespace, 'available'> {
  const id = namespaceId(ref);
  switch (ref.kind) {
    case 'default':
      return { id, kind: 'default', title: 'default' };
    case 'pid':
      return { id, kind: 'pid', title: `pid ${ref.pid}` };
    case 'named':
      return { id, kind: 'named', title: `named ${ref.name}` };
    case 'file':
      return { id, kind: 'file', title: `file ${ref.path}` };
    case 'microservice':
      return { id, kind: 'microservice', title: `microservice ${ref.label}` };
  }
}

// Built by assignment rather than conditional spreads: this runs for every item of a W1-sized
// configuration on every refresh of every open page, and spreads allocate an object each.

function itemView<T extends TopologyItem>(input: TopologyInput, name: string, namespace: NamespaceRef): T {
  const view = { key: input.key, name, state: input.status.state } as T & { namespace: string };
  if (input.status.reason !== undefined) view.reason = input.status.reason;
  if (input.status.error !== undefined) view.error = input.status.error;
  if (input.status.fieldErrors !== undefined) view.fieldErrors = input.status.fieldErrors;
  view.namespace = namespaceId(namespace);
  return view;
}

function interfaceView(
  input: TopologyInput,
  value: LinuxInterface,
  interfacePrefix: string,
  kernel: InterfaceState | undefined,
): TopologyInterface {
  const view = itemView<TopologyInterface>(input, value.name, value.namespace);
  view.type = value.type;
  view.hostIfName = value.hostIfName;
  view.enabled = value.enabled;
  view.ipAddresses = value.ipAddresses;
  if (value.mtu !== undefined) view.mtu = value.mtu;
  if (value.physAddress !== undefined) view.physAddress = value.physAddress;
  if (value.description) view.description = value.description;
  // The model checked the peer's name: its key is the prefix and the name.
  if (value.type === 'VETH' && value.veth.peerIfName) view.peer = interfacePrefix + value.veth.peerIfName;
  if (value.type === 'AUTO_TAP') view.tempIfName = value.tap.tempIfName;
  if (kernel) {
    view.kernel = { ifindex: kernel.ifindex, operState: kernel.operState, mtu: kernel.mtu };
    if (kernel.mac) view.kernel.mac = kernel.mac;
  }
  return view;
}

function routeView(input: TopologyInput, value: LinuxRoute): TopologyRoute {
  const view = itemView<TopologyRoute>(input, value.name, value.namespace);
  if (value.interface !== undefined) view.interface = value.interface;
  view.dst = value.isDefault ? 'default' : value.dst;
  if (value.gateway !== undefined) view.gateway = value.gateway;
  view.metric = value.metric;
  view.table = value.table;
  return view;
}

function arpView(input: TopologyInput, value: LinuxArpEntry): TopologyArp {
  const view = itemView<TopologyArp>(input, value.name, value.namespace);
  view.interface = value.interface;
  view.ipAddress = value.ipAddress;
  view.hwAddress = value.hwAddress;
  view.nudState = value.state;
  return view;
}

export function buildTopology(sources: TopologySources): Topology {
  const topology: Topology = {
    label: sources.label,
    namespaces: [],
    interfaces: [],
    routes: [],
    arps: [],
    unplaced: [],
  };
  const interfacePrefix = configPrefix(sources.label, 'interface');
  const namespaces = new Map<string, TopologyNamespace>();
  const addNamespace = (ref: NamespaceRef): void => {
    const id = namespaceId(ref);
    if (namespaces.has(id)) return;
    const container = ref.kind === 'microservice' ? sources.container(ref.label) : undefined;
    namespaces.set(id, {
      ...describe(ref),
      available: sources.available.has(id),
      ...(container ? { container } : {}),
    });
  };
  for (const input of sources.items) {
    const parsed = parseConfigKey(input.key);
    if (!parsed) continue;
    if (input.value === undefined) {
      const view: TopologyUnplaced = {
        key: input.key,
        name: parsed.name,
        kind: parsed.kind,
        ...input.status,
      };
      topology.unplaced.push(view);
      continue;
    }
    addNamespace(input.value.namespace);
    if (parsed.kind === 'interface') {
      const value = input.value as LinuxInterface;
      topology.interfaces.push(interfaceView(input, value, interfacePrefix, sources.kernel.get(input.key)));
    } else if (parsed.kind === 'route') topology.routes.push(routeView(input, input.value as LinuxRoute));
    else topology.arps.push(arpView(input, input.value as LinuxArpEntry));
  }
  topology.namespaces = [...namespaces.values()].sort(byNamespace);
  const byName = (a: { name: string }, b: { name: string }): number => naturalCompare(a.name, b.name);
  topology.interfaces.sort(byName);
  topology.routes.sort(byName);
  topology.arps.sort(byName);
  topology.unplaced.sort(byName);
  return topology;
}

/** The agent's own namespace first, then by kind and name. */
function byNamespace(a: TopologyNamespace, b: TopologyNamespace): number {
  if (a.kind === 'default' || b.kind === 'default') return a.kind === 'default' ? -1 : 1;
  return naturalCompare(a.title, b.title);
}
