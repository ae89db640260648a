/**
 * Ready-made configurations (`netnsctl example NAME`), as `apply -f` documents: each has the item's
 * kind and name plus its value in the vpp-agent JSON form. The VETH pair and the TAP are the seeds'
 * own examples.
 */
export interface ExampleDocument {
  kind: 'interface' | 'route' | 'arp';
  name: string;
  value: Record<string, unknown>;
}

export const EXAMPLES: Record<string, { description: string; documents: ExampleDocument[] }> = {
  veth: {
    description: "the seeds' VETH pair: veth1 in named namespace ns1, veth2 in ns2, IPv4 + IPv6, MAC, MTU",
    documents: [
      {
        kind: 'interface',
        name: 'veth1',
        value: {
          name: 'veth1',
          type: 0,
          enabled: true,
          host_if_name: 'veth1Name',
          phys_address: 'd2:74:8c:12:67:d2',
          mtu: 1500,
          ip_addresses: ['192.168.22.1/24', '2001:db8:0:0:0:ff00:89e3:bb42/48'],
          namespace: { type: 2, name: 'ns1' },
          veth: { peer_if_name: 'veth2' },
        },
      },
      {
        kind: 'interface',
        name: 'veth2',
        value: {
          name: 'veth2',
          type: 0,
          enabled: true,
          host_if_name: 'veth2Name',
          phys_address: '92:c7:42:67:ab:cd',
          mtu: 1500,
          ip_addresses: ['192.168.22.2/24', '2001:842:0:0:0:ff00:13c7:1245/48'],
          namespace: { type: 2, name: 'ns2' },
          veth: { peer_if_name: 'veth1' },
        },
      },
    ],
  },
  tap: {
    description:
      "the seeds' TAP: tap1 (made by another program as tap1) renamed linux-tap and moved into ns1",
    documents: [
      {
        kind: 'interface',
        name: 'tap1',
        value: {
          name: 'tap1',
          type: 1,
          enabled: true,
          host_if_name: 'linux-tap',
          phys_address: '92:c7:42:67:ab:cc',
          mtu: 1500,
          ip_addresses: ['172.52.45.127/24'],
          namespace: { type: 2, name: 'ns1' },
          tap: { temp_if_name: 'tap1' },
        },
      },
    ],
  },
  route: {
    description: 'a route in ns1 to 10.10.0.0/16 via veth2 (192.168.22.2) through veth1Name',
    documents: [
      {
        kind: 'route',
        name: 'to-ns2-lan',
        value: {
          name: 'to-ns2-lan',
          namespace: { type: 2, name: 'ns1' },
          interface: 'veth1Name',
          dst_ip_addr: '10.10.0.0/16',
          gw_addr: '192.168.22.2',
          metric: 100,
        },
      },
    ],
  },
  arp: {
    description: "a permanent ARP entry in ns1 for veth2's address",
    documents: [
      {
        kind: 'arp',
        name: 'veth2-arp',
        value: {
          name: 'veth2-arp',
          namespace: { type: 2, name: 'ns1' },
          interface: 'veth1Name',
          ip_addr: '192.168.22.2',
          hw_address: '92:c7:42:67:ab:cd',
          state: { type: 'PERMANENT' },
        },
      },
    ],
  },
  microservice: {
    description: 'a VETH pair between the default namespace and the container labelled ms-a',
    documents: [
      {
        kind: 'interface',
        name: 'host-ms-a',
        value: {
          name: 'host-ms-a',
          type: 'VETH',
          enabled: true,
          ip_addresses: ['10.200.0.1/30'],
          veth: { peer_if_name: 'ms-a-eth0' },
        },
      },
      {
        kind: 'interface',
        name: 'ms-a-eth0',
        value: {
          name: 'ms-a-eth0',
          type: 'VETH',
          enabled: true,
          ip_addresses: ['10.200.0.2/30'],
          namespace: { type: 'MICROSERVICE_REF_NS', microservice: 'ms-a' },
          veth: { peer_if_name: 'host-ms-a' },
        },
      },
    ],
  },
};
