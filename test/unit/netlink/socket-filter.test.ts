/**
 * The classic BPF assembler and the kernel noise filter (codec/socket-filter.ts), run here by
 * a small interpreter of the instructions they use; the kernel tier runs the filter for real
 * (test/kernel/netlink/events.test.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SOCK_FILTER_BYTES, assemble, kernelNoiseFilter } from '../../../src/netlink/codec/socket-filter.js';
import {
  AF_INET,
  AF_INET6,
  NDA_DST,
  NDA_LLADDR,
  NUD_PERMANENT,
  RTM_DELNEIGH,
  RTM_DELROUTE,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  RTPROT_KERNEL,
  RTPROT_STATIC,
  RT_TABLE_LOCAL,
  RT_TABLE_MAIN,
} from '../../../src/netlink/codec/constants.js';
import { encodeNeighbourRequest } from '../../../src/netlink/codec/neighbour.js';
import { encodeRouteRequest, type RouteSpec } from '../../../src/netlink/codec/route.js';

/** What the kernel's interpreter returns for `packet`: 0 drops it, anything else keeps it. */
function run(program: Buffer, packet: Buffer): number {
  let a = 0;
  for (let pc = 0; pc < program.length / SOCK_FILTER_BYTES; pc++) {
    const at = pc * SOCK_FILTER_BYTES;
    const code = program.readUInt16LE(at);
    const jt = program.readUInt8(at + 2);
    const jf = program.readUInt8(at + 3);
    const k = program.readUInt32LE(at + 4);
    switch (code) {
      case 0x30: // ldb [k]
        if (k >= packet.length) return 0;
        a = packet[k]!;
        break;
      case 0x80: // ld len
        a = packet.length;
        break;
      case 0x54: // and #k
        a = (a & k) >>> 0;
        break;
      case 0x15: // jeq #k
        pc += a === k ? jt : jf;
        break;
      case 0x35: // jge #k
        pc += a >= k ? jt : jf;
        break;
      case 0x06: // ret #k
        return k;
      default:
        throw new Error(`instruction ${code.toString(16)} not known to this interpreter`);
    }
  }
  throw new Error('ran off the end of the program');
}

function neighbour(type: number, address: string): Buffer {
  return encodeNeighbourRequest(type, 0, {
    index: 3,
    address,
    mac: '02:00:00:00:00:01',
    state: NUD_PERMANENT,
  });
}

