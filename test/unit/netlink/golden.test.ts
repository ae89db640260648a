/**
 * Golden bytes: what iproute2's `ip` sent to and received from a real kernel (strace captures in
 * test/data/netlink/golden.json, made by test/data/netlink/capture.ts), against our codec.
 *
 * Requests: our encoders must produce ip's bytes, after these documented normalizations:
 * - nlmsg_seq and nlmsg_pid are zeroed on both sides (the socket sets seq; pid is 0 in both);
 * - NLM_F_REQUEST | NLM_F_ACK are added to ours, as NetlinkSocket.request() does when sending;
 * - NLA_F_NESTED is cleared: we mark nested attributes (IFLA_LINKINFO, IFLA_INFO_DATA,
 *   VETH_INFO_PEER) as the kernel recommends, iproute2 6.1 does not; the kernel accepts both;
 * - IFLA_INFO_KIND is compared without its terminating NUL, which ip leaves out;
 * - attributes of one level are compared sorted by type: ip writes them in command-line order, we
 *   in a fixed order; the kernel parses them into a table indexed by type (nla_parse);
 * - per-case differences listed in CASES (`drop`, `patch`), each with its reason.
 *
 * Answers: the kernel's messages as ip received them decode to what ip printed as JSON.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AF_INET,
  IFA_F_NODAD,
  IFA_F_PERMANENT,
  IFA_F_TENTATIVE,
  IFINFOMSG_LEN,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  NDMSG_LEN,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  NUD_NOARP,
  NUD_PERMANENT,
  RTA_TABLE,
  RTM_DELLINK,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  RTMSG_LEN,
  RT_SCOPE_LINK,
  IFADDRMSG_LEN,
  VETH_INFO_PEER,
  align4,
  decodeAcknowledgement,
  decodeAddress,
  decodeLink,
  decodeNeighbour,
  decodeRoute,
  encodeAddressRequest,
  encodeLinkRequest,
  encodeNeighbourRequest,
  encodeRouteRequest,
  splitMessages,
  type NetlinkMessage,
} from '../../../src/netlink/index.js';

interface Capture {
  name: string;
  command: string[];
  status: number;
  stdout: string;
  stderr: string;
  sent: string[];
  received: string[];
}

interface Fixture {
  iproute2: string;
  kernel: string;
  ifindex: { lo: number; va: number; vb: number };
  captures: Capture[];
}

const here = path.dirname(fileURLToPath(import.meta.url));
// dist/test/unit/netlink -> test/data/netlink
const fixture = JSON.parse(
  readFileSync(path.resolve(here, '../../../../test/data/netlink/golden.json'), 'utf8'),
) as Fixture;
const { va } = fixture.ifindex;

function capture(name: string): Capture {
  const found = fixture.captures.find((c) => c.name === name);
  assert.ok(found, `capture ${name} in golden.json`);
  return found;
}

// ---- normalization --------------------------------------------------------------------------

/**
 * Which attributes nest further (and the fixed struct at the start of their payload), and which
 * are strings compared without their terminating NUL.
 */
interface Schema {
  [type: number]: { fixed: number; nested: Schema } | 'string';
}

const LINK_SCHEMA: Schema = {
  [IFLA_LINKINFO]: {
    fixed: 0,
    nested: {
      // ip sends IFLA_INFO_KIND without a NUL ("veth", 8 bytes), we with one (9); nla_strcmp
      // and the kernel's NLA_STRING policy accept both.
      [IFLA_INFO_KIND]: 'string',
      [IFLA_INFO_DATA]: { fixed: 0, nested: { [VETH_INFO_PEER]: { fixed: IFINFOMSG_LEN, nested: {} } } },
    },
  },
};

const FIXED: Record<number, { fixed: number; schema: Schema }> = {
  [RTM_NEWLINK]: { fixed: IFINFOMSG_LEN, schema: LINK_SCHEMA },
  [RTM_DELLINK]: { fixed: IFINFOMSG_LEN, schema: LINK_SCHEMA },
  [RTM_NEWADDR]: { fixed: IFADDRMSG_LEN, schema: {} },
  [RTM_NEWROUTE]: { fixed: RTMSG_LEN, schema: {} },
  [RTM_NEWNEIGH]: { fixed: NDMSG_LEN, schema: {} },
};

