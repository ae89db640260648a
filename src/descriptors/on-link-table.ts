/**
 * The networks each interface of one namespace reaches on-link: its addresses' networks (those the
 * kernel's routes of them reach: addressNetworks) and its gateway-less unicast routes. It answers
 * "can a route through this interface use this gateway".
 *
 * It is loaded from one address and route dump and then kept current from the namespace's address
 * and route events (the kernel's own IPv4 routes left out: their addresses stand for them), so that a
 * burst of a transaction's events costs no re-dump. Entries are keyed the way the kernel keys them
 * (address: interface + address + prefix; route: table + destination + priority + tos), so applying
 * an event twice, or an event the dump already reflects, is harmless. The kernel does not announce
 * every removal (IPv4 routes flushed with a link going down send no RTM_DELROUTE): the owner
 * re-loads the table when a link goes down or away, or events were lost.
 */
import {
  AF_INET6,
  IFA_F_DADFAILED,
  IFA_F_NOPREFIXROUTE,
  RTN_UNICAST,
  RTPROT_KERNEL,
  RT_SCOPE_LINK,
  ipToBytes,
  type Address,
  type KernelEvent,
  type Route,
} from '../netlink/index.js';
import { parsePrefix, samePrefixBits } from '../model/index.js';
import { ownLookupTable } from './fact-keys.js';

interface Network {
  index: number;
  bytes: Buffer;
  prefixLength: number;
  /** A route's table; undefined for an address (its network is on-link whatever the table). */
  table?: number;
  /** A route's priority (metric). */
  metric?: number;
}

/** An interface address with its prefix length. */
export interface AddressPrefix {
  bytes: Buffer;
  prefixLength: number;
}

/** A gateway-less route taken as removed (a dry run's): its network, table and metric, as the kernel keys it. */
export interface RouteNetwork extends AddressPrefix {
  table: number;
  metric: number;
}

/** A gateway-less route as a dry run names it: its network (CIDR), table (the kernel's number) and metric. */
export interface LinkRoutePlace {
  cidr: string;
  table: number;
  metric: number;
}

/** The same as the table compares it (undefined: not an address/prefix). */
export function routeNetworkOf(place: LinkRoutePlace): RouteNetwork | undefined {
  const prefix = addressPrefixOf(place.cidr);
  return prefix && { ...prefix, table: place.table, metric: place.metric };
}

/** An address in CIDR form as the table compares it (undefined: not an address/prefix). */
export function addressPrefixOf(cidr: string): AddressPrefix | undefined {
  const parsed = parsePrefix(cidr);
  if (!parsed.ok) return undefined;
  return { bytes: Buffer.from(parsed.value.address.bytes), prefixLength: parsed.value.prefixLength };
}

/**
 * Whether a network goes when the address goes: the address itself, or a route of its network (the
 * kernel's connected route; one of another program for the very same network is taken along).
 */
function goesWith(network: Network, address: AddressPrefix): boolean {
  if (network.prefixLength !== address.prefixLength || network.bytes.length !== address.bytes.length)
    return false;
  if (network.table === undefined) return network.bytes.equals(address.bytes);
  return samePrefixBits(network.bytes, address.bytes, address.prefixLength);
}

/** Whether a network is that route's (same table, network and metric). */
function isRoute(network: Network, route: RouteNetwork): boolean {
  return (
    network.table === route.table &&
    network.metric === route.metric &&
    network.prefixLength === route.prefixLength &&
    network.bytes.equals(route.bytes)
  );
}

/**
 * The networks an address makes on-link, as the kernel's own routes for it reach (the IPv4 ones
 * are left out of the table, their events do not come): an IPv4 address its network, or with a peer the peer's
 * network, and the local network not at all (fib_add_ifaddr); an IPv6 address its network, and with
 * a peer the peer itself (/128). `noprefixroute` makes no route of the address's network (an IPv6
 * peer's still comes); one that failed duplicate detection makes nothing reachable.
 */
function addressNetworks(address: Address): { own?: Network; peer?: Network } {
  if (address.flags & IFA_F_DADFAILED) return {};
  const noPrefixRoute = (address.flags & IFA_F_NOPREFIXROUTE) !== 0;
  const network = (text: string, prefixLength: number): Network => ({
    index: address.index,
    bytes: ipToBytes(text),
    prefixLength,
  });
  if (address.family !== AF_INET6) {
    if (noPrefixRoute) return {};
    return { own: network(address.peer ?? address.address, address.prefixLength) };
  }
  return {
    own: noPrefixRoute ? undefined : network(address.address, address.prefixLength),
    peer: address.peer === undefined ? undefined : network(address.peer, 128),
  };
}

/** fe80::/64, as the kernel makes it for each link with IPv6. */
function isLinkLocalNetwork(route: Route): boolean {
  return route.dstLength === 64 && route.dst !== undefined && /^fe80:/i.test(route.dst);
}

export class OnLinkTable {
  private readonly addresses = new Map<string, Network>();
  private readonly routes = new Map<string, Network>();
  /** The same networks by interface: a question is about one interface. */
  private readonly byIndex = new Map<number, Set<Network>>();

  static from(addresses: Address[], routes: Route[]): OnLinkTable {
    const table = new OnLinkTable();
    const changed = new Set<number>();
    for (const address of addresses) table.applyAddress(address, false, changed);
    for (const route of routes) table.applyRoute(route, false, changed);
    return table;
  }

