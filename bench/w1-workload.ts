/**
 * The W1 workload of DESIGN.md section 5: N VETH pairs between a hub namespace and M namespaces
 * (end A in the hub, end B in namespace i % M), each end an IPv4 /30, MTU 1400, up; in each B
 * namespace a route via A and a permanent neighbour entry for A. Same numbering as
 * ../shared/bench/w1-ip-batch.sh.
 */
export interface W1Pair {
  i: number;
  /** Index of the B namespace. */
  k: number;
  a: string;
  b: string;
  addressA: string;
  addressB: string;
  routeDst: string;
  macA: string;
}

export function w1Pairs(n: number, m: number, prefix: { a: string; b: string }): W1Pair[] {
  const pairs: W1Pair[] = [];
  for (let i = 0; i < n; i++) {
    const hi = Math.floor(i / 64);
    const lo = (i % 64) * 4;
    pairs.push({
      i,
      k: i % m,
      a: `${prefix.a}${i}`,
      b: `${prefix.b}${i}`,
      addressA: `10.${hi + 1}.${lo}.1`,
      addressB: `10.${hi + 1}.${lo}.2`,
      routeDst: `172.${16 + Math.floor(i / 250)}.${i % 250}.0`,
      macA: `02:00:00:00:${(Math.floor(i / 256) % 256).toString(16).padStart(2, '0')}:${(i % 256).toString(16).padStart(2, '0')}`,
    });
  }
  return pairs;
}

/** The same work as `ip -batch` files, one per namespace (hub first), as the reference script does. */
export function w1IpBatches(pairs: W1Pair[], hub: string, namespaces: string[]): Map<string, string[]> {
  const batches = new Map<string, string[]>([[hub, []]]);
  for (const ns of namespaces) batches.set(ns, []);
  for (const p of pairs) {
    const ns = namespaces[p.k]!;
    batches
      .get(hub)!
      .push(
        `link add ${p.a} mtu 1400 type veth peer name ${p.b} mtu 1400 netns ${ns}`,
        `addr add ${p.addressA}/30 dev ${p.a}`,
        `link set ${p.a} up`,
      );
    batches
      .get(ns)!
      .push(
        `addr add ${p.addressB}/30 dev ${p.b}`,
        `link set ${p.b} up`,
        `route add ${p.routeDst}/24 via ${p.addressA} dev ${p.b}`,
        `neigh add ${p.addressA} lladdr ${p.macA} dev ${p.b} nud permanent`,
      );
  }
  return batches;
}