/** The attributes of one level in canonical form: nested flag cleared, sorted by type, re-padded. */
function canonicalAttributes(bytes: Buffer, fixed: number, schema: Schema, drop: number[] = []): Buffer {
  const parts: { type: number; data: Buffer }[] = [];
  let offset = fixed;
  while (offset + 4 <= bytes.length) {
    const length = bytes.readUInt16LE(offset);
    assert.ok(length >= 4 && offset + length <= bytes.length, `attribute at ${offset} fits`);
    const type = bytes.readUInt16LE(offset + 2) & 0x3fff;
    let data = bytes.subarray(offset + 4, offset + length);
    const nested = schema[type];
    if (nested === 'string') {
      if (data.at(-1) === 0) data = data.subarray(0, -1);
    } else if (nested) {
      data = canonicalAttributes(data, nested.fixed, nested.nested);
    }
    if (!drop.includes(type)) parts.push({ type, data });
    offset += align4(length);
  }
  assert.equal(align4(offset), align4(bytes.length), 'no trailing garbage');
  parts.sort((a, b) => a.type - b.type);
  const out: Buffer[] = [Buffer.from(bytes.subarray(0, fixed))];
  for (const { type, data } of parts) {
    const header = Buffer.alloc(4);
    header.writeUInt16LE(4 + data.length, 0);
    header.writeUInt16LE(type, 2);
    out.push(header, data, Buffer.alloc(align4(data.length) - data.length));
  }
  return Buffer.concat(out);
}

function canonical(message: Buffer, options: { addFlags?: number; drop?: number[] } = {}): Buffer {
  const type = message.readUInt16LE(4);
  const layout = FIXED[type];
  assert.ok(layout, `known message type ${type}`);
  const body = canonicalAttributes(message.subarray(NLMSG_HDRLEN), layout.fixed, layout.schema, options.drop);
  const header = Buffer.from(message.subarray(0, NLMSG_HDRLEN));
  header.writeUInt32LE(NLMSG_HDRLEN + body.length, 0);
  header.writeUInt16LE(header.readUInt16LE(6) | (options.addFlags ?? 0), 6);
  header.writeUInt32LE(0, 8);
  header.writeUInt32LE(0, 12);
  return Buffer.concat([header, body]);
}

/**
 * The request of a capture: the last message of this type ip sent. ip also sends name lookups
 * (RTM_GETLINK) and, before `link add`, an empty RTM_NEWLINK probing for RTM_NEWLINK support.
 */
function sentOfType(c: Capture, type: number): Buffer {
  const matching = c.sent.map((hex) => Buffer.from(hex, 'hex')).filter((b) => b.readUInt16LE(4) === type);
  assert.ok(matching.length > 0, `${c.name}: a request of type ${type}`);
  return matching.at(-1)!;
}

function receivedMessages(c: Capture): NetlinkMessage[] {
  return c.received.flatMap((hex) => splitMessages(Buffer.from(hex, 'hex')));
}

// ---- requests -------------------------------------------------------------------------------

interface RequestCase {
  name: string;
  ours: () => Buffer;
  /** Attributes we send and ip does not, removed from ours before comparing. */
  drop?: number[];
  /** A fixed-part byte we set differently, set to ip's value in ours before comparing. */
  patch?: { offset: number; reason: string };
}

const CREATE = NLM_F_CREATE | NLM_F_EXCL;

