/**
 * The kernel side of addresses, routes and static neighbour (ARP/NDP) entries. Writes use replace
 * semantics so that a retry, or a resync over an entry that is already right, is harmless.
 */
import {
  AF_INET,
  AF_INET6,
  IFA_F_NODAD,
  IFF_LOOPBACK,
  IFF_NOARP,
  IFF_POINTOPOINT,
  NUD_NOARP,
  NUD_PERMANENT,
  NUD_REACHABLE,
  NUD_STALE,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_SITE,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RTPROT_KERNEL,
  NetlinkError,
  ipToBytes,
  macToBytes,
  type Address,
  type Link,
  type Neighbour,
  type Route,
  type RouteSpec,
} from '../netlink/index.js';
import type { LinuxArpEntry, LinuxRoute, RouteScope } from '../model/index.js';
import type { NamespaceView } from './namespace-views.js';
import { AGENT_PROTOCOL, isOwnEntry, otherAgentOf } from './ownership.js';
import { isGone } from './link-ops.js';
import {
  LinkOfAnotherAgentError,
  NeighbourTakenError,
  RoutePlaceTakenError,
  ipv6OffByMtu,
  routeRefusal,
} from './errors.js';

export interface Cidr {
  address: string;
  prefixLength: number;
}

export function splitCidr(cidr: string): Cidr {
  const slash = cidr.lastIndexOf('/');
  return { address: cidr.slice(0, slash), prefixLength: Number(cidr.slice(slash + 1)) };
}

export async function addAddress(
  view: NamespaceView,
  ifindex: number,
  cidr: string,
  noDad: boolean,
): Promise<void> {
  const { address, prefixLength } = splitCidr(cidr);
  const v6 = address.includes(':');
  try {
    await view.handle.addrReplace({
      index: ifindex,
      address,
      prefixLength,
      ...(v6 && noDad ? { flags: IFA_F_NODAD } : {}),
      // The kernel refuses an IPv4 loopback address (127/8) of global scope ("Invalid scope value");
      // `ip` gives it host scope too.
      ...(!v6 && address.startsWith('127.') ? { scope: RT_SCOPE_HOST } : {}),
    });
  } catch (error) {
    throw v6 ? ipv6OffByMtu(error, linkNow(view, ifindex), `address ${cidr}`, 'ip_addresses') : error;
  }
}

/** A link as the kernel has it now: the events it sent before answering us are read first. */
function linkNow(view: NamespaceView, ifindex: number): Link | undefined {
  view.links.catchUp();
  return view.links.get(ifindex);
}

export async function removeAddress(
  view: NamespaceView | undefined,
  ifindex: number,
  cidr: string,
): Promise<void> {
  if (!view) return;
  const { address, prefixLength } = splitCidr(cidr);
  try {
    await view.handle.addrDel({ index: ifindex, address, prefixLength });
  } catch (error) {
    if (!isGone(error)) throw error;
  }
}

export function addressCidr(address: Address): string {
  return `${address.address}/${address.prefixLength}`;
}

/**
 * Whether `cidr` is the IPv6 link-local address the kernel gives a link of this MAC by itself
 * (fe80::/64 with the EUI-64 interface id, the default way it makes one). An item listing it did not
 * add it, so its removal from the item leaves it: without it the link has no link-local address,
 * and neighbour discovery and routes via link-local gateways stop working there.
 */
export function isKernelLinkLocal(cidr: string, mac: string | undefined): boolean {
  if (mac === undefined || !cidr.endsWith('/64') || !cidr.includes(':')) return false;
  const hardware = macToBytes(mac);
  if (hardware.length !== 6) return false;
  const eui64 = Buffer.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, hardware[0]! ^ 0x02, hardware[1]!, hardware[2]!]);
  const own = Buffer.concat([eui64, Buffer.from([0xff, 0xfe, hardware[3]!, hardware[4]!, hardware[5]!])]);
  return ipToBytes(cidr.slice(0, -3)).equals(own);
}

const SCOPES: Record<RouteScope, number> = {
  GLOBAL: RT_SCOPE_UNIVERSE,
  SITE: RT_SCOPE_SITE,
  LINK: RT_SCOPE_LINK,
  HOST: RT_SCOPE_HOST,
};

