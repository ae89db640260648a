/**
 * Addresses (RTM_*ADDR): struct ifaddrmsg (u8 family, u8 prefixlen, u8 flags, u8 scope, u32 index)
 * followed by IFA_* attributes. Flags above 8 bits travel in IFA_FLAGS.
 */
import { Attributes } from './attributes.js';
import {
  AF_INET,
  IFADDRMSG_LEN,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_FLAGS,
  IFA_LABEL,
  IFA_LOCAL,
} from './constants.js';
import { beginMessage, type NetlinkMessage } from './message.js';
import { bytesToIp, familyOf, ipToBytes } from './ip.js';
import { NetlinkCodecError } from '../errors.js';

export interface AddressSpec {
  index: number;
  address: string;
  prefixLength: number;
  /** IFA_F_* flags, e.g. IFA_F_NODAD for the ends of our own VETH pairs. */
  flags?: number;
  scope?: number;
  broadcast?: string;
  label?: string;
}

export interface Address {
  family: number;
  index: number;
  /** The interface's own address (IFA_LOCAL, or IFA_ADDRESS when there is no peer). */
  address: string;
  prefixLength: number;
  /** IFA_ADDRESS when it differs from the local one (point-to-point peer). */
  peer?: string;
  flags: number;
  scope: number;
  broadcast?: string;
  label?: string;
}

export function encodeAddressRequest(type: number, flags: number, spec: AddressSpec): Buffer {
  const family = familyOf(spec.address);
  const { writer, fixed } = beginMessage(type, flags, IFADDRMSG_LEN);
  writer.u8At(fixed, family);
  writer.u8At(fixed + 1, spec.prefixLength);
  writer.u8At(fixed + 2, (spec.flags ?? 0) & 0xff);
  writer.u8At(fixed + 3, spec.scope ?? 0);
  writer.u32At(fixed + 4, spec.index);
  const bytes = ipToBytes(spec.address);
  writer.attrBytes(IFA_LOCAL, bytes);
  writer.attrBytes(IFA_ADDRESS, bytes);
  if (spec.broadcast !== undefined) writer.attrBytes(IFA_BROADCAST, ipToBytes(spec.broadcast));
  if (spec.label !== undefined) writer.attrString(IFA_LABEL, spec.label);
  if (spec.flags !== undefined && spec.flags > 0xff) writer.attrU32(IFA_FLAGS, spec.flags);
  return writer.finish();
}

/** RTM_GETADDR dump, optionally of one family and (strict checking on) one interface. */
export function encodeAddressDump(type: number, flags: number, family = 0, index = 0): Buffer {
  const { writer, fixed } = beginMessage(type, flags, IFADDRMSG_LEN);
  writer.u8At(fixed, family);
  writer.u32At(fixed + 4, index);
  return writer.finish();
}

export function decodeAddress(message: NetlinkMessage): Address {
  const payload = message.payload;
  if (payload.length < IFADDRMSG_LEN) throw new NetlinkCodecError('address message shorter than ifaddrmsg');
  const attributes = Attributes.parse(payload, IFADDRMSG_LEN, payload.length);
  const family = payload.readUInt8(0);
  const local = attributes.bytes(IFA_LOCAL);
  const remote = attributes.bytes(IFA_ADDRESS);
  const own = local ?? remote;
  if (own === undefined) throw new NetlinkCodecError('address message without IFA_LOCAL or IFA_ADDRESS');
  const address: Address = {
    family,
    index: payload.readUInt32LE(4),
    address: bytesToIp(own),
    prefixLength: payload.readUInt8(1),
    flags: attributes.u32(IFA_FLAGS) ?? payload.readUInt8(2),
    scope: payload.readUInt8(3),
  };
  if (local && remote && !local.equals(remote)) address.peer = bytesToIp(remote);
  const broadcast = attributes.bytes(IFA_BROADCAST);
  if (broadcast && family === AF_INET) address.broadcast = bytesToIp(broadcast);
  const label = attributes.string(IFA_LABEL);
  if (label) address.label = label;
  return address;
}
