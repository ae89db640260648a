/**
 * The hand-written IP parsers and formatter (src/util/ip-text.ts) against node's own: the same
 * texts accepted (node's isIPv4/isIPv6, less zone indexes), the same bytes (WHATWG URL's IPv6
 * parser), the same canonical text (the URL serializer, which compresses as RFC 5952 does).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import fc from 'fast-check';
import { formatIpBytes, parseIpBytes, parseIpv4Bytes, parseIpv6Bytes } from '../../src/util/ip-text.js';

/** Bytes of an IPv6 address by the URL parser (hex only: it writes a dotted tail as hex). */
function urlBytes(text: string): Uint8Array {
  const host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const [head = '', tail] = host.split('::') as [string, string | undefined];
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const hextets = [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
  return Uint8Array.from(hextets.flatMap((h) => [h >> 8, h & 0xff]));
}

function urlText(bytes: Uint8Array): string {
  const hex: string[] = [];
  for (let i = 0; i < 16; i += 2) hex.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new URL(`http://[${hex.join(':')}]/`).hostname.slice(1, -1);
}

const ipText = fc.oneof(
  fc.stringMatching(/^[0-9a-fA-F:.]{0,45}$/),
  fc.ipV6(),
  fc.ipV4(),
  fc.ipV4Extended(),
  fc.stringMatching(/^[0-9.]{0,16}$/),
);

describe('IP text parsers', () => {
  test('accept exactly what node accepts (less zone indexes)', () => {
    fc.assert(
      fc.property(ipText, (text) => {
        assert.equal(parseIpv4Bytes(text) !== undefined, isIPv4(text), text);
        assert.equal(parseIpv6Bytes(text) !== undefined, isIPv6(text), text);
        assert.equal(parseIpBytes(text) !== undefined, isIPv4(text) || isIPv6(text), text);
      }),
      { numRuns: 5000 },
    );
  });

  test('read the bytes the URL parser reads', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        assert.deepEqual(Uint8Array.from(parseIpv6Bytes(text) ?? []), urlBytes(text), text);
      }),
      { numRuns: 2000 },
    );
    assert.deepEqual([...parseIpv4Bytes('192.0.2.255')!], [192, 0, 2, 255]);
  });

  test('refuse zone indexes, a second "::", stray colons and long groups', () => {
    for (const bad of [
      'fe80::1%eth0',
      '1::2::3',
      ':1::',
      '1::2:',
      ':::',
      '12345::',
      '1:2:3:4:5:6:7:8:9',
      '1.2.3.4::',
    ]) {
      assert.equal(parseIpBytes(bad), undefined, bad);
    }
  });
});

describe('formatIpBytes', () => {
  test('writes what the URL serializer writes (RFC 5952 compression)', () => {
    const mapped = (b: Uint8Array): boolean =>
      b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
    // Zero hextets are common in real addresses: bias the bytes towards runs of them.
    const hextet = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(hextet, { minLength: 8, maxLength: 8 }), (hextets) => {
        const bytes = Uint8Array.from(hextets.flatMap((h) => [h >> 8, h & 0xff]));
        if (mapped(bytes)) return;
        assert.equal(formatIpBytes(bytes), urlText(bytes));
      }),
      { numRuns: 5000 },
    );
  });

  test('keeps the dotted tail of IPv4-mapped addresses', () => {
    assert.equal(formatIpBytes(parseIpv6Bytes('::ffff:10.1.2.3')!), '::ffff:10.1.2.3');
    assert.equal(formatIpBytes(Uint8Array.from([10, 1, 2, 3])), '10.1.2.3');
  });
});
