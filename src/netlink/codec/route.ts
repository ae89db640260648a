/**
 * Routes (RTM_*ROUTE): struct rtmsg (u8 family, dst_len, src_len, tos, table, protocol, scope, type;
 * u32 flags) followed by RTA_* attributes. Tables above 255 only fit in RTA_TABLE, which we always send.
 */
import { Attributes } from './attributes.js';
import {
  AF_INET,
  AF_INET6,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_SRC,
  RTA_TABLE,
  RTMSG_LEN,
  RTN_UNICAST,
  RTPROT_KERNEL,
  RTPROT_STATIC,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_LOCAL,
  RT_TABLE_MAIN,
  RT_TABLE_UNSPEC,
} from './constants.js';
import { beginMessage, type NetlinkMessage } from './message.js';
import { bytesToIp, familyOf, ipToBytes } from './ip.js';
import { NetlinkCodecError } from '../errors.js';

export interface RouteSpec {
  /** Destination network address; absent (with dstLength 0) for a default route. */
  dst?: string;
  dstLength: number;
  /** Needed when there is neither dst nor gateway to tell the family. */
  family?: number;
  gateway?: string;
  /** RTA_PREFSRC: the source address to prefer. */
  source?: string;
  oif?: number;
  metric?: number;
  table?: number;
  scope?: number;
  protocol?: number;
  type?: number;
}

export interface Route {
  family: number;
  dst?: string;
  dstLength: number;
  src?: string;
  srcLength: number;
  gateway?: string;
  source?: string;
  oif?: number;
  metric?: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  tos: number;
  flags: number;
}

function routeFamily(spec: RouteSpec): number {
  if (spec.dst !== undefined) return familyOf(spec.dst);
  if (spec.gateway !== undefined) return familyOf(spec.gateway);
  if (spec.family !== undefined) return spec.family;
  throw new NetlinkCodecError('a route needs a destination, a gateway or a family');
}

export function encodeRouteRequest(type: number, flags: number, spec: RouteSpec): Buffer {
  const family = routeFamily(spec);
  const table = spec.table ?? RT_TABLE_MAIN;
  const { writer, fixed } = beginMessage(type, flags, RTMSG_LEN);
  writer.u8At(fixed, family);
  writer.u8At(fixed + 1, spec.dstLength);
  writer.u8At(fixed + 4, table < 256 ? table : RT_TABLE_UNSPEC);
  writer.u8At(fixed + 5, spec.protocol ?? RTPROT_STATIC);
  writer.u8At(fixed + 6, spec.scope ?? RT_SCOPE_UNIVERSE);
  writer.u8At(fixed + 7, spec.type ?? RTN_UNICAST);
  writer.attrU32(RTA_TABLE, table);
  if (spec.dst !== undefined && spec.dstLength > 0) writer.attrBytes(RTA_DST, ipToBytes(spec.dst));
  if (spec.gateway !== undefined) writer.attrBytes(RTA_GATEWAY, ipToBytes(spec.gateway));
  if (spec.source !== undefined) writer.attrBytes(RTA_PREFSRC, ipToBytes(spec.source));
  if (spec.oif !== undefined) writer.attrU32(RTA_OIF, spec.oif);
  if (spec.metric !== undefined) writer.attrU32(RTA_PRIORITY, spec.metric);
  return writer.finish();
}

/** RTM_GETROUTE dump of one family (0 for both), optionally one table (strict checking filters). */
/** What a route dump asks for; absent: everything. */
export interface RouteDumpFilter {
  family?: number;
  table?: number;
  /** Only routes of this protocol (rtm_protocol). */
  protocol?: number;
  /** Only routes of this type (rtm_type, e.g. RTN_UNICAST). */
  routeType?: number;
}

/**
 * A route dump request. `protocol` and `routeType` are filtered by the kernel (sockets with
 * NETLINK_GET_STRICT_CHK, Linux 4.20+); older kernels send every route, so callers filter too.
 */
