/**
 * Links (RTM_*LINK): struct ifinfomsg (u8 family, u8 pad, u16 type, i32 index, u32 flags, u32 change)
 * followed by IFLA_* attributes. A VETH is created with its peer described inside
 * IFLA_LINKINFO / IFLA_INFO_DATA / VETH_INFO_PEER, itself an ifinfomsg plus attributes, which can
 * carry IFLA_NET_NS_FD so the peer is born directly in another namespace.
 */
import { Attributes, MessageWriter } from './attributes.js';
import {
  IFF_LOWER_UP,
  IFF_RUNNING,
  IFF_UP,
  IFINFOMSG_LEN,
  AF_INET,
  IFLA_ADDRESS,
  IFLA_AF_SPEC,
  IFLA_INET_CONF,
  IFLA_ALT_IFNAME,
  IFLA_CARRIER,
  IFLA_EXT_MASK,
  IFLA_GROUP,
  IFLA_IFALIAS,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINK,
  IFLA_LINKINFO,
  IFLA_LINK_NETNSID,
  IFLA_MASTER,
  IFLA_MAX_MTU,
  IFLA_MIN_MTU,
  IFLA_MTU,
  IFLA_NET_NS_FD,
  IFLA_NET_NS_PID,
  IFLA_OPERSTATE,
  IFLA_PROP_LIST,
  IFLA_STATS64,
  IFLA_TXQLEN,
  VETH_INFO_PEER,
} from './constants.js';
import { beginMessage, type NetlinkMessage } from './message.js';
import { bytesToMac, macToBytes } from './ip.js';
import { NetlinkCodecError } from '../errors.js';

/** Settable properties of a link; absent means "leave as it is" (or the kernel's default on create). */
export interface LinkAttributes {
  name?: string;
  mtu?: number;
  mac?: string;
  /** Administrative state; sets IFF_UP in ifi_flags with ifi_change. */
  up?: boolean;
  /** IFLA_IFALIAS; an empty string clears it. */
  alias?: string;
  group?: number;
  txqlen?: number;
  /** Move to (or create in) the namespace of this open file descriptor. */
  namespaceFd?: number;
  namespacePid?: number;
  /** IPv4 settings of the interface (IFLA_AF_SPEC / AF_INET / IFLA_INET_CONF), IPV4_DEVCONF_* id -> value. */
  ipv4Settings?: ReadonlyMap<number, number>;
}

export type LinkKindSpec =
  { kind: 'veth'; peer: LinkAttributes & { index?: number } } | { kind: 'dummy' } | { kind: string };

export interface LinkStatistics {
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
  rxErrors: number;
  txErrors: number;
  rxDropped: number;
  txDropped: number;
}

export const OPER_STATES = [
  'unknown',
  'notpresent',
  'down',
  'lowerlayerdown',
  'testing',
  'dormant',
  'up',
] as const;
export type OperState = (typeof OPER_STATES)[number];

/** A link as the kernel reports it. */
export interface Link {
  index: number;
  name: string;
  /** ARPHRD_* hardware type (1 = ethernet, 772 = loopback). */
  hardwareType: number;
  flags: number;
  up: boolean;
  running: boolean;
  lowerUp: boolean;
  mtu: number;
  mac?: string;
  alias?: string;
  group: number;
  txqlen?: number;
  operState: OperState;
  carrier?: boolean;
  /** IFLA_INFO_KIND: 'veth', 'dummy', 'tun', ... absent for physical and loopback. */
  kind?: string;
  /** IFLA_LINK: for a VETH, the peer's ifindex (in the peer's namespace). */
  parentIndex?: number;
  /** IFLA_LINK_NETNSID: the nsid of the namespace holding the peer, seen from this one. */
  linkNetnsId?: number;
  masterIndex?: number;
  minMtu?: number;
  maxMtu?: number;
  altNames: string[];
  stats?: LinkStatistics;
}