describe('socket filter', () => {
  const filter = kernelNoiseFilter();

  test('drops neighbours of IPv6 and IPv4 multicast addresses, added or removed', () => {
    for (const type of [RTM_NEWNEIGH, RTM_DELNEIGH])
      for (const address of ['ff02::1:ff00:9', 'ff02::16', '224.0.0.251', '239.1.2.3'])
        assert.equal(run(filter, neighbour(type, address)), 0, `${type} ${address}`);
  });

  test('keeps unicast neighbours and every other message', () => {
    for (const type of [RTM_NEWNEIGH, RTM_DELNEIGH])
      for (const address of ['10.0.0.1', '2001:db8::1', 'fe80::1', '223.255.255.255', '240.0.0.1'])
        assert.notEqual(run(filter, neighbour(type, address)), 0, `${type} ${address}`);
    const link = Buffer.alloc(32);
    link.writeUInt32LE(32, 0);
    link.writeUInt16LE(RTM_NEWLINK, 4);
    link.writeUInt8(0xff, 32 - 1);
    assert.notEqual(run(filter, link), 0);
    // A type whose low byte is a neighbour's, high byte not.
    const other = neighbour(RTM_NEWNEIGH, 'ff02::1');
    other.writeUInt16LE(RTM_NEWNEIGH + 0x100, 4);
    assert.notEqual(run(filter, other), 0);
  });

  test('keeps a neighbour message it cannot read as expected', () => {
    const multicast = neighbour(RTM_DELNEIGH, 'ff02::1');
    // Too short to hold an address.
    assert.notEqual(run(filter, multicast.subarray(0, 32)), 0);
    // First attribute not NDA_DST, or with flag bits.
    const lladdrFirst = Buffer.from(multicast);
    lladdrFirst.writeUInt16LE(NDA_LLADDR, 30);
    assert.notEqual(run(filter, lladdrFirst), 0);
    const flagged = Buffer.from(multicast);
    flagged.writeUInt16LE(NDA_DST | 0x8000, 30);
    assert.notEqual(run(filter, flagged), 0);
    // A family other than IPv4 and IPv6.
    const bridge = Buffer.from(multicast);
    bridge.writeUInt8(7, 16);
    assert.notEqual(run(filter, bridge), 0);
    assert.equal(multicast.readUInt8(16), AF_INET6);
    assert.equal(neighbour(RTM_NEWNEIGH, '239.1.2.3').readUInt8(16), AF_INET);
  });

  test("drops the kernel's own routes of the local table, its IPv4 ones and links' fe80::/64, added or removed, and keeps every other route", () => {
    const route = (type: number, spec: Partial<RouteSpec>): Buffer =>
      encodeRouteRequest(type, 0, { dst: '10.8.0.1', dstLength: 32, oif: 3, ...spec });
    for (const type of [RTM_NEWROUTE, RTM_DELROUTE]) {
      for (const dst of ['10.8.0.1', '10.8.0.255', 'ff00::', 'fe80::1'])
        assert.equal(
          run(filter, route(type, { dst, table: RT_TABLE_LOCAL, protocol: RTPROT_KERNEL })),
          0,
          `${type} ${dst}`,
        );
      // The network of an IPv4 address, a link's fe80::/64 (main table), an IPv4 address's network
      // in a VRF's table.
      for (const [dst, dstLength, table] of [
        ['10.8.0.0', 24, RT_TABLE_MAIN],
        ['fe80::', 64, RT_TABLE_MAIN],
        ['10.8.0.0', 24, 100],
      ] as const)
        assert.equal(run(filter, route(type, { dst, dstLength, table, protocol: RTPROT_KERNEL })), 0, dst);
      // The kernel's other IPv6 routes come: an address's network, a prefix a router advertised
      // (as the kernel makes them), fe80:: of another length.
      for (const [dst, dstLength] of [
        ['2001:db8:8::', 64],
        ['fd00::', 48],
        ['fe80::', 10],
      ] as const)
        assert.notEqual(
          run(filter, route(type, { dst, dstLength, table: RT_TABLE_MAIN, protocol: RTPROT_KERNEL })),
          0,
          `${dst}/${dstLength}`,
        );
      // fe80::/64 written otherwise than the kernel does (no RTA_TABLE first): let through.
      const unusual = route(type, {
        dst: 'fe80::',
        dstLength: 64,
        table: RT_TABLE_MAIN,
        protocol: RTPROT_KERNEL,
      });
      unusual.writeUInt16LE(99, 30);
      assert.notEqual(run(filter, unusual), 0);
      // Someone's route in the local table and in the main table, ours.
      assert.notEqual(run(filter, route(type, { table: RT_TABLE_LOCAL, protocol: RTPROT_STATIC })), 0);
      assert.notEqual(run(filter, route(type, { table: RT_TABLE_MAIN, protocol: RTPROT_STATIC })), 0);
      assert.notEqual(run(filter, route(type, { table: 100, protocol: 196 })), 0);
    }
    // Too short to hold rtm_protocol.
    const local = route(RTM_NEWROUTE, { table: RT_TABLE_LOCAL, protocol: RTPROT_KERNEL });
    assert.notEqual(run(filter, local.subarray(0, 21)), 0);
  });

  test('assemble: 8 bytes per instruction, forward jumps by label', () => {
    const program = assemble([
      { op: 'loadByte', offset: 4 },
      { op: 'jumpIfEqual', value: 7, then: 'yes', otherwise: 'next' },
      { op: 'return', accept: false },
      { op: 'label', name: 'yes' },
      { op: 'return', accept: true },
    ]);
    assert.equal(program.length, 4 * SOCK_FILTER_BYTES);
    assert.deepEqual([...program.subarray(8, 16)], [0x15, 0, 1, 0, 7, 0, 0, 0]);
    assert.equal(run(program, Buffer.from([0, 0, 0, 0, 7])), 0xffffffff);
    assert.equal(run(program, Buffer.from([0, 0, 0, 0, 8])), 0);
  });

  test('assemble refuses unknown, repeated and backward labels', () => {
    assert.throws(
      () => assemble([{ op: 'jumpIfEqual', value: 1, then: 'nowhere', otherwise: 'next' }]),
      /no label nowhere/,
    );
    assert.throws(
      () =>
        assemble([
          { op: 'label', name: 'x' },
          { op: 'label', name: 'x' },
        ]),
      /defined twice/,
    );
    assert.throws(
      () =>
        assemble([
          { op: 'label', name: 'back' },
          { op: 'return', accept: true },
          { op: 'jumpIfEqual', value: 1, then: 'back', otherwise: 'next' },
        ]),
      /out of reach/,
    );
  });
});