export function encodeRouteDump(type: number, flags: number, filter: RouteDumpFilter = {}): Buffer {
  const { family = 0, table, protocol, routeType } = filter;
  const { writer, fixed } = beginMessage(type, flags, RTMSG_LEN);
  writer.u8At(fixed, family);
  if (protocol !== undefined) writer.u8At(fixed + 5, protocol);
  if (routeType !== undefined) writer.u8At(fixed + 7, routeType);
  if (table !== undefined) {
    writer.u8At(fixed + 4, table < 256 ? table : RT_TABLE_UNSPEC);
    writer.attrU32(RTA_TABLE, table);
  }
  return writer.finish();
}

/**
 * A route the kernel keeps in its local table for each address of an interface (local, broadcast,
 * IPv6 multicast): told from the fixed header alone, without decoding the message. Nothing the
 * agent manages or reasons about is there, and there are two or three per address.
 */
/** A route message's protocol (rtm_protocol), read from the fixed header without decoding. */
export function routeProtocolOf(message: NetlinkMessage): number | undefined {
  return message.payload.length >= RTMSG_LEN ? message.payload[5] : undefined;
}

/** A route message's type (rtm_type), read from the fixed header without decoding. */
export function routeTypeOf(message: NetlinkMessage): number | undefined {
  return message.payload.length >= RTMSG_LEN ? message.payload[7] : undefined;
}

export function isKernelLocalRoute(message: NetlinkMessage): boolean {
  const payload = message.payload;
  return payload.length >= RTMSG_LEN && payload[4] === RT_TABLE_LOCAL && payload[5] === RTPROT_KERNEL;
}

/**
 * A route the kernel made itself (protocol kernel) that nothing here follows (socket-filter.ts drops
 * the same before it is queued): those of isKernelLocalRoute, every IPv4 one (an address's network:
 * the address tells what it reaches), and a link's fe80::/64. Not its other IPv6 routes: a prefix a
 * router advertised is one, and no address may stand for it.
 */
export function isUnfollowedKernelRoute(message: NetlinkMessage): boolean {
  const payload = message.payload;
  if (payload.length < RTMSG_LEN || payload[5] !== RTPROT_KERNEL) return false;
  if (payload[4] === RT_TABLE_LOCAL || payload[0] === AF_INET) return true;
  if (payload[0] !== AF_INET6 || payload[1] !== 64) return false;
  const dst = Attributes.parse(payload, RTMSG_LEN, payload.length).bytes(RTA_DST);
  return dst !== undefined && dst[0] === 0xfe && dst[1] === 0x80;
}

export function decodeRoute(message: NetlinkMessage): Route {
  const payload = message.payload;
  if (payload.length < RTMSG_LEN) throw new NetlinkCodecError('route message shorter than rtmsg');
  const attributes = Attributes.parse(payload, RTMSG_LEN, payload.length);
  const family = payload.readUInt8(0);
  const ip = (type: number): string | undefined => {
    const bytes = attributes.bytes(type);
    if (bytes === undefined) return undefined;
    if ((family === AF_INET && bytes.length !== 4) || (family === AF_INET6 && bytes.length !== 16)) {
      throw new NetlinkCodecError(`route attribute ${type} has ${bytes.length} bytes for family ${family}`);
    }
    return bytesToIp(bytes);
  };
  const route: Route = {
    family,
    dstLength: payload.readUInt8(1),
    srcLength: payload.readUInt8(2),
    tos: payload.readUInt8(3),
    table: attributes.u32(RTA_TABLE) ?? payload.readUInt8(4),
    protocol: payload.readUInt8(5),
    scope: payload.readUInt8(6),
    type: payload.readUInt8(7),
    flags: payload.readUInt32LE(8),
  };
  const dst = ip(RTA_DST);
  if (dst !== undefined) route.dst = dst;
  const src = ip(RTA_SRC);
  if (src !== undefined) route.src = src;
  const gateway = ip(RTA_GATEWAY);
  if (gateway !== undefined) route.gateway = gateway;
  const source = ip(RTA_PREFSRC);
  if (source !== undefined) route.source = source;
  const oif = attributes.u32(RTA_OIF);
  if (oif !== undefined) route.oif = oif;
  const metric = attributes.u32(RTA_PRIORITY);
  if (metric !== undefined) route.metric = metric;
  return route;
}
