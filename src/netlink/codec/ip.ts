/** Conversions between text and the byte forms of IP and MAC addresses that rtnetlink carries. */
import { formatIpBytes } from '../../util/ip-text.js';
import { isIPv4, isIPv6 } from 'node:net';
import { AF_INET, AF_INET6 } from './constants.js';
import { NetlinkCodecError } from '../errors.js';

export function familyOf(address: string): number {
  if (ipv4Bytes(address) !== undefined || isIPv4(address)) return AF_INET;
  if (isIPv6(address)) return AF_INET6;
  throw new NetlinkCodecError(`not an IP address: ${JSON.stringify(address)}`);
}

/** Dotted-quad text to its 4 bytes, or undefined when it is not exactly that (hot path: no regex). */
function ipv4Bytes(address: string): Buffer | undefined {
  const bytes = Buffer.allocUnsafe(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= address.length; i++) {
    const code = i < address.length ? address.charCodeAt(i) : 46; // a final '.' closes the last part
    if (code >= 48 && code <= 57) {
      // Leading zeros are refused, as node's isIPv4 does (they read as octal elsewhere).
      if (digits > 0 && value === 0) return undefined;
      value = value * 10 + (code - 48);
      if (++digits > 3 || value > 255) return undefined;
    } else if (code === 46 && digits > 0 && part < 4) {
      bytes[part++] = value;
      value = 0;
      digits = 0;
    } else return undefined;
  }
  return part === 4 ? bytes : undefined;
}

export function ipToBytes(address: string): Buffer {
  const quad = ipv4Bytes(address);
  if (quad) return quad;
  if (!isIPv6(address)) throw new NetlinkCodecError(`not an IP address: ${JSON.stringify(address)}`);
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const [a, b, c, d] = v4[1].split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -v4[1].length) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head = '', tail] = text.split('::') as [string, string | undefined];
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailParts];
  const bytes = Buffer.alloc(16);
  parts.forEach((part, i) => bytes.writeUInt16BE(parseInt(part, 16), i * 2));
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