/** The configuration's name of a scope the kernel holds (undefined: one a user cannot ask for). */
export function routeScopeName(scope: number): RouteScope | undefined {
  return (Object.keys(SCOPES) as RouteScope[]).find((name) => SCOPES[name] === scope);
}

/** The metric the kernel gives an IPv6 route that asks for none (IP6_RT_PRIO_USER). */
export const IPV6_DEFAULT_METRIC = 1024;

export function routeSpec(route: LinuxRoute, oif: number | undefined): RouteSpec {
  const { address, prefixLength } = splitCidr(route.dst);
  const spec: RouteSpec = {
    family: route.family === 6 ? AF_INET6 : AF_INET,
    dstLength: prefixLength,
    table: route.table === 0 ? RT_TABLE_MAIN : route.table,
    protocol: AGENT_PROTOCOL,
  };
  if (prefixLength > 0) spec.dst = address;
  if (route.gateway !== undefined) spec.gateway = route.gateway;
  if (route.source !== undefined) spec.source = route.source;
  if (oif !== undefined) spec.oif = oif;
  if (route.metric) spec.metric = route.metric;
  // The kernel keeps an IPv6 route asked for with metric 0 as metric 1024 (IP6_RT_PRIO_USER): ask
  // for that, or the route read back is another one, and resync replaces it for ever.
  else if (spec.family === AF_INET6) spec.metric = IPV6_DEFAULT_METRIC;
  // IPv6 keeps no scope of its own (every route reads back as global): one given is ignored, so that
  // a change of it alone sends nothing (an IPv6 update deletes the route and adds it again).
  if (spec.family === AF_INET6) return spec;
  if (route.scope !== undefined && SCOPES[route.scope] !== undefined) spec.scope = SCOPES[route.scope];
  else if (route.gateway === undefined && oif !== undefined) spec.scope = RT_SCOPE_LINK;
  return spec;
}

/**
 * Adds a route where no other is; where one is, replaces it only if it is ours (a route of an
 * earlier run, or the previous value's), or the place was ours until someone replaced our route
 * (drift, `placeWasOurs`). Another's (the kernel's own network route of an address,
 * another program's) is left alone: a RoutePlaceTakenError.
 */
export async function addRoute(
  view: NamespaceView,
  spec: RouteSpec,
  label: string,
  placeWasOurs = false,
): Promise<void> {
  try {
    await addRouteThere(view, spec, label, placeWasOurs);
  } catch (thrown) {
    const link = spec.oif === undefined ? undefined : linkNow(view, spec.oif);
    const error = routeRefusal(thrown, spec, view.description, link?.name);
    const v6 = (spec.dst ?? spec.gateway ?? '').includes(':') || spec.family === AF_INET6;
    if (!v6 || spec.oif === undefined) throw error;
    const place = spec.dst === undefined ? 'default' : `${spec.dst}/${spec.dstLength}`;
    throw ipv6OffByMtu(error, linkNow(view, spec.oif), `route ${place}`, 'interface');
  }
}

async function addRouteThere(
  view: NamespaceView,
  spec: RouteSpec,
  label: string,
  placeWasOurs: boolean,
): Promise<void> {
  if (spec.oif !== undefined) refuseLinkOfAnotherAgent(view, spec.oif, label, 'route', 'interface');
  if (placeWasOurs) return view.handle.routeReplace(spec);
  try {
    await view.handle.routeAdd(spec);
    return;
  } catch (error) {
    if (!(error instanceof NetlinkError) || error.errnoName !== 'EEXIST') throw error;
  }
  const taken = foreignRouteAt(
    await view.handle.routeList(routeDumpFilter(spec)),
    spec,
    view.description,
    label,
    view.links,
  );
  if (taken) throw new RoutePlaceTakenError(taken, { field: 'dst_ip_addr' });
  await view.handle.routeReplace(spec);
}

/** Throws LinkOfAnotherAgentError when the link is one another label's agent marked as its own. */
function refuseLinkOfAnotherAgent(
  view: NamespaceView,
  ifindex: number,
  label: string,
  what: string,
  field: string,
): void {
  const link = view.links.get(ifindex);
  const other = otherAgentOf(label, link?.alias);
  if (other === undefined) return;
  throw new LinkOfAnotherAgentError(
    `${link?.name ?? `#${ifindex}`} in ${view.description} is a link of the agent labelled ${other}: ` +
      `a ${what} on it would pass for that agent's; not made`,
    { field },
  );
}

