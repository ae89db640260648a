/**
 * A handle on one network namespace's rtnetlink, with iproute2-like operation names. All requests
 * go through one pipelined socket: callers may fire hundreds without awaiting each in turn.
 */
import { closeSync, openSync } from 'node:fs';
import { NetlinkSocket, type NetlinkSocketOptions } from './socket.js';
import { NetlinkError } from './errors.js';
import {
  AF_UNSPEC,
  NLM_F_CREATE,
  NLM_F_ECHO,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEIGH,
  RTM_DELROUTE,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETSTATS,
  RTM_NEWSTATS,
  RTM_GETNEIGH,
  RTM_GETROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  RTM_SETLINK,
} from './codec/constants.js';
import {
  decodeLink,
  decodeLinkGroupMembership,
  encodeLinkDump,
  encodeLinkRequest,
  type Link,
  type LinkGroupMembership,
  type LinkAttributes,
} from './codec/link.js';
import { decodeLinkStats, encodeLinkStatsDump, type LinkStatsReport } from './codec/link-stats.js';
import {
  decodeAddress,
  encodeAddressDump,
  encodeAddressRequest,
  type Address,
  type AddressSpec,
} from './codec/address.js';
import {
  decodeRoute,
  isKernelLocalRoute,
  routeProtocolOf,
  routeTypeOf,
  type RouteDumpFilter,
  encodeRouteDump,
  encodeRouteRequest,
  type Route,
  type RouteSpec,
} from './codec/route.js';
import {
  decodeNeighbour,
  encodeNeighbourDump,
  encodeNeighbourRequest,
  type Neighbour,
  type NeighbourSpec,
} from './codec/neighbour.js';
import { HEADER_FLAGS_OFFSET, type NetlinkMessage } from './codec/message.js';

/**
 * Attributes of a link to create; `namespacePath` or `namespaceFd` creates it directly in another
 * namespace.
 */
export interface NewLinkAttributes extends Omit<LinkAttributes, 'namespaceFd' | 'namespacePid'> {
  name: string;
  /** Ask for this ifindex (0 or absent: the kernel picks). */
  index?: number;
  namespacePath?: string;
  /** An open file of the namespace, which the caller keeps open (saves an open and a close per link). */
  namespaceFd?: number;
}

export interface VethSpec extends NewLinkAttributes {
  /**
   * The other end. It cannot be brought up at creation: the kernel configures the peer before it
   * links the two ends, and opening a VETH without its peer fails (ENOTCONN). Set it up afterwards,
   * through the handle of its namespace.
   */
  peer: Omit<NewLinkAttributes, 'up'>;
}

export type HandleOptions = NetlinkSocketOptions;

function withNamespaceFd<T>(
  path: string | undefined,
  openFd: number | undefined,
  run: (fd: number | undefined) => Promise<T>,
): Promise<T> {
  if (openFd !== undefined) return run(openFd);
  if (path === undefined) return run(undefined);
  const fd = openSync(path, 'r');
  return run(fd).finally(() => closeSync(fd));
}

function cidr(spec: { address: string; prefixLength: number }): string {
  return `${spec.address}/${spec.prefixLength}`;
}

function routeText(spec: RouteSpec, device: (index: number) => string): string {
  const dst = spec.dst === undefined || spec.dstLength === 0 ? 'default' : `${spec.dst}/${spec.dstLength}`;
  const via = spec.gateway ? ` via ${spec.gateway}` : '';
  const dev = spec.oif ? ` dev ${device(spec.oif)}` : '';
  const table = spec.table ? ` table ${spec.table}` : '';
  const metric = spec.metric !== undefined ? ` metric ${spec.metric}` : '';
  return `${dst}${via}${dev}${table}${metric}`;
}

function isNoDevice(error: unknown): boolean {
  return error instanceof NetlinkError && (error.errnoName === 'ENODEV' || error.errnoName === 'ENOENT');
}

/** Link messages decoded between two turns of the event loop. */
const LINK_DECODE_SLICE = 200;

export class NetlinkHandle {
  readonly socket: NetlinkSocket;
  readonly label: string;

  constructor(options: HandleOptions = {}) {
    this.socket = new NetlinkSocket(options);
    this.label = this.socket.label;
  }

  /**
   * Names a link in the texts of requests and errors ("dev veth1 (#7)" rather than "dev #7"); set by
   * whoever keeps the namespace's link table.
   */
  nameOfIndex: ((index: number) => string | undefined) | undefined;