const CASES: RequestCase[] = [
  {
    name: 'veth',
    ours: () =>
      encodeLinkRequest(
        RTM_NEWLINK,
        CREATE,
        0,
        { name: 'va' },
        { kind: 'veth', peer: { name: 'vb', index: 0 } },
      ),
  },
  {
    name: 'veth-attributes',
    ours: () =>
      encodeLinkRequest(
        RTM_NEWLINK,
        CREATE,
        0,
        { name: 'vc', mtu: 1400, mac: '02:00:00:00:00:0c', group: 7 },
        {
          kind: 'veth',
          peer: { name: 'vd', mtu: 1400, mac: '02:00:00:00:00:0d', group: 7, index: 0 },
        },
      ),
  },
  {
    name: 'addr-v4',
    ours: () =>
      encodeAddressRequest(RTM_NEWADDR, CREATE, { index: va, address: '10.1.2.3', prefixLength: 24 }),
  },
  {
    name: 'addr-v6',
    ours: () =>
      encodeAddressRequest(RTM_NEWADDR, CREATE, {
        index: va,
        address: '2001:db8::3',
        prefixLength: 64,
        flags: IFA_F_NODAD,
      }),
  },
  {
    name: 'route-gateway-table',
    ours: () =>
      encodeRouteRequest(RTM_NEWROUTE, CREATE, {
        dst: '10.9.0.0',
        dstLength: 16,
        gateway: '10.1.2.1',
        oif: va,
        metric: 100,
        table: 1000,
      }),
  },
  {
    name: 'route-scope-src',
    ours: () =>
      encodeRouteRequest(RTM_NEWROUTE, CREATE, {
        dst: '10.8.0.0',
        dstLength: 16,
        oif: va,
        scope: RT_SCOPE_LINK,
        source: '10.1.2.3',
        table: 1000,
      }),
  },
  {
    name: 'route-default-main',
    ours: () =>
      encodeRouteRequest(RTM_NEWROUTE, CREATE, { dstLength: 0, family: AF_INET, gateway: '10.1.2.1' }),
    // ip leaves RTA_TABLE out when rtm_table can hold the table; we always send it (same value).
    drop: [RTA_TABLE],
  },
  {
    name: 'route-v6',
    ours: () =>
      encodeRouteRequest(RTM_NEWROUTE, CREATE, {
        dst: '2001:db8:9::',
        dstLength: 48,
        gateway: '2001:db8::1',
        oif: va,
        metric: 1024,
        table: 1000,
      }),
  },
  {
    name: 'route-invalid-gateway',
    ours: () =>
      encodeRouteRequest(RTM_NEWROUTE, CREATE, {
        dst: '10.7.0.0',
        dstLength: 16,
        gateway: '10.99.0.1',
        oif: va,
      }),
    drop: [RTA_TABLE],
  },
  {
    name: 'neigh-v4',
    ours: () =>
      encodeNeighbourRequest(RTM_NEWNEIGH, CREATE, {
        index: va,
        address: '10.1.2.4',
        mac: '02:00:00:00:00:04',
        state: NUD_PERMANENT,
      }),
    // ndm_type: we say RTN_UNICAST, ip leaves 0; the kernel ignores ndm_type on RTM_NEWNEIGH.
    patch: { offset: NLMSG_HDRLEN + 11, reason: 'ndm_type' },
  },
  {
    name: 'neigh-v6',
    ours: () =>
      encodeNeighbourRequest(RTM_NEWNEIGH, CREATE, {
        index: va,
        address: '2001:db8::4',
        mac: '02:00:00:00:00:05',
        state: NUD_NOARP,
      }),
    patch: { offset: NLMSG_HDRLEN + 11, reason: 'ndm_type' },
  },
  { name: 'del-group', ours: () => encodeLinkRequest(RTM_DELLINK, 0, 0, { group: 7 }) },
];