/** The dump that holds the routes at a spec's place (`foreignRouteAt`). */
export function routeDumpFilter(spec: RouteSpec): { family: number; table: number } {
  return { family: spec.family ?? specFamily(spec), table: spec.table ?? RT_TABLE_MAIN };
}

/** The links of a namespace by ifindex (a view's registry), for the aliases that tell whose they are. */
export interface LinksByIndex {
  get(index: number): { alias?: string | undefined; name?: string } | undefined;
}

/** A route of this agent: our protocol, through no link another agent marked. */
export function isOwnRoute(label: string, links: LinksByIndex, route: Route): boolean {
  return isOwnEntry(label, route.protocol, route.oif === undefined ? undefined : links.get(route.oif)?.alias);
}

/** A neighbour entry of this agent: our protocol, on no link another agent marked. */
export function isOwnNeighbour(label: string, links: LinksByIndex, neighbour: Neighbour): boolean {
  return isOwnEntry(label, neighbour.protocol, links.get(neighbour.index)?.alias);
}

/**
 * Why a route cannot be made at the spec's place without taking another's route (the kernel's own,
 * another program's, another agent's), or undefined when the place is free or holds a route of
 * this agent.
 */
export function foreignRouteAt(
  routes: readonly Route[],
  spec: RouteSpec,
  where: string,
  label: string,
  links: LinksByIndex,
): string | undefined {
  const place = specPlace(spec);
  const holder = routes.find((route) => routePlace(route) === place);
  // The route wanted here naming no interface, as made: ours whoever's link the kernel picked.
  const asWanted =
    spec.oif === undefined && holder?.protocol === AGENT_PROTOCOL && routeMatches(holder, spec);
  if (!holder || asWanted || isOwnRoute(label, links, holder)) return undefined;
  const dst = spec.dstLength > 0 ? `${spec.dst}/${spec.dstLength}` : 'default';
  const other =
    holder.protocol === AGENT_PROTOCOL && holder.oif !== undefined
      ? otherAgentOf(label, links.get(holder.oif)?.alias)
      : undefined;
  const how =
    other !== undefined
      ? `a route of the agent labelled ${other}`
      : holder.protocol === RTPROT_KERNEL
        ? "the kernel's own route"
        : `a route of protocol ${holder.protocol}`;
  return `route ${dst} (table ${holder.table}, metric ${holder.metric ?? 0}) in ${where} is ${how}, not made by this agent: not replaced`;
}

export async function removeRoute(view: NamespaceView | undefined, spec: RouteSpec): Promise<void> {
  if (!view) return;
  try {
    // Scope "nowhere" matches a route of any scope (as `ip route del` does): an IPv4 delete with
    // scope universe would miss a link-scope route (ESRCH, taken for "already gone"). A spec read
    // back by resync does not even know the scope.
    await view.handle.routeDel({ ...spec, scope: RT_SCOPE_NOWHERE });
  } catch (error) {
    // ESRCH: no such route (removed with its interface, or by someone else).
    if (!isGone(error)) throw error;
  }
}

/**
 * What routeMatches compares exactly, as one string: a route and a spec that match have the same.
 * Lets a resync find a dumped route's item by lookup instead of trying every wanted route. A spec
 * that names no interface matches a route through any (the kernel picks it): its identity is the
 * route's `withoutInterface`.
 */
export function routeIdentity(route: Route, withoutInterface = false): string {
  const oif = withoutInterface ? undefined : route.oif;
  return identity(route.dstLength, route.dst, route.table, route.gateway, oif, route.metric ?? 0);
}

export function specIdentity(spec: RouteSpec): string {
  const dst = spec.dstLength > 0 ? spec.dst : undefined;
  return identity(spec.dstLength, dst, spec.table ?? RT_TABLE_MAIN, spec.gateway, spec.oif, spec.metric ?? 0);
}

/**
 * Where the kernel keeps a route: another route at the same place replaces it (`ip route replace`),
 * whatever its gateway, interface or protocol. A route and the spec it was made from have the same.
 */
