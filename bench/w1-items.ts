/** W1 as configuration items (the users' JSON form), for the engine and end-to-end benchmarks. */
import { arpKey, interfaceKey, routeKey } from '../src/model/index.js';
import type { W1Pair } from './w1-workload.js';

export interface RawItem {
  key: string;
  json: Record<string, unknown>;
}

export function w1Items(label: string, pairs: W1Pair[], hub: string, namespaces: string[]): RawItem[] {
  const items: RawItem[] = [];
  for (const p of pairs) {
    const ns = namespaces[p.k]!;
    items.push(
      {
        key: interfaceKey(label, p.a),
        json: {
          name: p.a,
          type: 'VETH',
          enabled: true,
          mtu: 1400,
          ip_addresses: [`${p.addressA}/30`],
          namespace: { type: 'NAMED_NS', name: hub },
          veth: { peer_if_name: p.b },
        },
      },
      {
        key: interfaceKey(label, p.b),
        json: {
          name: p.b,
          type: 'VETH',
          enabled: true,
          mtu: 1400,
          ip_addresses: [`${p.addressB}/30`],
          namespace: { type: 'NAMED_NS', name: ns },
          veth: { peer_if_name: p.a },
        },
      },
      {
        key: routeKey(label, `r${p.i}`),
        json: {
          name: `r${p.i}`,
          namespace: { type: 'NAMED_NS', name: ns },
          interface: p.b,
          dst_ip_addr: `${p.routeDst}/24`,
          gw_addr: p.addressA,
        },
      },
      {
        key: arpKey(label, `n${p.i}`),
        json: {
          name: `n${p.i}`,
          namespace: { type: 'NAMED_NS', name: ns },
          interface: p.b,
          ip_addr: p.addressA,
          hw_address: p.macA,
          state: { type: 'PERMANENT' },
        },
      },
    );
  }
  return items;
}
