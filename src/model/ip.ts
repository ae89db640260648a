/**
 * IP addresses and prefixes as users write them in values: strict parsing (no leading zeros in
 * IPv4, no IPv6 zone index), a canonical text form (RFC 5952 for IPv6) so that equal addresses
 * compare equal as strings, and the classifications the kernel cares about. Pure.
 */
import { formatIpBytes } from '../util/ip-text.js';

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  bytes: Uint8Array;
  /** Canonical text: dotted quad, or RFC 5952 lower-case compressed IPv6. */
  text: string;
}

export interface IpPrefix {
  address: IpAddress;
  prefixLength: number;
  /** Canonical `address/prefixLength`. */
  text: string;
}

/** Either the parsed thing or why it is not one (a phrase for an error message). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

const IPV4_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4Bytes(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] ?? '';
    if (!IPV4_OCTET.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes[i] = n;
  }
  return bytes;
}

function parseHextets(text: string, allowV4Tail: boolean): number[] | undefined {
  if (text === '') return [];
  const parts = text.split(':');
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? '';
    if (allowV4Tail && i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4Bytes(part);
      if (v4 === undefined) return undefined;
      out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    } else {
      if (!HEXTET.test(part)) return undefined;
      out.push(parseInt(part, 16));
    }
  }
  return out;
}

function parseIpv6Bytes(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  let hextets: number[];
  if (halves.length === 2) {
    const head = parseHextets(halves[0] ?? '', false);
    const tail = parseHextets(halves[1] ?? '', true);
    if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
    hextets = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = parseHextets(text, true);
    if (all === undefined || all.length !== 8) return undefined;
    hextets = all;
  }
  const bytes = new Uint8Array(16);
  hextets.forEach((h, i) => {
    bytes[i * 2] = h >> 8;
    bytes[i * 2 + 1] = h & 0xff;
  });
  return bytes;
}

/** Canonical text of 4 or 16 address bytes. */
export function formatIp(bytes: Uint8Array): string {
  return formatIpBytes(bytes);
}

/** Parses an IPv4 or IPv6 address without prefix length. */
export function parseIp(text: string): Parsed<IpAddress> {
  if (text.includes('%')) return fail('an IPv6 zone index (%...) is not allowed');
  if (text.includes('/')) return fail('expected an address without prefix length');
  const bytes = text.includes(':') ? parseIpv6Bytes(text) : parseIpv4Bytes(text);
  if (bytes === undefined) return fail('not an IPv4 or IPv6 address');
  return ok({ family: bytes.length === 4 ? 4 : 6, bytes, text: formatIp(bytes) });
}

/** Parses `address/prefixLength`; the prefix length is required. */
export function parsePrefix(text: string): Parsed<IpPrefix> {
  const slash = text.indexOf('/');
  if (slash < 0) return fail('expected address/prefix-length, e.g. 192.168.22.1/24');
  const address = parseIp(text.slice(0, slash));
  if (!address.ok) return address;
  const lengthText = text.slice(slash + 1);
  const max = address.value.family === 4 ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > max) {
    return fail(`prefix length must be an integer from 0 to ${max}`);
  }
  const prefixLength = Number(lengthText);
  return ok({ address: address.value, prefixLength, text: `${address.value.text}/${prefixLength}` });
}

export function familyName(family: IpFamily): string {
  return family === 4 ? 'IPv4' : 'IPv6';
}

export function isUnspecified(address: IpAddress): boolean {
  return address.bytes.every((b) => b === 0);
}

export function isMulticast(address: IpAddress): boolean {
  const first = address.bytes[0] ?? 0;
  return address.family === 4 ? first >= 224 && first <= 239 : first === 0xff;
}

/** ::1, which the kernel lets only a loopback interface have. */
export function isIpv6Loopback(address: IpAddress): boolean {
  return address.family === 6 && address.bytes.every((b, i) => b === (i === 15 ? 1 : 0));
}

/** 255.255.255.255, which no interface can own. */
export function isLimitedBroadcast(address: IpAddress): boolean {
  return address.family === 4 && address.bytes.every((b) => b === 255);
}

/** Whether two addresses (their bytes, one family) agree on their first `bits` bits. */
export function samePrefixBits(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  if (a.length !== b.length) return false;
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[whole]! ^ b[whole]!) & mask) === 0;
}

/** The prefix with every bit after the prefix length cleared. */
export function networkOf(prefix: IpPrefix): IpPrefix {
  const bytes = prefix.address.bytes.slice();
  for (let bit = prefix.prefixLength; bit < bytes.length * 8; bit++) {
    const index = bit >> 3;
    bytes[index] = (bytes[index] ?? 0) & ~(0x80 >> (bit & 7));
  }
  const text = formatIp(bytes);
  return {
    address: { family: prefix.address.family, bytes, text },
    prefixLength: prefix.prefixLength,
    text: `${text}/${prefix.prefixLength}`,
  };
}

/** True when bits after the prefix length are set (10.0.2.1/24 rather than 10.0.2.0/24). */
export function hasHostBits(prefix: IpPrefix): boolean {
  return networkOf(prefix).text !== prefix.text;
}

/** The all-zero prefix of a family: 0.0.0.0/0 or ::/0. */
export function defaultPrefixText(family: IpFamily): string {
  return family === 4 ? '0.0.0.0/0' : '::/0';
}
