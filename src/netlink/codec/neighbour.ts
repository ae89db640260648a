/**
 * Neighbours (RTM_*NEIGH, the ARP/NDP table): struct ndmsg (u8 family, 3 pad bytes, i32 ifindex,
 * u16 state, u8 flags, u8 type) followed by NDA_* attributes.
 */
import { Attributes } from './attributes.js';
import { NDA_DST, NDA_IFINDEX, NDA_LLADDR, NDA_PROTOCOL, NDMSG_LEN, RTN_UNICAST } from './constants.js';
import { beginMessage, type NetlinkMessage } from './message.js';
import { bytesToIp, bytesToMac, familyOf, ipToBytes, macToBytes } from './ip.js';
import { NetlinkCodecError } from '../errors.js';

export interface NeighbourSpec {
  index: number;
  address: string;
  mac?: string;
  /** NUD_* state, e.g. NUD_PERMANENT. */
  state: number;
  flags?: number;
  /** NDA_PROTOCOL: who made the entry (an owner mark, like a route's protocol). */
  protocol?: number;
}

export interface Neighbour {
  family: number;
  index: number;
  address: string;
  mac?: string;
  state: number;
  flags: number;
  type: number;
  protocol?: number;
}

export function encodeNeighbourRequest(type: number, flags: number, spec: NeighbourSpec): Buffer {
  const { writer, fixed } = beginMessage(type, flags, NDMSG_LEN);
  writer.u8At(fixed, familyOf(spec.address));
  writer.i32At(fixed + 4, spec.index);
  writer.u16At(fixed + 8, spec.state);
  writer.u8At(fixed + 10, spec.flags ?? 0);
  writer.u8At(fixed + 11, RTN_UNICAST);
  writer.attrBytes(NDA_DST, ipToBytes(spec.address));
  if (spec.mac !== undefined) writer.attrBytes(NDA_LLADDR, macToBytes(spec.mac));
  if (spec.protocol !== undefined) writer.attrU8(NDA_PROTOCOL, spec.protocol);
  return writer.finish();
}

/** RTM_GETNEIGH dump of one family (0 for both), optionally one interface. */
export function encodeNeighbourDump(type: number, flags: number, family = 0, index = 0): Buffer {
  const { writer, fixed } = beginMessage(type, flags, NDMSG_LEN);
  writer.u8At(fixed, family);
  // With strict checking the kernel filters by NDA_IFINDEX and refuses a filter in the header.
  if (index) writer.attrU32(NDA_IFINDEX, index);
  return writer.finish();
}

export function decodeNeighbour(message: NetlinkMessage): Neighbour {
  const payload = message.payload;
  if (payload.length < NDMSG_LEN) throw new NetlinkCodecError('neighbour message shorter than ndmsg');
  const attributes = Attributes.parse(payload, NDMSG_LEN, payload.length);
  const dst = attributes.bytes(NDA_DST);
  if (dst === undefined || (dst.length !== 4 && dst.length !== 16)) {
    throw new NetlinkCodecError('neighbour message without a usable NDA_DST');
  }
  const neighbour: Neighbour = {
    family: payload.readUInt8(0),
    index: payload.readInt32LE(4),
    address: bytesToIp(dst),
    state: payload.readUInt16LE(8),
    flags: payload.readUInt8(10),
    type: payload.readUInt8(11),
  };
  const lladdr = attributes.bytes(NDA_LLADDR);
  if (lladdr && lladdr.length === 6) neighbour.mac = bytesToMac(lladdr);
  const protocol = attributes.u8(NDA_PROTOCOL);
  if (protocol !== undefined) neighbour.protocol = protocol;
  return neighbour;
}