  close(): void {
    this.socket.close();
  }

  private device(index: number): string {
    const name = this.nameOfIndex?.(index);
    return name === undefined ? `#${index}` : `${name} (#${index})`;
  }

  private request(message: Buffer, what: string): Promise<NetlinkMessage[]> {
    return this.socket.request(message, () => `${what} in ${this.label}`);
  }

  private dump(message: Buffer, what: string): Promise<NetlinkMessage[]> {
    return this.socket.dump(message, () => `${what} in ${this.label}`);
  }

  // ---- links ------------------------------------------------------------------------------

  async linkList(): Promise<Link[]> {
    const messages = await this.dump(encodeLinkDump(RTM_GETLINK, 0), 'link list');
    // A link message carries some fifty attributes: decoding a namespace of thousands of links in
    // one go would hold the event loop for tens of milliseconds, so other work gets turns between.
    const links: Link[] = [];
    for (let i = 0; i < messages.length; i++) {
      if (i > 0 && i % LINK_DECODE_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
      const message = messages[i]!;
      if (message.type === RTM_NEWLINK) links.push(decodeLink(message));
    }
    return links;
  }

  /**
   * Which group each link is in, and its alias: a link dump decoded only that far, cheap enough to
   * ask right before deleting a group (what the group holds must be known then, not remembered).
   */
  async linkGroupList(): Promise<LinkGroupMembership[]> {
    const messages = await this.dump(encodeLinkDump(RTM_GETLINK, 0), 'link group list');
    const memberships: LinkGroupMembership[] = [];
    for (const message of messages)
      if (message.type === RTM_NEWLINK) memberships.push(decodeLinkGroupMembership(message));
    return memberships;
  }

  /** Every link's counters, by ifindex: a dump of counters alone, ~7 times smaller than a link dump. */
  async linkStatsList(): Promise<LinkStatsReport[]> {
    const messages = await this.dump(encodeLinkStatsDump(RTM_GETSTATS, 0), 'link statistics');
    const reports: LinkStatsReport[] = [];
    for (const message of messages) {
      if (message.type !== RTM_NEWSTATS) continue;
      const report = decodeLinkStats(message);
      if (report) reports.push(report);
    }
    return reports;
  }

  /** The link with this name or index, or undefined when there is none. */
  async linkGet(nameOrIndex: string | number): Promise<Link | undefined> {
    const byIndex = typeof nameOrIndex === 'number';
    const message = encodeLinkRequest(
      RTM_GETLINK,
      0,
      byIndex ? nameOrIndex : 0,
      byIndex ? {} : { name: nameOrIndex },
    );
    try {
      const answer = await this.request(message, `link get ${nameOrIndex}`);
      const link = answer.find((m) => m.type === RTM_NEWLINK);
      return link ? decodeLink(link) : undefined;
    } catch (error) {
      if (isNoDevice(error)) return undefined;
      throw error;
    }
  }

  /**
   * Creates a VETH pair. The peer is born in `peer.namespacePath` (when given), never moved later.
   * Resolves with the local end as the kernel echoes it (its ifindex included).
   */
  /** Resolves with the new local end (undefined when it was created in another namespace). */
  linkAddVeth(spec: VethSpec): Promise<Link | undefined> {
    const { peer, namespacePath, namespaceFd, index, ...local } = spec;
    const { namespacePath: peerPath, namespaceFd: peerOpenFd, index: peerIndex, ...peerAttrs } = peer;
    return withNamespaceFd(namespacePath, namespaceFd, (fd) =>
      withNamespaceFd(peerPath, peerOpenFd, (peerFd) => {
        const message = encodeLinkRequest(
          RTM_NEWLINK,
          NLM_F_CREATE | NLM_F_EXCL,
          index ?? 0,
          { ...local, ...(fd === undefined ? {} : { namespaceFd: fd }) },
          {
            kind: 'veth',
            peer: {
              ...peerAttrs,
              index: peerIndex ?? 0,
              ...(peerFd === undefined ? {} : { namespaceFd: peerFd }),
            },
          },
        );
        return this.createThenGet(
          message,
          spec.name,
          `link add ${spec.name} type veth peer ${peer.name}`,
          fd !== undefined,
        );
      }),
    );
  }

  /**
   * Sends a creation with NLM_F_ECHO: the kernel answers with the new link (its ifindex included),
   * so one request does it. Kernels that do not echo new links (before 6.1) get a lookup by name.
   */
  private async createThenGet(
    message: Buffer,
    name: string,
    what: string,
    elsewhere: boolean,
  ): Promise<Link | undefined> {
    if (!elsewhere)
      message.writeUInt16LE(message.readUInt16LE(HEADER_FLAGS_OFFSET) | NLM_F_ECHO, HEADER_FLAGS_OFFSET);
    const answer = await this.request(message, what);
    const echoed = answer.find((m) => m.type === RTM_NEWLINK);
    if (echoed) return decodeLink(echoed);
    // Born in another namespace than this handle's: a lookup here could find a namesake.
    if (elsewhere) return undefined;
    return this.linkGet(name);
  }

  /** Creates a link of a kind without extra data (dummy, ...). */
  linkAdd(kind: string, attrs: NewLinkAttributes): Promise<Link | undefined> {
    const { namespacePath, namespaceFd, index, ...rest } = attrs;
    return withNamespaceFd(namespacePath, namespaceFd, (fd) => {
      const message = encodeLinkRequest(
        RTM_NEWLINK,
        NLM_F_CREATE | NLM_F_EXCL,
        index ?? 0,
        { ...rest, ...(fd === undefined ? {} : { namespaceFd: fd }) },
        { kind },
      );
      return this.createThenGet(message, attrs.name, `link add ${attrs.name} type ${kind}`, fd !== undefined);
    });
  }

  linkAddDummy(attrs: NewLinkAttributes): Promise<Link | undefined> {
    return this.linkAdd('dummy', attrs);
  }

  /** Changes several properties of a link in one request. */
  async linkSet(index: number, attrs: Omit<LinkAttributes, 'namespaceFd' | 'namespacePid'>): Promise<void> {
    const parts = Object.entries(attrs).map(([k, v]) =>
      v instanceof Map
        ? `${k} ${[...v].map(([id, value]) => `${id}=${value}`).join(',')}`
        : `${k} ${String(v)}`,
    );
    await this.request(
      encodeLinkRequest(RTM_SETLINK, 0, index, attrs),
      `link set ${this.device(index)} ${parts.join(' ')}`,
    );
  }

  linkSetUp(index: number): Promise<void> {
    return this.linkSet(index, { up: true });
  }
  linkSetDown(index: number): Promise<void> {
    return this.linkSet(index, { up: false });
  }
  linkSetMtu(index: number, mtu: number): Promise<void> {
    return this.linkSet(index, { mtu });
  }
  linkSetMac(index: number, mac: string): Promise<void> {
    return this.linkSet(index, { mac });
  }
  linkSetName(index: number, name: string): Promise<void> {
    return this.linkSet(index, { name });
  }
  linkSetAlias(index: number, alias: string): Promise<void> {
    return this.linkSet(index, { alias });
  }
  linkSetGroup(index: number, group: number): Promise<void> {
    return this.linkSet(index, { group });
  }

  /**
   * Moves a link to another namespace (it loses its addresses and routes there), named by its path
   * or by a file of it the caller keeps open until this settles.
   */
  linkSetNamespace(
    index: number,
    namespace: string | { fd: number; path: string },
    newName?: string,
  ): Promise<void> {
    const [path, openFd] =
      typeof namespace === 'string' ? [namespace, undefined] : [namespace.path, namespace.fd];
    return withNamespaceFd(path, openFd, async (fd) => {
      const attrs: LinkAttributes = { namespaceFd: fd as number, ...(newName ? { name: newName } : {}) };
      await this.request(
        encodeLinkRequest(RTM_SETLINK, 0, index, attrs),
        `link set ${this.device(index)} netns ${path}`,
      );
    });
  }

  async linkDel(index: number): Promise<void> {
    await this.request(encodeLinkRequest(RTM_DELLINK, 0, index, {}), `link del ${this.device(index)}`);
  }

  /**
   * Deletes every link of a group at once: the kernel unregisters them together and waits for one
   * RCU grace period instead of one per link (1000 VETH pairs in a fraction of a second).
   */
  async linkDelGroup(group: number): Promise<void> {
    await this.request(encodeLinkRequest(RTM_DELLINK, 0, 0, { group }), `link del group ${group}`);
  }

  // ---- addresses --------------------------------------------------------------------------

  async addrList(filter: { family?: number; index?: number } = {}): Promise<Address[]> {
    const message = encodeAddressDump(RTM_GETADDR, 0, filter.family ?? AF_UNSPEC, filter.index ?? 0);
    const messages = await this.dump(message, 'addr list');
    const addresses = messages.filter((m) => m.type === RTM_NEWADDR).map(decodeAddress);
    return filter.index ? addresses.filter((a) => a.index === filter.index) : addresses;
  }

  async addrAdd(spec: AddressSpec): Promise<void> {
    await this.request(
      encodeAddressRequest(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, spec),
      `addr add ${cidr(spec)} dev ${this.device(spec.index)}`,
    );
  }

  async addrReplace(spec: AddressSpec): Promise<void> {
    await this.request(
      encodeAddressRequest(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, spec),
      `addr replace ${cidr(spec)} dev ${this.device(spec.index)}`,
    );
  }

  async addrDel(spec: AddressSpec): Promise<void> {
    await this.request(
      encodeAddressRequest(RTM_DELADDR, 0, spec),
      `addr del ${cidr(spec)} dev ${this.device(spec.index)}`,
    );
  }

  // ---- routes -----------------------------------------------------------------------------

  /**
   * `kernelLocal: false` leaves out the kernel's local-table routes (see isKernelLocalRoute);
   * `protocol` and `routeType`: only routes of that protocol / type, which the kernel leaves out of
   * the dump itself (a namespace with a thousand addresses holds ~6000 routes of the kernel's).
   */
  async routeList(filter: RouteDumpFilter & { kernelLocal?: boolean } = {}): Promise<Route[]> {
    const { family = AF_UNSPEC, table, kernelLocal, protocol, routeType } = filter;
    const message = encodeRouteDump(RTM_GETROUTE, 0, { family, table, protocol, routeType });
    const messages = await this.dump(message, 'route list');
    const routes = messages
      .filter(
        (m) =>
          m.type === RTM_NEWROUTE &&
          (kernelLocal !== false || !isKernelLocalRoute(m)) &&
          // A kernel without strict dump checks sends them all.
          (protocol === undefined || routeProtocolOf(m) === protocol) &&
          (routeType === undefined || routeTypeOf(m) === routeType),
      )
      .map(decodeRoute);
    return table === undefined ? routes : routes.filter((r) => r.table === table);
  }

  async routeAdd(spec: RouteSpec): Promise<void> {
    await this.request(
      encodeRouteRequest(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, spec),
      `route add ${routeText(spec, (i) => this.device(i))}`,
    );
  }

  async routeReplace(spec: RouteSpec): Promise<void> {
    await this.request(
      encodeRouteRequest(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, spec),
      `route replace ${routeText(spec, (i) => this.device(i))}`,
    );
  }

  async routeDel(spec: RouteSpec): Promise<void> {
    await this.request(
      encodeRouteRequest(RTM_DELROUTE, 0, spec),
      `route del ${routeText(spec, (i) => this.device(i))}`,
    );
  }

  // ---- neighbours -------------------------------------------------------------------------

  async neighList(filter: { family?: number; index?: number } = {}): Promise<Neighbour[]> {
    const message = encodeNeighbourDump(RTM_GETNEIGH, 0, filter.family ?? AF_UNSPEC, filter.index ?? 0);
    const messages = await this.dump(message, 'neigh list');
    const neighbours = messages.filter((m) => m.type === RTM_NEWNEIGH).map(decodeNeighbour);
    return filter.index ? neighbours.filter((n) => n.index === filter.index) : neighbours;
  }

  async neighAdd(spec: NeighbourSpec): Promise<void> {
    await this.request(
      encodeNeighbourRequest(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL, spec),
      `neigh add ${spec.address} dev ${this.device(spec.index)}`,
    );
  }

  async neighReplace(spec: NeighbourSpec): Promise<void> {
    await this.request(
      encodeNeighbourRequest(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, spec),
      `neigh replace ${spec.address} dev ${this.device(spec.index)}`,
    );
  }

  async neighDel(spec: Omit<NeighbourSpec, 'state'> & { state?: number }): Promise<void> {
    await this.request(
      encodeNeighbourRequest(RTM_DELNEIGH, 0, { ...spec, state: spec.state ?? 0 }),
      `neigh del ${spec.address} dev ${this.device(spec.index)}`,
    );
  }
}
