/**
 * The decoders read what the kernel (or anything on the other end of a socket) sends: whatever the
 * bytes, they either return or throw NetlinkCodecError, never a RangeError or TypeError. Random
 * buffers, truncated valid messages, and valid messages with random bytes overwritten.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Attributes,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NetlinkCodecError,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  decodeAcknowledgement,
  decodeAddress,
  decodeEvent,
  decodeLink,
  decodeNeighbour,
  decodeLinkStats,
  decodeRoute,
  encodeAddressRequest,
  encodeLinkRequest,
  encodeNeighbourRequest,
  encodeRouteRequest,
  splitMessages,
  type NetlinkMessage,
} from '../../../src/netlink/index.js';
import { buildAck } from './builders.js';

const RUNS = { numRuns: 2000 };

/** Runs fn; passes when it returns or throws NetlinkCodecError, fails on anything else. */
function onlyCodecErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (error instanceof NetlinkCodecError) return;
    throw new Error(`threw ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`, {
      cause: error,
    });
  }
}

const DECODERS: [string, (m: NetlinkMessage) => unknown][] = [
  ['decodeLink', decodeLink],
  ['decodeAddress', decodeAddress],
  ['decodeRoute', decodeRoute],
  ['decodeNeighbour', decodeNeighbour],
  ['decodeLinkStats', decodeLinkStats],
  ['decodeAcknowledgement', decodeAcknowledgement],
];

function asMessage(payload: Buffer, type = 0, flags = 0): NetlinkMessage {
  return { type, flags, seq: 0, portId: 0, payload };
}

/** Valid messages of every kind the decoders handle, as starting points for damage. */
const VALID: { type: number; bytes: Buffer }[] = [
  {
    type: RTM_NEWLINK,
    bytes: encodeLinkRequest(
      RTM_NEWLINK,
      0,
      7,
      { name: 'veth0', mtu: 1400, mac: '02:00:00:00:00:01', alias: 'a', group: 3 },
      {
        kind: 'veth',
        peer: { name: 'veth1', mtu: 1400, namespaceFd: 9 },
      },
    ),
  },
  {
    type: RTM_NEWADDR,
    bytes: encodeAddressRequest(RTM_NEWADDR, 0, {
      index: 3,
      address: '10.0.0.1',
      prefixLength: 24,
      broadcast: '10.0.0.255',
      label: 'x',
      flags: 0x302,
    }),
  },
  {
    type: RTM_NEWADDR,
    bytes: encodeAddressRequest(RTM_NEWADDR, 0, { index: 3, address: 'fd00::1', prefixLength: 64 }),
  },
  {
    type: RTM_NEWROUTE,
    bytes: encodeRouteRequest(RTM_NEWROUTE, 0, {
      dst: '10.1.0.0',
      dstLength: 16,
      gateway: '10.0.0.2',
      source: '10.0.0.1',
      oif: 3,
      metric: 5,
      table: 1000,
    }),
  },
  {
    type: RTM_NEWNEIGH,
    bytes: encodeNeighbourRequest(RTM_NEWNEIGH, 0, {
      index: 3,
      address: 'fe80::1',
      mac: '02:00:00:00:00:02',
      state: 0x80,
    }),
  },
  {
    type: NLMSG_ERROR,
    bytes: buildAck({
      errno: 22,
      request: encodeRouteRequest(RTM_NEWROUTE, 0, { dst: '10.1.0.0', dstLength: 16, gateway: '10.9.9.9' }),
      capped: false,
      message: 'Nexthop has invalid gateway',
      offset: 44,
    }),
  },
  {
    type: NLMSG_ERROR,
    bytes: buildAck({
      errno: 17,
      request: encodeLinkRequest(RTM_NEWLINK, 0, 0, { name: 'x' }),
      capped: true,
      message: 'File exists',
      offset: 20,
    }),
  },
];

function decodeAll(datagram: Buffer): void {
  for (const message of splitMessages(datagram)) {
    for (const [, decode] of DECODERS) onlyCodecErrors(() => decode(message));
    onlyCodecErrors(() => decodeEvent(message.type, message));
  }
}

