/**
 * Classic BPF socket filters for event sockets: the kernel runs them on every notification before
 * it queues it, so what they drop costs no wake-up, no copy and no decoding.
 *
 * The one filter here drops two kinds of notification the kernel sends by the thousand and no owner
 * here reads:
 * - neighbours of multicast addresses. The kernel makes and frees such entries by itself as
 *   interfaces come up (IPv6 multicast listener reports, solicited-node addresses): ~10,000
 *   deletions follow 1000 VETH pairs set up, more than every other event of that work together.
 *   None can be ours: a static ARP entry must be unicast (model/arp.ts).
 * - the kernel's own routes (protocol kernel) in its local table (local, broadcast, IPv6
 *   multicast): two to four per address, a third of the notifications of setting up VETH pairs;
 * - and outside it, the kernel's own IPv4 routes (the network of each address) and each link's
 *   fe80::/64: another 4000 of the 18,000 notifications left of W1's apply. None can be ours, and
 *   nothing here needs them: what an IPv4 address's own route reaches, the address tells
 *   (on-link-table.ts), and its announcements come; a link-local gateway needs only its link. A
 *   route of ours refused as the kernel's own held its place is tried again when an address goes
 *   (drift-watch.ts). The kernel's other IPv6 routes still come: a prefix a router advertised is
 *   one, and no address may stand for it.
 * The decoder skips the same (isUnfollowedKernelRoute in route.ts), for a socket the kernel did not
 * take the filter on.
 *
 * Offsets are those of one rtnetlink message in a datagram (the kernel sends each notification on
 * its own): struct nlmsghdr (16 bytes, nlmsg_type at 4, little-endian as the codec reads it), then
 * for a neighbour struct ndmsg (12 bytes, family at 16), then the attributes, of which the kernel
 * writes NDA_DST first (nla_len at 28, nla_type at 30, the address from 32); for a route struct
 * rtmsg (12 bytes: family at 16, rtm_dst_len at 17, rtm_table at 20, rtm_protocol at 21), then
 * the attributes, of which the kernel writes RTA_TABLE first (8 bytes) and RTA_DST next for an IPv6
 * route (nla_len at 36, nla_type at 38, the address from 40). Anything else is let through.
 */
import {
  AF_INET,
  AF_INET6,
  NDA_DST,
  RTM_DELNEIGH,
  RTM_DELROUTE,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  RTA_DST,
  RTA_TABLE,
  RTPROT_KERNEL,
  RT_TABLE_LOCAL,
} from './constants.js';

// Instruction classes and modes of classic BPF (linux/filter.h).
const BPF_LD = 0x00;
const BPF_ALU = 0x04;
const BPF_JMP = 0x05;
const BPF_RET = 0x06;
const BPF_W = 0x00;
const BPF_B = 0x10;
const BPF_ABS = 0x20;
const BPF_LEN = 0x80;
const BPF_AND = 0x50;
const BPF_JEQ = 0x10;
const BPF_JGE = 0x30;
const BPF_K = 0x00;

/** One sock_filter: u16 code, u8 jt, u8 jf, u32 k. */
export const SOCK_FILTER_BYTES = 8;

/** A label further down, or 'next': the instruction after the jump. */
export type FilterTarget = string;
export type FilterStep =
  | { op: 'loadByte'; offset: number }
  | { op: 'loadLength' }
  | { op: 'and'; mask: number }
  | { op: 'jumpIfEqual' | 'jumpIfAtLeast'; value: number; then: FilterTarget; otherwise: FilterTarget }
  | { op: 'return'; accept: boolean }
  | { op: 'label'; name: string };

const ACCEPT_ALL = 0xffffffff;

/**
 * Assembles steps into sock_filter structs. Jumps name labels further down (classic BPF only
 * jumps forward, at most 255 instructions).
 */
export function assemble(steps: FilterStep[]): Buffer {
  const labels = new Map<string, number>();
  const code = steps.filter((s) => s.op !== 'label');
  let index = 0;
  for (const s of steps) {
    if (s.op === 'label') {
      if (labels.has(s.name)) throw new Error(`label ${s.name} defined twice`);
      labels.set(s.name, index);
    } else index++;
  }
  const out = Buffer.alloc(code.length * SOCK_FILTER_BYTES);
  const offsetTo = (from: number, target: FilterTarget): number => {
    if (target === 'next') return 0;
    const at = labels.get(target);
    if (at === undefined) throw new Error(`no label ${target}`);
    const skip = at - from - 1;
    if (skip < 0 || skip > 255) throw new Error(`jump to ${target} out of reach (${skip})`);
    return skip;
  };
  code.forEach((s, i) => {
    let op = 0;
    let jt = 0;
    let jf = 0;
    let k = 0;
    switch (s.op) {
      case 'loadByte':
        op = BPF_LD | BPF_B | BPF_ABS;
        k = s.offset;
        break;
      case 'loadLength':
        op = BPF_LD | BPF_W | BPF_LEN;
        break;
      case 'and':
        op = BPF_ALU | BPF_AND | BPF_K;
        k = s.mask;
        break;
      case 'jumpIfEqual':
      case 'jumpIfAtLeast':
        op = BPF_JMP | (s.op === 'jumpIfEqual' ? BPF_JEQ : BPF_JGE) | BPF_K;
        k = s.value;
        jt = offsetTo(i, s.then);
        jf = offsetTo(i, s.otherwise);
        break;
      case 'return':
        op = BPF_RET | BPF_K;
        k = s.accept ? ACCEPT_ALL : 0;
        break;
    }
    const at = i * SOCK_FILTER_BYTES;
    out.writeUInt16LE(op, at);
    out.writeUInt8(jt, at + 2);
    out.writeUInt8(jf, at + 3);
    out.writeUInt32LE(k >>> 0, at + 4);
  });
  return out;
}

