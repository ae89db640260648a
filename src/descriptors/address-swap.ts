/**
 * An interface readdressed (10.0.2.1/24 in place of 10.0.2.5/24): the engine removes the old address
 * before it adds the new one, and the kernel, when the last IPv4 address of a link goes, flushes
 * every route and neighbour entry of the link (fib_disable_ip), static ARP entries included; removing
 * a primary address also removes the secondaries of its network unless the link promotes them. The
 * routes and entries came back from the agent ~50 ms later, but traffic through them was cut. So the
 * last address's removal adds the interface's new IPv4 addresses first, and on a link of ours has
 * its secondaries promoted (promote_secondaries), which it does not do on others' links.
 */
import { AF_INET, IPV4_DEVCONF_PROMOTE_SECONDARIES } from '../netlink/index.js';
import { parsePrefix, type LinuxInterface } from '../model/index.js';
import { addAddress, addressCidr } from './l3-ops.js';
import type { NamespaceView } from './namespace-views.js';

/** Whether two addresses (CIDR) are in one network of one prefix length: primary and secondary. */
export function sameNetwork(a: string, b: string): boolean {
  const x = parsePrefix(a);
  const y = parsePrefix(b);
  if (!x.ok || !y.ok || x.value.prefixLength !== y.value.prefixLength) return false;
  const p = x.value.address.bytes;
  const q = y.value.address.bytes;
  if (p.length !== q.length) return false;
  let bits = x.value.prefixLength;
  for (let i = 0; i < p.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((p[i]! & mask) !== (q[i]! & mask)) return false;
  }
  return true;
}

/**
 * What to do before removing `removing` from a link holding `present` (its IPv4 addresses) whose
 * interface wants `wanted` (IPv4 too): the addresses to add first, and whether the link must promote
 * secondaries. Nothing when another network's address stays (no flush) or nothing new is wanted.
 */
export function swapSteps(
  removing: string,
  present: readonly string[],
  wanted: readonly string[],
  /** Whether an address of the link is someone else's (it stays whatever the value wants). */
  theirs: (cidr: string) => boolean = () => false,
): { addFirst: string[]; promote: boolean } {
  // What stays: what the value still wants, and others' addresses. Not an old address of ours
  // whose own removal may run at the same time (removals run concurrently).
  const staying = present.filter((c) => c !== removing && (wanted.includes(c) || theirs(c)));
  if (staying.some((c) => !sameNetwork(c, removing))) return { addFirst: [], promote: false };
  const addFirst = wanted.filter((c) => !present.includes(c));
  if (addFirst.length === 0 && staying.length === 0) return { addFirst: [], promote: false };
  // What stays of its network (added now, or there already) goes with it unless promoted.
  const promote = [...staying, ...addFirst].some((c) => sameNetwork(c, removing));
  return { addFirst, promote };
}

/**
 * Before the removal of an IPv4 address: the new addresses of its interface are added, and the link
 * promotes secondaries when it is ours (`ours`). `noteOurs` records an address added to a link of
 * others (the book of originals) before it is added.
 */
export async function prepareIpv4Removal(
  view: NamespaceView,
  ifindex: number,
  removing: string,
  wantedBy: LinuxInterface | undefined,
  ours: boolean,
  noteOurs: (cidr: string) => void,
  /** On a link of others: whether an address there is theirs (not one we added). */
  theirs: (cidr: string) => boolean = () => false,
): Promise<void> {
  if (!wantedBy || removing.includes(':')) return;
  const wanted = wantedBy.ipAddresses.filter((c) => !c.includes(':'));
  if (wanted.length === 0) return;
  const present = (await view.handle.addrList({ index: ifindex, family: AF_INET })).map(addressCidr);
  const { addFirst, promote } = swapSteps(removing, present, wanted, ours ? () => false : theirs);
  if (promote && ours)
    await view.handle.linkSet(ifindex, { ipv4Settings: new Map([[IPV4_DEVCONF_PROMOTE_SECONDARIES, 1]]) });
  for (const cidr of addFirst) {
    if (!ours) noteOurs(cidr);
    await addAddress(view, ifindex, cidr, false);
  }
}