export function routePlace(route: Route): string {
  return identity(route.family, route.dstLength, route.dst, route.table, route.metric ?? 0);
}

export function specPlace(spec: RouteSpec): string {
  const dst = spec.dstLength > 0 ? spec.dst : undefined;
  return identity(specFamily(spec), spec.dstLength, dst, spec.table ?? RT_TABLE_MAIN, spec.metric ?? 0);
}

function specFamily(spec: RouteSpec): number {
  if (spec.family !== undefined) return spec.family;
  const address = spec.dst ?? spec.gateway ?? '';
  return address.includes(':') ? AF_INET6 : AF_INET;
}

function identity(...parts: (string | number | undefined)[]): string {
  return parts.map((part) => part ?? '').join('|');
}

/** Does a route the kernel holds match the spec in what the config sets? */
export function routeMatches(route: Route, spec: RouteSpec): boolean {
  return (
    route.dstLength === spec.dstLength &&
    (route.dst ?? undefined) === (spec.dstLength > 0 ? spec.dst : undefined) &&
    route.table === (spec.table ?? RT_TABLE_MAIN) &&
    route.gateway === spec.gateway &&
    (spec.oif === undefined || route.oif === spec.oif) &&
    (route.metric ?? 0) === (spec.metric ?? 0) &&
    (spec.source === undefined || route.source === spec.source) &&
    // IPv6 keeps no scope of its own (every route reads back as global).
    (spec.scope === undefined || route.family === AF_INET6 || route.scope === spec.scope)
  );
}

const NUD: Record<string, number> = {
  PERMANENT: NUD_PERMANENT,
  NOARP: NUD_NOARP,
  REACHABLE: NUD_REACHABLE,
  STALE: NUD_STALE,
};

export function neighbourState(entry: LinuxArpEntry): number {
  return NUD[entry.state] ?? NUD_PERMANENT;
}

/**
 * Adds a neighbour entry where none is; where one is, replaces it unless it is a static entry
 * (PERMANENT, NOARP) someone else made: that one is left alone (a NeighbourTakenError), since the
 * item's removal later would delete it. Entries the kernel learned, ours of an earlier run, and our
 * entry someone replaced (drift, `placeWasOurs`) are replaced.
 */
export async function addNeighbour(
  view: NamespaceView,
  ifindex: number,
  entry: LinuxArpEntry,
  label: string,
  placeWasOurs = false,
): Promise<void> {
  const spec = {
    index: ifindex,
    address: entry.ipAddress,
    mac: entry.hwAddress,
    state: neighbourState(entry),
    protocol: AGENT_PROTOCOL,
  };
  refuseLinkOfAnotherAgent(view, ifindex, label, 'ARP entry', 'interface');
  const v6 = entry.ipAddress.includes(':');
  const explained = (error: unknown): unknown =>
    v6 ? ipv6OffByMtu(error, linkNow(view, ifindex), `neighbour ${entry.ipAddress}`, 'interface') : error;
  if (placeWasOurs) {
    try {
      return await view.handle.neighReplace(spec);
    } catch (error) {
      throw explained(error);
    }
  }
  try {
    await view.handle.neighAdd(spec);
    return;
  } catch (error) {
    if (!(error instanceof NetlinkError) || error.errnoName !== 'EEXIST') throw explained(error);
  }
  const link = view.links.get(ifindex);
  const taken = foreignNeighbourAt(
    await view.handle.neighList({ index: ifindex }),
    { index: ifindex, name: link?.name, flags: link?.flags, alias: link?.alias },
    entry.ipAddress,
    view.description,
    label,
  );
  if (taken) throw new NeighbourTakenError(taken, { field: 'ip_addr' });
  await view.handle.neighReplace(spec);
}

/**
 * Why an entry for `address` on the link cannot be made without replacing a static entry (PERMANENT,
 * NOARP) someone else made, or undefined: no entry, a learned one, or ours.
 */