const NLMSG_TYPE = 4;
const NDM_FAMILY = 16;
const FIRST_ATTRIBUTE_TYPE = 30;
const FIRST_ATTRIBUTE_DATA = 32;
const FIRST_ATTRIBUTE_LENGTH = 28;
const SECOND_ATTRIBUTE_TYPE = 38;
const SECOND_ATTRIBUTE_DATA = 40;
const RTM_FAMILY = 16;
const RTM_DST_LEN = 17;
const RTM_TABLE = 20;
const RTM_PROTOCOL = 21;

/**
 * The filter described at the top: multicast neighbours and the kernel's own routes we do not
 * follow dropped, everything else kept.
 */
export function kernelNoiseFilter(): Buffer {
  const ifEqual = (value: number, then: FilterTarget, otherwise: FilterTarget): FilterStep => ({
    op: 'jumpIfEqual',
    value,
    then,
    otherwise,
  });
  return assemble([
    // A route or neighbour message? (type 24, 25, 28 or 29: high byte 0)
    { op: 'loadByte', offset: NLMSG_TYPE + 1 },
    ifEqual(0, 'next', 'accept'),
    { op: 'loadByte', offset: NLMSG_TYPE },
    ifEqual(RTM_NEWROUTE, 'route', 'next'),
    ifEqual(RTM_DELROUTE, 'route', 'next'),
    ifEqual(RTM_NEWNEIGH, 'neighbour', 'next'),
    ifEqual(RTM_DELNEIGH, 'neighbour', 'accept'),
    { op: 'label', name: 'route' },
    // Long enough to hold rtm_protocol (a load past the end drops).
    { op: 'loadLength' },
    { op: 'jumpIfAtLeast', value: RTM_PROTOCOL + 1, then: 'next', otherwise: 'accept' },
    { op: 'loadByte', offset: RTM_PROTOCOL },
    ifEqual(RTPROT_KERNEL, 'next', 'accept'),
    { op: 'loadByte', offset: RTM_TABLE },
    ifEqual(RT_TABLE_LOCAL, 'drop', 'next'),
    { op: 'loadByte', offset: RTM_FAMILY },
    ifEqual(AF_INET, 'drop', 'next'),
    ifEqual(AF_INET6, 'next', 'accept'),
    // IPv6: fe80::/64 only. Its RTA_TABLE first (length 8, no flag bits), then its RTA_DST.
    { op: 'loadByte', offset: RTM_DST_LEN },
    ifEqual(64, 'next', 'accept'),
    { op: 'loadLength' },
    { op: 'jumpIfAtLeast', value: SECOND_ATTRIBUTE_DATA + 2, then: 'next', otherwise: 'accept' },
    { op: 'loadByte', offset: FIRST_ATTRIBUTE_LENGTH },
    ifEqual(8, 'next', 'accept'),
    { op: 'loadByte', offset: FIRST_ATTRIBUTE_LENGTH + 1 },
    ifEqual(0, 'next', 'accept'),
    { op: 'loadByte', offset: FIRST_ATTRIBUTE_TYPE },
    ifEqual(RTA_TABLE, 'next', 'accept'),
    { op: 'loadByte', offset: FIRST_ATTRIBUTE_TYPE + 1 },
    ifEqual(0, 'next', 'accept'),
    { op: 'loadByte', offset: SECOND_ATTRIBUTE_TYPE },
    ifEqual(RTA_DST, 'next', 'accept'),
    { op: 'loadByte', offset: SECOND_ATTRIBUTE_TYPE + 1 },
    ifEqual(0, 'next', 'accept'),
    { op: 'loadByte', offset: SECOND_ATTRIBUTE_DATA },
    ifEqual(0xfe, 'next', 'accept'),
    { op: 'loadByte', offset: SECOND_ATTRIBUTE_DATA + 1 },
    ifEqual(0x80, 'drop', 'accept'),
    { op: 'label', name: 'neighbour' },
    // Long enough to hold the first attribute's first address byte (a load past the end drops).
    { op: 'loadLength' },
    { op: 'jumpIfAtLeast', value: FIRST_ATTRIBUTE_DATA + 1, then: 'next', otherwise: 'accept' },
    // The first attribute is NDA_DST (type 1, no flag bits in the high byte).
    { op: 'loadByte', offset: FIRST_ATTRIBUTE_TYPE + 1 },
    ifEqual(0, 'next', 'accept'),
    { op: 'loadByte', offset: FIRST_ATTRIBUTE_TYPE },
    ifEqual(NDA_DST, 'next', 'accept'),
    { op: 'loadByte', offset: NDM_FAMILY },
    ifEqual(AF_INET6, 'ipv6', 'next'),
    ifEqual(AF_INET, 'ipv4', 'accept'),
    { op: 'label', name: 'ipv6' },
    // ff00::/8
    { op: 'loadByte', offset: FIRST_ATTRIBUTE_DATA },
    ifEqual(0xff, 'drop', 'accept'),
    { op: 'label', name: 'ipv4' },
    // 224.0.0.0/4
    { op: 'loadByte', offset: FIRST_ATTRIBUTE_DATA },
    { op: 'and', mask: 0xf0 },
    ifEqual(0xe0, 'drop', 'accept'),
    { op: 'label', name: 'drop' },
    { op: 'return', accept: false },
    { op: 'label', name: 'accept' },
    { op: 'return', accept: true },
  ]);
}
