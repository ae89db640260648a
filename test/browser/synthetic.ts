/**
 * A W1-sized topology (DESIGN.md section 5: a hub namespace and 50 namespaces, 1000 VETH pairs, a
 * route and an ARP entry per pair), as GET /v1/topology would return it, with a mix of states. The
 * browser test serves it in place of the agent's own answer to see the page cope with that size
 * without building it in the kernel.
 */
import type { Topology, TopologyState } from '../../src/web/contract/topology.js';

const SPOKES = 50;
const PAIRS = 1000;

function stateOf(i: number): { state: TopologyState; reason?: string; error?: string } {
  if (i % 97 === 5) return { state: 'failed', error: 'netlink: RTM_NEWLINK: File exists (EEXIST)' };
  if (i % 41 === 3) return { state: 'pending', reason: `waiting for VETH peer a${i} to be configured` };
  return { state: 'configured' };
}

export function w1Topology(label: string): Topology {
  const key = (kind: string, name: string): string => `/vnf-agent/${label}/linux/config/v1/${kind}/${name}`;
  const topology: Topology = { label, namespaces: [], interfaces: [], routes: [], arps: [], unplaced: [] };
  topology.namespaces.push({ id: 'named/w1hub', kind: 'named', title: 'named w1hub', available: true });
  for (let s = 0; s < SPOKES; s++)
    topology.namespaces.push({
      id: `named/w1ns${s}`,
      kind: 'named',
      title: `named w1ns${s}`,
      available: true,
    });
  for (let i = 0; i < PAIRS; i++) {
    const spoke = `named/w1ns${i % SPOKES}`;
    const net = `10.${Math.floor(i / 64)}.${(i % 64) * 4}`;
    const common = { type: 'VETH', enabled: true, mtu: 1400 };
    topology.interfaces.push({
      key: key('interface', `a${i}`),
      name: `a${i}`,
      hostIfName: `a${i}`,
      namespace: 'named/w1hub',
      ipAddresses: [`${net}.1/30`],
      peer: key('interface', `b${i}`),
      kernel: { ifindex: 10 + i, operState: 'up', mtu: 1400 },
      state: 'configured',
      ...common,
    });
    topology.interfaces.push({
      key: key('interface', `b${i}`),
      name: `b${i}`,
      hostIfName: `b${i}`,
      namespace: spoke,
      ipAddresses: [`${net}.2/30`],
      peer: key('interface', `a${i}`),
      ...stateOf(i),
      ...common,
    });
    topology.routes.push({
      key: key('route', `r${i}`),
      name: `r${i}`,
      namespace: spoke,
      interface: `b${i}`,
      dst: `172.${16 + Math.floor(i / 250)}.${i % 250}.0/24`,
      gateway: `${net}.1`,
      metric: 0,
      table: 0,
      state: 'configured',
    });
    topology.arps.push({
      key: key('arp', `n${i}`),
      name: `n${i}`,
      namespace: spoke,
      interface: `b${i}`,
      ipAddress: `${net}.1`,
      hwAddress: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
      nudState: 'PERMANENT',
      state: 'configured',
    });
  }
  return topology;
}