describe(`golden requests (${fixture.iproute2}, kernel ${fixture.kernel})`, () => {
  for (const c of CASES) {
    test(`${c.name}: ${capture(c.name).command.join(' ')}`, () => {
      const ours = Buffer.from(c.ours());
      const type = ours.readUInt16LE(4);
      const theirs = sentOfType(capture(c.name), type);
      if (c.patch) ours[c.patch.offset] = theirs[c.patch.offset]!;
      const expected = canonical(theirs);
      const actual = canonical(ours, {
        addFlags: NLM_F_REQUEST | NLM_F_ACK,
        ...(c.drop ? { drop: c.drop } : {}),
      });
      assert.equal(actual.toString('hex'), expected.toString('hex'));
    });
  }

  test('the main-table routes: our RTA_TABLE says what ip put in rtm_table', () => {
    const ours = encodeRouteRequest(RTM_NEWROUTE, CREATE, {
      dstLength: 0,
      family: AF_INET,
      gateway: '10.1.2.1',
    });
    const theirs = sentOfType(capture('route-default-main'), RTM_NEWROUTE);
    const decoded = decodeRoute(splitMessages(ours)[0]!);
    assert.equal(decoded.table, theirs.readUInt8(NLMSG_HDRLEN + 4));
  });
});

// ---- answers --------------------------------------------------------------------------------

const SCOPES: Record<string, number> = { global: 0, site: 200, link: 253, host: 254, nowhere: 255 };
const PROTOCOLS: Record<string, number> = { kernel: 2, boot: 3, static: 4 };

