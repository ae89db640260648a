/**
 * Text and byte forms of IP addresses, shared by the model (users' values) and the codec (the
 * kernel's messages). Both run for every address of a W1-sized configuration and of every dump,
 * so the parsers walk the characters once, without regular expressions or temporary arrays.
 */

const COLON = 58;
const DOT = 46;

/** The value of a hexadecimal digit's character code, or -1. */
function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

/**
 * Strict dotted quad (no leading zeros: they read as octal elsewhere) between `start` and `end`,
 * into `out` at `at`; false when it is not exactly that.
 */
function readIpv4(text: string, start: number, end: number, out: Uint8Array, at: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const code = i < end ? text.charCodeAt(i) : DOT; // a final '.' closes the last part
    if (code >= 48 && code <= 57) {
      if (digits > 0 && value === 0) return false;
      value = value * 10 + (code - 48);
      if (++digits > 3 || value > 255) return false;
    } else if (code === DOT && digits > 0 && part < 4) {
      out[at + part++] = value;
      value = 0;
      digits = 0;
    } else return false;
  }
  return part === 4;
}

/** The 4 bytes of a strict dotted quad, or undefined. */
export function parseIpv4Bytes(text: string): Buffer | undefined {
  // Not from Buffer's pool, as for IPv6 below.
  const bytes = Buffer.alloc(4);
  return readIpv4(text, 0, text.length, bytes, 0) ? bytes : undefined;
}

/**
 * The 16 bytes of an IPv6 address (hextets of 1 to 4 hex digits, at most one "::", an optional
 * dotted-quad tail), or undefined; a zone index (%eth0) is not an address here.
 */
export function parseIpv6Bytes(text: string): Buffer | undefined {
  const n = text.length;
  // Not from Buffer's pool: the on-link table and the gateway watches keep these for long, and a
  // kept pool slice would keep its whole 8 KiB slab.
  const bytes = Buffer.alloc(16);
  let count = 0; // hextets read, written in order from the start
  let gapAt = -1; // hextets before the "::"
  let i = 0;
  if (n >= 2 && text.charCodeAt(0) === COLON) {
    if (text.charCodeAt(1) !== COLON) return undefined;
    gapAt = 0;
    i = 2;
  }
  while (i < n || (gapAt < 0 && count === 0)) {
    // One group starts at i: hex digits up to ':' or the end, or a dotted quad to the end.
    const start = i;
    let value = 0;
    while (i < n && i - start <= 4) {
      const digit = hexDigit(text.charCodeAt(i));
      if (digit < 0) break;
      value = value * 16 + digit;
      i++;
    }
    if (i < n && text.charCodeAt(i) === DOT) {
      // The last 32 bits as a dotted quad: the rest of the text, in place of two hextets.
      if (count > 6 || !readIpv4(text, start, n, bytes, count * 2)) return undefined;
      count += 2;
      break;
    }
    const digits = i - start;
    if (digits === 0 || digits > 4 || count === 8) return undefined;
    bytes[count * 2] = value >> 8;
    bytes[count * 2 + 1] = value & 0xff;
    count++;
    if (i === n) break;
    if (text.charCodeAt(i) !== COLON) return undefined;
    i++;
    if (i < n && text.charCodeAt(i) === COLON) {
      if (gapAt >= 0) return undefined; // a second "::"
      gapAt = count;
      i++;
    } else if (i === n) return undefined; // a lone trailing ':'
  }
  if (gapAt < 0) return count === 8 ? bytes : undefined;
  if (count > 7) return undefined;
  // Open the gap: the hextets after "::" move to the end, zeros in between.
  const zeros = 8 - count;
  bytes.copyWithin((gapAt + zeros) * 2, gapAt * 2, count * 2);
  bytes.fill(0, gapAt * 2, (gapAt + zeros) * 2);
  return bytes;
}

/** fe80::/10 (16 bytes): an IPv6 address that means something on one link only. */
export function isIpv6LinkLocalBytes(bytes: Uint8Array): boolean {
  return bytes.length === 16 && bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80;
}

/** Either form; IPv6 when the text holds a ':'. */
export function parseIpBytes(text: string): Buffer | undefined {
  return text.includes(':') ? parseIpv6Bytes(text) : parseIpv4Bytes(text);
}

/** Canonical text of 4 or 16 IP address bytes (RFC 5952 for IPv6), shared by the model and the codec. */
export function formatIpBytes(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]!}.${bytes[1]!}.${bytes[2]!}.${bytes[3]!}`;
  // IPv4-mapped addresses keep their dotted tail (RFC 5952 section 5).
  let leadingZeros = 0;
  while (leadingZeros < 10 && bytes[leadingZeros] === 0) leadingZeros++;
  if (leadingZeros === 10 && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes[12]!}.${bytes[13]!}.${bytes[14]!}.${bytes[15]!}`;
  }
  // Compress the longest run of two or more zero hextets, the first one on ties.
  let bestStart = -1;
  let bestLength = 1;
  let runStart = -1;
  for (let h = 0; h < 8; h++) {
    if (bytes[h * 2] !== 0 || bytes[h * 2 + 1] !== 0) {
      runStart = -1;
      continue;
    }
    if (runStart < 0) runStart = h;
    if (h - runStart + 1 > bestLength) {
      bestStart = runStart;
      bestLength = h - runStart + 1;
    }
  }
  let text = '';
  for (let h = 0; h < 8; h++) {
    if (h === bestStart) {
      text += '::';
      h += bestLength - 1;
      continue;
    }
    if (text.length > 0 && text.charCodeAt(text.length - 1) !== COLON) text += ':';
    text += ((bytes[h * 2]! << 8) | bytes[h * 2 + 1]!).toString(16);
  }
  return text;
}