function writeLinkAttributes(writer: MessageWriter, attrs: LinkAttributes): void {
  if (attrs.name !== undefined) writer.attrString(IFLA_IFNAME, attrs.name);
  if (attrs.mtu !== undefined) writer.attrU32(IFLA_MTU, attrs.mtu);
  if (attrs.mac !== undefined) writer.attrBytes(IFLA_ADDRESS, macToBytes(attrs.mac));
  if (attrs.txqlen !== undefined) writer.attrU32(IFLA_TXQLEN, attrs.txqlen);
  if (attrs.group !== undefined) writer.attrU32(IFLA_GROUP, attrs.group);
  if (attrs.alias !== undefined) writer.attrString(IFLA_IFALIAS, attrs.alias);
  if (attrs.namespaceFd !== undefined) writer.attrU32(IFLA_NET_NS_FD, attrs.namespaceFd);
  if (attrs.namespacePid !== undefined) writer.attrU32(IFLA_NET_NS_PID, attrs.namespacePid);
  if (attrs.ipv4Settings?.size) {
    const spec = writer.nestStart(IFLA_AF_SPEC);
    const inet = writer.nestStart(AF_INET);
    const conf = writer.nestStart(IFLA_INET_CONF);
    for (const [id, value] of attrs.ipv4Settings) writer.attrU32(id, value);
    writer.nestEnd(conf);
    writer.nestEnd(inet);
    writer.nestEnd(spec);
  }
}

function writeIfinfo(writer: MessageWriter, offset: number, index: number, up: boolean | undefined): void {
  writer.i32At(offset + 4, index);
  if (up !== undefined) {
    writer.u32At(offset + 8, up ? IFF_UP : 0);
    writer.u32At(offset + 12, IFF_UP);
  }
}

/**
 * RTM_NEWLINK / RTM_SETLINK / RTM_DELLINK / RTM_GETLINK request. `index` 0 with a name addresses the
 * link by name; for RTM_DELLINK, index 0 with a group deletes every link of that group.
 */
export function encodeLinkRequest(
  type: number,
  flags: number,
  index: number,
  attrs: LinkAttributes,
  kind?: LinkKindSpec,
): Buffer {
  const { writer, fixed } = beginMessage(type, flags, IFINFOMSG_LEN);
  writeIfinfo(writer, fixed, index, attrs.up);
  writeLinkAttributes(writer, attrs);
  if (kind) {
    const info = writer.nestStart(IFLA_LINKINFO);
    writer.attrString(IFLA_INFO_KIND, kind.kind);
    if ('peer' in kind) {
      const data = writer.nestStart(IFLA_INFO_DATA);
      const peer = writer.nestStart(VETH_INFO_PEER);
      const peerFixed = writer.zeros(IFINFOMSG_LEN);
      writeIfinfo(writer, peerFixed, kind.peer.index ?? 0, kind.peer.up);
      writeLinkAttributes(writer, kind.peer);
      writer.nestEnd(peer);
      writer.nestEnd(data);
    }
    writer.nestEnd(info);
  }
  return writer.finish();
}

/** RTM_GETLINK dump request (all links of the socket's namespace). */
export function encodeLinkDump(type: number, flags: number, extMask = 0): Buffer {
  const { writer } = beginMessage(type, flags, IFINFOMSG_LEN);
  if (extMask) writer.attrU32(IFLA_EXT_MASK, extMask);
  return writer.finish();
}

/** The counters of a struct rtnl_link_stats64 (IFLA_STATS64, or IFLA_STATS_LINK_64 of RTM_NEWSTATS). */
export function readStats64(data: Buffer | undefined): LinkStatistics | undefined {
  if (data === undefined || data.length < 64) return undefined;
  // Two 32-bit halves: no BigInt per counter (link events are many); exact up to 2^53.
  const u64 = (i: number): number => data.readUInt32LE(i * 8) + data.readUInt32LE(i * 8 + 4) * 0x100000000;
  return {
    rxPackets: u64(0),
    txPackets: u64(1),
    rxBytes: u64(2),
    txBytes: u64(3),
    rxErrors: u64(4),
    txErrors: u64(5),
    rxDropped: u64(6),
    txDropped: u64(7),
  };
}