  /**
   * Applies address and route events; other topics are ignored. Returns the interfaces (ifindex)
   * whose networks changed: only questions about those can have a new answer.
   */
  apply(events: KernelEvent[]): ReadonlySet<number> {
    const changed = new Set<number>();
    for (const event of events) {
      if (event.topic === 'address') this.applyAddress(event.address, event.removed, changed);
      else if (event.topic === 'route') this.applyRoute(event.route, event.removed, changed);
    }
    return changed;
  }

  /**
   * An interface (ifindex) that `usable` accepts with a network that holds the gateway; `without`
   * as for covers().
   */
  interfaceCovering(
    gateway: Buffer,
    usable: (index: number) => boolean,
    table = 0,
    without: readonly AddressPrefix[] = [],
    withoutRoutes: readonly RouteNetwork[] = [],
  ): number | undefined {
    for (const index of this.byIndex.keys())
      if (usable(index) && this.covers(index, gateway, table, without, withoutRoutes)) return index;
    return undefined;
  }

  /**
   * Whether a network of the interface holds the gateway of a route in `table` (0: main): an
   * address's, or a route's in that table or in one every lookup sees (fact-keys.ts). `without`:
   * addresses taken as removed (a dry run's), with the kernel's routes of their networks;
   * `withoutRoutes`: gateway-less routes taken as removed (a dry run's), each only itself.
   */
  covers(
    index: number,
    gateway: string | Buffer,
    table = 0,
    without: readonly AddressPrefix[] = [],
    withoutRoutes: readonly RouteNetwork[] = [],
  ): boolean {
    const bytes = typeof gateway === 'string' ? ipToBytes(gateway) : gateway;
    for (const n of this.byIndex.get(index) ?? []) {
      if (n.table !== undefined && n.table !== table && ownLookupTable(n.table)) continue;
      if (without.length > 0 && without.some((w) => goesWith(n, w))) continue;
      if (withoutRoutes.length > 0 && withoutRoutes.some((w) => isRoute(n, w))) continue;
      if (samePrefixBits(n.bytes, bytes, n.prefixLength)) return true;
    }
    return false;
  }

  /** Enters a network (in place of the one under its key, if any); adds what changed to `changed`. */
  private put(entries: Map<string, Network>, key: string, network: Network, changed: Set<number>): void {
    this.remove(entries, key, changed);
    entries.set(key, network);
    changed.add(network.index);
    let set = this.byIndex.get(network.index);
    if (!set) this.byIndex.set(network.index, (set = new Set()));
    set.add(network);
  }

  private remove(entries: Map<string, Network>, key: string, changed: Set<number>): void {
    const network = entries.get(key);
    if (!network) return;
    entries.delete(key);
    changed.add(network.index);
    const set = this.byIndex.get(network.index);
    set?.delete(network);
    if (set?.size === 0) this.byIndex.delete(network.index);
  }

  private applyAddress(address: Address, removed: boolean, changed: Set<number>): void {
    const key = `${address.index}|${address.address}/${address.prefixLength}`;
    const made = removed ? {} : addressNetworks(address);
    for (const [entryKey, network] of [
      [key, made.own],
      [`${key}|peer`, made.peer],
    ] as const) {
      if (!network) {
        this.remove(this.addresses, entryKey, changed);
        continue;
      }
      const before = this.addresses.get(entryKey);
      if (before && before.prefixLength === network.prefixLength && before.bytes.equals(network.bytes))
        continue;
      this.put(this.addresses, entryKey, network, changed);
    }
  }

  private applyRoute(route: Route, removed: boolean, changed: Set<number>): void {
    const dst = route.dst ?? (route.family === AF_INET6 ? '::' : '0.0.0.0');
    const key = `${route.table}|${dst}/${route.dstLength}|${route.metric ?? 0}|${route.tos}`;
    // IPv4 resolves a gateway only through routes of link or host scope (fib_check_nh): a
    // gateway-less route someone gave global scope does not make its network on-link.
    const onLink =
      !route.gateway &&
      route.oif !== undefined &&
      route.type === RTN_UNICAST &&
      (route.family === AF_INET6 || route.scope >= RT_SCOPE_LINK);
    // The kernel's own IPv4 routes (an address's network) and links' fe80::/64 are left out: what
    // they reach, their address tells (a link-local gateway needs only its link), and their events
    // do not come (codec/socket-filter.ts drops them). Kept from a dump, the route of an address's
    // network stayed after the address went, and a gateway there looked reachable for ever. Its
    // other IPv6 routes are followed: a prefix a router advertised is one, no address may stand for it.
    if (route.protocol === RTPROT_KERNEL && (route.family !== AF_INET6 || isLinkLocalNetwork(route))) return;
    if (removed || !onLink) {
      // A replaced route that now has a gateway no longer makes its destination on-link.
      return this.remove(this.routes, key, changed);
    }
    const before = this.routes.get(key);
    if (before && before.index === route.oif) return; // the same table: it is in the key
    const network = {
      index: route.oif!,
      bytes: ipToBytes(dst),
      prefixLength: route.dstLength,
      table: route.table,
      metric: route.metric ?? 0,
    };
    this.put(this.routes, key, network, changed);
  }
}
