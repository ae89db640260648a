/**
 * Shared pieces of the netlink kernel tests: fresh namespaces each with an open NetlinkHandle
 * (closed and deleted afterwards, whatever happens), and ip's JSON turned into our field values.
 */
import assert from 'node:assert/strict';
import { NetlinkHandle, type Link } from '../../../src/netlink/index.js';
import { ifindexOf, ipBatch, ipJson, withNamespaces, type TestNamespace } from '../../helpers/kernel.js';

export interface NetlinkContext {
  namespaces: TestNamespace[];
  /** handles[i] works in namespaces[i]. */
  handles: NetlinkHandle[];
}

export function withNetlink<T>(count: number, fn: (ctx: NetlinkContext) => Promise<T>): Promise<T> {
  return withNamespaces(count, async (namespaces) => {
    const handles: NetlinkHandle[] = [];
    try {
      for (const ns of namespaces)
        handles.push(new NetlinkHandle({ namespacePath: ns.path, label: `test namespace ${ns.name}` }));
      return await fn({ namespaces, handles });
    } finally {
      for (const handle of handles) handle.close();
    }
  });
}

/** What `ip -json [-d] link` prints for one link (the fields we compare). */
export interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  operstate: string;
  group: string;
  txqlen?: number;
  link_type: string;
  address?: string;
  ifalias?: string;
  link?: string;
  link_index?: number;
  link_netnsid?: number;
  min_mtu?: number;
  max_mtu?: number;
  linkinfo?: { info_kind?: string };
}

export function ipGroup(group: string): number {
  return group === 'default' ? 0 : Number(group);
}

/** Asserts that our decoded link says what ip says. */
export function assertSameLink(ours: Link, theirs: IpLink): void {
  const where = `link ${theirs.ifname}`;
  assert.equal(ours.index, theirs.ifindex, where);
  assert.equal(ours.name, theirs.ifname, where);
  assert.equal(ours.mtu, theirs.mtu, where);
  assert.equal(ours.up, theirs.flags.includes('UP'), `${where} UP`);
  assert.equal(ours.lowerUp, theirs.flags.includes('LOWER_UP'), `${where} LOWER_UP`);
  assert.equal(ours.operState.toUpperCase(), theirs.operstate, `${where} operstate`);
  assert.equal(ours.group, ipGroup(theirs.group), `${where} group`);
  assert.equal(ours.txqlen, theirs.txqlen, `${where} txqlen`);
  if (theirs.link_type === 'ether') assert.equal(ours.mac, theirs.address, `${where} address`);
  assert.equal(ours.hardwareType, theirs.link_type === 'loopback' ? 772 : 1, `${where} link_type`);
  assert.equal(ours.alias, theirs.ifalias, `${where} alias`);
  if (theirs.link_index !== undefined)
    assert.equal(ours.parentIndex, theirs.link_index, `${where} link_index`);
  assert.equal(ours.linkNetnsId, theirs.link_netnsid, `${where} link_netnsid`);
  if (theirs.min_mtu !== undefined) assert.equal(ours.minMtu, theirs.min_mtu, `${where} min_mtu`);
  if (theirs.max_mtu !== undefined) assert.equal(ours.maxMtu, theirs.max_mtu, `${where} max_mtu`);
  if (theirs.linkinfo) assert.equal(ours.kind, theirs.linkinfo.info_kind, `${where} kind`);
}

export const SCOPES: Record<string, number> = {
  global: 0,
  universe: 0,
  site: 200,
  link: 253,
  host: 254,
  nowhere: 255,
};
export const PROTOCOLS: Record<string, number> = { unspec: 0, redirect: 1, kernel: 2, boot: 3, static: 4 };

/** ip's neighbour state names, to NUD_* bits. */
export const NUD: Record<string, number> = {
  INCOMPLETE: 0x01,
  REACHABLE: 0x02,
  STALE: 0x04,
  DELAY: 0x08,
  PROBE: 0x10,
  FAILED: 0x20,
  NOARP: 0x40,
  PERMANENT: 0x80,
};

/** A VETH pair va/vb inside one namespace, both up, created by ip; returns their ifindexes. */
export function vethInside(
  ns: string,
  options: { v4?: string; v6?: string } = {},
): { va: number; vb: number } {
  const lines = ['link add va type veth peer name vb', 'link set va up', 'link set vb up'];
  if (options.v4) lines.push(`addr add ${options.v4} dev va`);
  if (options.v6) lines.push(`addr add ${options.v6} dev va nodad`);
  ipBatch(ns, lines);
  return { va: ifindexOf(ns, 'va'), vb: ifindexOf(ns, 'vb') };
}

/** ifindex -> name in a namespace, from ip. */
export function ipNames(ns: string): Map<number, string> {
  return new Map(ipJson<IpLink[]>(ns, ['link', 'show']).map((l) => [l.ifindex, l.ifname]));
}

export function nameOf<T extends string>(table: Record<T, number>, value: number): string {
  const found = Object.entries(table).find(([, v]) => v === value);
  return found ? found[0] : String(value);
}
