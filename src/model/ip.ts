/**
 * IP addresses and prefixes as users write them in values: strict parsing (no leading zeros in
 * IPv4, no IPv6 zone index), a canonical text form (RFC 5952 for IPv6) so that equal addresses
 * compare equal as strings, and the classifications the kernel cares about. Pure.
 */
import { formatIpBytes, isIpv6LinkLocalBytes, parseIpBytes } from '../util/ip-text.js';

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

/** Canonical text of 4 or 16 address bytes. */
export function formatIp(bytes: Uint8Array): string {
  return formatIpBytes(bytes);
}

/** Parses an IPv4 or IPv6 address without prefix length. */
export function parseIp(text: string): Parsed<IpAddress> {
  if (text.includes('%')) return fail('an IPv6 zone index (%...) is not allowed');
  if (text.includes('/')) return fail('expected an address without prefix length');
  const parsed = parseIpBytes(text);
  if (parsed === undefined) return fail('not an IPv4 or IPv6 address');
  // A plain copy, not the parser's pooled Buffer, whose slice() would share its memory.
  const bytes = new Uint8Array(parsed);
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

/** fe80::/10: an IPv6 address that means something on one link only. */
export function isIpv6LinkLocal(address: IpAddress): boolean {
  return isIpv6LinkLocalBytes(address.bytes);
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