describe('decoders on hostile input throw only NetlinkCodecError', () => {
  test('random datagrams through splitMessages', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        onlyCodecErrors(() => decodeAll(Buffer.from(bytes)));
      }),
      RUNS,
    );
  });

  test('random datagrams with a plausible header (right length field)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, RTM_NEWNEIGH, NLMSG_ERROR, NLMSG_DONE),
        fc.constantFrom(0, NLM_F_ACK_TLVS, NLM_F_ACK_TLVS | NLM_F_CAPPED, 0xffff),
        fc.uint8Array({ maxLength: 400 }),
        (type, flags, body) => {
          const bytes = Buffer.alloc(NLMSG_HDRLEN + body.length);
          bytes.writeUInt32LE(bytes.length, 0);
          bytes.writeUInt16LE(type, 4);
          bytes.writeUInt16LE(flags, 6);
          bytes.set(body, NLMSG_HDRLEN);
          onlyCodecErrors(() => decodeAll(bytes));
        },
      ),
      RUNS,
    );
  });

  test('every decoder on random payloads, with and without the ext-ack flags', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom(0, NLM_F_ACK_TLVS, NLM_F_ACK_TLVS | NLM_F_CAPPED),
        fc.constantFrom(NLMSG_ERROR, NLMSG_DONE),
        (payload, flags, type) => {
          for (const [, decode] of DECODERS)
            onlyCodecErrors(() => decode(asMessage(Buffer.from(payload), type, flags)));
        },
      ),
      RUNS,
    );
  });

  test('valid messages cut at every length', () => {
    for (const { type, bytes } of VALID) {
      for (let cut = 0; cut <= bytes.length; cut++) {
        const truncated = Buffer.from(bytes.subarray(0, cut));
        onlyCodecErrors(() => decodeAll(truncated));
        // the header still claims the full length: splitMessages must refuse, not overread
        if (cut >= NLMSG_HDRLEN && cut < bytes.length) {
          assert.throws(() => splitMessages(truncated), NetlinkCodecError);
        }
        // the payload alone, cut, handed to every decoder with the type's flags
        const payload = Buffer.from(bytes.subarray(NLMSG_HDRLEN, Math.max(NLMSG_HDRLEN, cut)));
        const flags = bytes.readUInt16LE(6);
        for (const [, decode] of DECODERS) onlyCodecErrors(() => decode(asMessage(payload, type, flags)));
      }
    }
  });

  test('valid messages with random bytes overwritten', () => {
    const damage = fc.tuple(
      fc.integer({ min: 0, max: VALID.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
    );
    fc.assert(
      fc.property(damage, ([which, edits]) => {
        const bytes = Buffer.from(VALID[which]!.bytes);
        // keep nlmsg_len right half of the time so the damage reaches the decoders
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        if (edits.length % 2 === 0) bytes.writeUInt32LE(bytes.length, 0);
        onlyCodecErrors(() => decodeAll(bytes));
      }),
      RUNS,
    );
  });

  test('nested attributes with random insides', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 60 }), (inside, type) => {
        const attr = Buffer.alloc(4 + inside.length);
        attr.writeUInt16LE(Math.min(0xffff, attr.length), 0);
        attr.writeUInt16LE(type | 0x8000, 2);
        attr.set(inside, 4);
        onlyCodecErrors(() => {
          const attributes = Attributes.parse(attr, 0, attr.length);
          attributes.nested(type);
          attributes.string(type);
          attributes.u8(type);
          attributes.u16(type);
          attributes.u32(type);
          attributes.i32(type);
        });
        // as IFLA_LINKINFO / IFLA_PROP_LIST of a link message
        const link = encodeLinkRequest(RTM_NEWLINK, 0, 1, { name: 'x' });
        onlyCodecErrors(() => decodeAll(Buffer.concat([link, attr])));
        const whole = Buffer.concat([link, attr, Buffer.alloc((4 - (attr.length % 4)) % 4)]);
        whole.writeUInt32LE(whole.length, 0);
        onlyCodecErrors(() => decodeAll(whole));
      }),
      RUNS,
    );
  });

  test('attributes span checks', () => {
    assert.throws(() => Attributes.parse(Buffer.alloc(8), 4, 12), NetlinkCodecError);
    assert.throws(() => Attributes.parse(Buffer.alloc(8), 6, 4), NetlinkCodecError);
    const short = Buffer.from([5, 0, 1, 0, 7, 0, 0, 0]);
    assert.throws(() => Attributes.parse(short, 0, 8).u32(1), NetlinkCodecError);
    assert.equal(Attributes.parse(short, 0, 8).u8(1), 7);
  });

  test('an acknowledgement whose echoed request claims an absurd length', () => {
    for (const claimed of [0, 1, 15, 17, 0x7fffffff, 0xfffffffd, 0xfffffffe, 0xffffffff]) {
      const bytes = buildAck({
        errno: 22,
        request: encodeLinkRequest(RTM_NEWLINK, 0, 0, { name: 'x' }),
        capped: false,
        message: 'bad',
      });
      bytes.writeUInt32LE(claimed, NLMSG_HDRLEN + 4);
      onlyCodecErrors(() => {
        const ack = decodeAcknowledgement(splitMessages(bytes)[0]!);
        assert.equal(ack.errno, 22);
      });
    }
  });
});