function readAltNames(attributes: Attributes): string[] {
  const list = attributes.nested(IFLA_PROP_LIST);
  if (!list) return [];
  // IFLA_PROP_LIST holds repeated IFLA_ALT_IFNAME entries; Attributes keeps only one per type,
  // so walk the raw bytes here.
  const raw = attributes.bytes(IFLA_PROP_LIST) as Buffer;
  const names: string[] = [];
  let offset = 0;
  while (offset + 4 <= raw.length) {
    const length = raw.readUInt16LE(offset);
    const type = raw.readUInt16LE(offset + 2) & 0x3fff;
    if (length < 4 || offset + length > raw.length) break;
    if (type === IFLA_ALT_IFNAME) {
      const nul = raw.indexOf(0, offset + 4);
      names.push(
        raw.toString('utf8', offset + 4, nul === -1 || nul > offset + length ? offset + length : nul),
      );
    }
    offset += (length + 3) & ~3;
  }
  return names;
}

/** Of a link: the group it is in and its alias, nothing else. */
export interface LinkGroupMembership {
  index: number;
  group: number;
  alias?: string;
}

/** Decodes only what says which group a link is in and whose it is (a dump read for that alone). */
export function decodeLinkGroupMembership(message: NetlinkMessage): LinkGroupMembership {
  const payload = message.payload;
  if (payload.length < IFINFOMSG_LEN) throw new NetlinkCodecError('link message shorter than ifinfomsg');
  const attributes = Attributes.parse(payload, IFINFOMSG_LEN, payload.length);
  const membership: LinkGroupMembership = {
    index: payload.readInt32LE(4),
    group: attributes.u32(IFLA_GROUP) ?? 0,
  };
  const alias = attributes.string(IFLA_IFALIAS);
  if (alias) membership.alias = alias;
  return membership;
}

export function decodeLink(message: NetlinkMessage): Link {
  const payload = message.payload;
  if (payload.length < IFINFOMSG_LEN) throw new NetlinkCodecError('link message shorter than ifinfomsg');
  const attributes = Attributes.parse(payload, IFINFOMSG_LEN, payload.length);
  const flags = payload.readUInt32LE(8);
  const name = attributes.string(IFLA_IFNAME);
  if (name === undefined) throw new NetlinkCodecError('link message without IFLA_IFNAME');
  const linkInfo = attributes.nested(IFLA_LINKINFO);
  const address = attributes.bytes(IFLA_ADDRESS);
  const operState = attributes.u8(IFLA_OPERSTATE) ?? 0;
  const link: Link = {
    index: payload.readInt32LE(4),
    name,
    hardwareType: payload.readUInt16LE(2),
    flags,
    up: (flags & IFF_UP) !== 0,
    running: (flags & IFF_RUNNING) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    mtu: attributes.u32(IFLA_MTU) ?? 0,
    group: attributes.u32(IFLA_GROUP) ?? 0,
    operState: OPER_STATES[operState] ?? 'unknown',
    altNames: readAltNames(attributes),
  };
  if (address && address.length === 6) link.mac = bytesToMac(address);
  const alias = attributes.string(IFLA_IFALIAS);
  if (alias) link.alias = alias;
  const txqlen = attributes.u32(IFLA_TXQLEN);
  if (txqlen !== undefined) link.txqlen = txqlen;
  const carrier = attributes.u8(IFLA_CARRIER);
  if (carrier !== undefined) link.carrier = carrier !== 0;
  const kind = linkInfo?.string(IFLA_INFO_KIND);
  if (kind) link.kind = kind;
  const parent = attributes.u32(IFLA_LINK);
  if (parent !== undefined) link.parentIndex = parent;
  const netnsId = attributes.i32(IFLA_LINK_NETNSID);
  if (netnsId !== undefined) link.linkNetnsId = netnsId;
  const master = attributes.u32(IFLA_MASTER);
  if (master !== undefined) link.masterIndex = master;
  const minMtu = attributes.u32(IFLA_MIN_MTU);
  if (minMtu !== undefined) link.minMtu = minMtu;
  const maxMtu = attributes.u32(IFLA_MAX_MTU);
  if (maxMtu !== undefined) link.maxMtu = maxMtu;
  const stats = readStats64(attributes.bytes(IFLA_STATS64));
  if (stats) link.stats = stats;
  return link;
}
