/** Conversions between text and the byte forms of IP and MAC addresses that rtnetlink carries. */
import { formatIpBytes, parseIpBytes, parseIpv4Bytes, parseIpv6Bytes } from '../../util/ip-text.js';
import { AF_INET, AF_INET6 } from './constants.js';
import { NetlinkCodecError } from '../errors.js';

export function familyOf(address: string): number {
  if (parseIpv4Bytes(address) !== undefined) return AF_INET;
  if (parseIpv6Bytes(address) !== undefined) return AF_INET6;
  throw new NetlinkCodecError(`not an IP address: ${JSON.stringify(address)}`);
}

export function ipToBytes(address: string): Buffer {
  const bytes = parseIpBytes(address);
  if (bytes === undefined) throw new NetlinkCodecError(`not an IP address: ${JSON.stringify(address)}`);
  return bytes;
}

export function bytesToIp(bytes: Buffer): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16)
    throw new NetlinkCodecError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  return formatIpBytes(bytes);
}

/** Canonical text form of an IP address (IPv6 compressed, lower case). */
export function normalizeIp(address: string): string {
  return bytesToIp(ipToBytes(address));
}

export function macToBytes(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new NetlinkCodecError(`not a MAC address: ${JSON.stringify(mac)}`);
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

export function bytesToMac(bytes: Buffer): string {
  let text = '';
  for (let i = 0; i < bytes.length; i++) text += (i === 0 ? '' : ':') + HEX_BYTE[bytes[i]!]!;
  return text;
}