export function foreignNeighbourAt(
  neighbours: readonly Neighbour[],
  link: { index: number; name?: string | undefined; flags?: number | undefined; alias?: string | undefined },
  address: string,
  where: string,
  label: string,
): string | undefined {
  const holder = neighbours.find((n) => n.index === link.index && n.address === address);
  // On a link without ARP (IFF_NOARP, a loopback) the kernel itself makes every entry NOARP:
  // there only PERMANENT says someone set it.
  const staticStates =
    (link.flags ?? 0) & (IFF_NOARP | IFF_LOOPBACK) ? NUD_PERMANENT : NUD_PERMANENT | NUD_NOARP;
  if (!holder || isOwnEntry(label, holder.protocol, link.alias)) return undefined;
  // Another agent's entry is left alone whatever its state; someone else's only when static.
  const other = holder.protocol === AGENT_PROTOCOL ? otherAgentOf(label, link.alias) : undefined;
  const entryWhere = `ARP entry ${address} on ${link.name ?? `#${link.index}`} in ${where}`;
  const lladdr = holder.mac ? ` (lladdr ${holder.mac})` : '';
  if (other !== undefined)
    return `${entryWhere} is an entry of the agent labelled ${other}${lladdr}: not replaced`;
  if ((holder.state & staticStates) === 0) return undefined;
  const state = holder.state & NUD_PERMANENT ? 'permanent' : 'noarp';
  return `${entryWhere} is a static (${state}) entry not made by this agent${lladdr}: not replaced`;
}

/**
 * Why the kernel cannot keep a static entry for `address` on `link` as given, or undefined when it
 * can. On a loopback or point-to-point link it files every IPv4 neighbour entry under 0.0.0.0 (one
 * entry per link, whatever address it was asked for), so the entry is never found at its address: it
 * looked missing and was made again, while the 0.0.0.0 one passed for an orphan and was removed, in a
 * loop. IPv6 entries keep their address there (and on a loopback their MAC). A link without a MAC (a
 * tun, an IP tunnel) keeps no Ethernet address in its entries, so hw_address is never there. A link
 * set NOARP (`ip link set X arp off`) keeps both: its entries are only made NOARP by the kernel.
 */
export function neighbourlessLinkProblem(
  link: { name?: string | undefined; flags?: number | undefined; mac?: string | undefined },
  address: string,
): string | undefined {
  const name = link.name ?? 'the link';
  const flags = link.flags ?? 0;
  const kind =
    flags & IFF_LOOPBACK ? 'a loopback link' : flags & IFF_POINTOPOINT ? 'a point-to-point link' : '';
  if (kind !== '' && !address.includes(':'))
    return `${name} is ${kind}, which has no IPv4 neighbour entries of their own (the kernel files every one under 0.0.0.0)`;
  if (link.mac === undefined)
    return `${name} has no MAC address, so a neighbour entry there holds no hardware address`;
  return undefined;
}

export async function removeNeighbour(
  view: NamespaceView | undefined,
  ifindex: number,
  address: string,
): Promise<void> {
  if (!view) return;
  try {
    await view.handle.neighDel({ index: ifindex, address });
  } catch (error) {
    if (!isGone(error)) throw error;
  }
}

/**
 * A static entry (PERMANENT, NOARP) of ours that someone turned into another state (`ip neigh
 * change ... nud stale`): no longer static, the kernel may forget it or learn another MAC. Or the
 * other way: a dynamic one (REACHABLE, STALE) made static, which would never age or learn again.
 * (A REACHABLE one turning STALE, or probed, is the kernel's own ageing, not drift.)
 */
export function neighbourStateDrifted(neighbour: Neighbour, entry: LinuxArpEntry): boolean {
  const wanted = neighbourState(entry);
  const isStatic = (state: number): boolean => (state & (NUD_PERMANENT | NUD_NOARP)) !== 0;
  if (isStatic(wanted)) return (neighbour.state & wanted) === 0;
  return isStatic(neighbour.state);
}

/** The state name of the model that a kernel state is, as far as it is one of them. */
export function neighbourStateName(state: number): LinuxArpEntry['state'] {
  const named = Object.entries(NUD).find(([, bit]) => (state & bit) !== 0);
  return (named?.[0] ?? 'STALE') as LinuxArpEntry['state'];
}

export function neighbourMatches(neighbour: Neighbour, entry: LinuxArpEntry): boolean {
  return neighbour.mac === entry.hwAddress && (neighbour.state & neighbourState(entry)) !== 0;
}
