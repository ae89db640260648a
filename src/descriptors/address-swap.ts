/**
 * An interface readdressed (10.0.2.1/24 in place of 10.0.2.5/24): the engine removes the old address
 * before it adds the new one, and the kernel, when the last IPv4 address of a link goes, flushes
 * every route and neighbour entry of the link (fib_disable_ip), static ARP entries included; removing
 * a primary address also removes the secondaries of its network unless the link promotes them. The
 * routes and entries came back from the agent ~50 ms later, but traffic through them was cut. And a
 * network that loses its last address (IPv4 or IPv6) takes the routes through its gateways along.
 * So such a removal adds the interface's new addresses first, and on a link of ours has its
 * secondaries promoted (promote_secondaries), which it does not do on others' links.
 */
import { AF_INET, AF_INET6, IPV4_DEVCONF_PROMOTE_SECONDARIES } from '../netlink/index.js';
import { parsePrefix, samePrefixBits, type LinuxInterface } from '../model/index.js';
import { addAddress, addressCidr } from './l3-ops.js';
import type { NamespaceView } from './namespace-views.js';

/** Whether two addresses (CIDR) are in one network of one prefix length: primary and secondary. */
export function sameNetwork(a: string, b: string): boolean {
  const x = parsePrefix(a);
  const y = parsePrefix(b);
  if (!x.ok || !y.ok || x.value.prefixLength !== y.value.prefixLength) return false;
  return samePrefixBits(x.value.address.bytes, y.value.address.bytes, x.value.prefixLength);
}

/**
 * What to do before removing `removing` from a link holding `present` (its addresses of that
 * family) whose interface wants `wanted` (same family): the addresses to add first, and whether the
 * link must promote secondaries (IPv4). `theirs`: an address of someone else's, which stays.
 * - The link's last IPv4 network goes (the kernel flushes the link): every new address first.
 * - Its network loses its last address (a route through a gateway there would go, then come back):
 *   its new addresses of that network first.
 */
export function swapSteps(
  removing: string,
  present: readonly string[],
  wanted: readonly string[],
  theirs: (cidr: string) => boolean = () => false,
): { addFirst: string[]; promote: boolean } {
  // What stays: what the value still wants, and others' addresses. Not an old address of ours
  // whose own removal may run at the same time (removals run concurrently).
  const staying = present.filter((c) => c !== removing && (wanted.includes(c) || theirs(c)));
  const fresh = wanted.filter((c) => !present.includes(c));
  const v6 = removing.includes(':');
  const linkEmpties = !v6 && staying.every((c) => sameNetwork(c, removing));
  const networkEmpties = !staying.some((c) => sameNetwork(c, removing));
  const addFirst = linkEmpties ? fresh : networkEmpties ? fresh.filter((c) => sameNetwork(c, removing)) : [];
  // What stays of its network (added now, or there already) goes with a primary unless promoted.
  const promote = !v6 && [...staying, ...addFirst].some((c) => sameNetwork(c, removing));
  return { addFirst, promote };
}

/**
 * Before the removal of an address: the new addresses of its interface are added (see swapSteps),
 * and the link promotes secondaries when it is ours (`ours`). `noteOurs` records an address added
 * to a link of others (the book of originals) before it is added.
 */
export async function prepareAddressRemoval(
  view: NamespaceView,
  ifindex: number,
  removing: string,
  wantedBy: LinuxInterface | undefined,
  ours: boolean,
  noteOurs: (cidr: string) => void,
  /** On a link of others: whether an address there is theirs (not one we added). */
  theirs: (cidr: string) => boolean = () => false,
): Promise<void> {
  if (!wantedBy) return;
  const v6 = removing.includes(':');
  const wanted = wantedBy.ipAddresses.filter((c) => c.includes(':') === v6);
  if (wanted.length === 0) return;
  const family = v6 ? AF_INET6 : AF_INET;
  const present = (await view.handle.addrList({ index: ifindex, family })).map(addressCidr);
  const { addFirst, promote } = swapSteps(removing, present, wanted, ours ? () => false : theirs);
  if (promote && ours)
    await view.handle.linkSet(ifindex, { ipv4Settings: new Map([[IPV4_DEVCONF_PROMOTE_SECONDARIES, 1]]) });
  // As their own creation would add them (no duplicate address detection but on others' links).
  const noDad = wantedBy.type !== 'EXISTING' && wantedBy.type !== 'AUTO_TAP';
  for (const cidr of addFirst) {
    if (!ours) noteOurs(cidr);
    await addAddress(view, ifindex, cidr, noDad);
  }
}