describe('golden answers decode to what ip printed', () => {
  test('RTM_NEWLINK of `ip -json -s link show`', () => {
    const c = capture('show-link');
    const [json] = JSON.parse(c.stdout) as Record<string, unknown>[];
    assert.ok(json);
    const messages = receivedMessages(c).filter((m) => m.type === RTM_NEWLINK);
    const link = decodeLink(messages.filter((m) => m.payload.readInt32LE(4) === va).at(-1)!);
    assert.equal(link.index, json.ifindex);
    assert.equal(link.name, json.ifname);
    assert.equal(link.mtu, json.mtu);
    assert.equal(link.mac, json.address);
    assert.equal(link.alias, json.ifalias);
    assert.equal(link.txqlen, json.txqlen);
    assert.equal(link.operState, String(json.operstate).toLowerCase());
    assert.equal(json.group, 'default');
    assert.equal(link.group, 0);
    assert.equal(json.link_type, 'ether');
    assert.equal(link.hardwareType, 1);
    const flags = json.flags as string[];
    assert.equal(link.up, flags.includes('UP'));
    assert.equal(link.lowerUp, flags.includes('LOWER_UP'));
    assert.equal(link.kind, 'veth');
    assert.equal(json.link, 'vb');
    assert.equal(link.parentIndex, fixture.ifindex.vb);
    const stats = json.stats64 as { rx: Record<string, number>; tx: Record<string, number> };
    assert.deepEqual(
      {
        rxBytes: stats.rx.bytes,
        rxPackets: stats.rx.packets,
        rxErrors: stats.rx.errors,
        rxDropped: stats.rx.dropped,
        txBytes: stats.tx.bytes,
        txPackets: stats.tx.packets,
        txErrors: stats.tx.errors,
        txDropped: stats.tx.dropped,
      },
      {
        rxBytes: link.stats?.rxBytes,
        rxPackets: link.stats?.rxPackets,
        rxErrors: link.stats?.rxErrors,
        rxDropped: link.stats?.rxDropped,
        txBytes: link.stats?.txBytes,
        txPackets: link.stats?.txPackets,
        txErrors: link.stats?.txErrors,
        txDropped: link.stats?.txDropped,
      },
    );
    // every link of ip's name-cache dump decodes too (lo, vb: other kinds of messages)
    for (const m of messages) decodeLink(m);
  });

  test('RTM_NEWADDR dump of `ip -json addr show`', () => {
    const c = capture('show-addr');
    const [json] = JSON.parse(c.stdout) as { addr_info: Record<string, unknown>[] }[];
    const decoded = receivedMessages(c)
      .filter((m) => m.type === RTM_NEWADDR)
      .map(decodeAddress)
      .filter((a) => a.index === va);
    assert.equal(decoded.length, json!.addr_info.length);
    for (const info of json!.addr_info) {
      const address = decoded.find((a) => a.address === info.local);
      assert.ok(address, `decoded ${String(info.local)}`);
      assert.equal(address.prefixLength, info.prefixlen);
      assert.equal(address.scope, SCOPES[String(info.scope)]);
      assert.equal(address.label, info.label);
      assert.equal((address.flags & IFA_F_NODAD) !== 0, info.nodad === true);
      assert.equal((address.flags & IFA_F_TENTATIVE) !== 0, info.tentative === true);
      assert.equal((address.flags & IFA_F_PERMANENT) === 0, info.dynamic === true);
    }
  });

  test('RTM_NEWROUTE dump of `ip -json route show table 1000`', () => {
    const c = capture('show-route');
    const json = JSON.parse(c.stdout) as Record<string, unknown>[];
    const decoded = receivedMessages(c)
      .filter((m) => m.type === RTM_NEWROUTE)
      .map(decodeRoute)
      .filter((r) => r.table === 1000);
    assert.equal(decoded.length, json.length);
    for (const entry of json) {
      const route = decoded.find((r) => `${r.dst}/${r.dstLength}` === entry.dst);
      assert.ok(route, `decoded ${String(entry.dst)}`);
      assert.equal(route.gateway, entry.gateway);
      assert.equal(route.oif, entry.dev === 'va' ? va : undefined);
      assert.equal(route.protocol, PROTOCOLS[String(entry.protocol)]);
      assert.equal(route.scope, SCOPES[String(entry.scope ?? 'global')]);
      assert.equal(route.source, entry.prefsrc);
      assert.equal(route.metric ?? 0, entry.metric ?? 0);
    }
  });

  test('RTM_NEWNEIGH dump of `ip -json neigh show` (ip hides NOARP entries)', () => {
    const c = capture('show-neigh');
    const json = JSON.parse(c.stdout) as Record<string, unknown>[];
    const decoded = receivedMessages(c)
      .filter((m) => m.type === RTM_NEWNEIGH)
      .map(decodeNeighbour)
      .filter((n) => n.index === va);
    for (const entry of json) {
      const neighbour = decoded.find((n) => n.address === entry.dst);
      assert.ok(neighbour, `decoded ${String(entry.dst)}`);
      assert.equal(neighbour.mac, entry.lladdr);
      assert.deepEqual(entry.state, ['PERMANENT']);
      assert.equal(neighbour.state, NUD_PERMANENT);
    }
    // the hidden ones: ours (nud noarp) and the kernel's multicast entries, all NOARP
    const hidden = decoded.filter((n) => !json.some((e) => e.dst === n.address));
    assert.ok(hidden.every((n) => n.state === NUD_NOARP));
    const ours = hidden.find((n) => n.address === '2001:db8::4');
    assert.equal(ours?.mac, '02:00:00:00:00:05');
  });

  test('the extended ack of a refused route (uncapped: ip does not set NETLINK_CAP_ACK)', () => {
    const c = capture('route-invalid-gateway');
    assert.notEqual(c.status, 0);
    assert.match(c.stderr, /Nexthop has invalid gateway/);
    const sent = sentOfType(c, RTM_NEWROUTE);
    const error = receivedMessages(c).find((m) => m.type === NLMSG_ERROR && m.seq === sent.readUInt32LE(8));
    assert.ok(error);
    const ack = decodeAcknowledgement(error);
    assert.equal(ack.errno, 101); // ENETUNREACH
    assert.equal(ack.message, 'Nexthop has invalid gateway');
    // the whole request is echoed after the error code
    assert.equal(error.payload.subarray(4, 4 + sent.length).toString('hex'), sent.toString('hex'));
  });

  test('the acknowledgements of the successful requests are errno 0', () => {
    for (const c of CASES) {
      if (c.name === 'route-invalid-gateway') continue;
      const cap = capture(c.name);
      const type = Buffer.from(c.ours()).readUInt16LE(4);
      const sent = sentOfType(cap, type);
      const ack = receivedMessages(cap).find((m) => m.type === NLMSG_ERROR && m.seq === sent.readUInt32LE(8));
      assert.ok(ack, `${c.name}: acknowledged`);
      assert.equal(decodeAcknowledgement(ack).errno, 0, c.name);
    }
  });
});
