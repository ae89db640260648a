/**
 * Reads what the kernel holds (links, addresses, routes, neighbours) in the agent's own namespace
 * and in every named namespace, through the netlink layer. Used by `netnsctl dump` and, until the
 * daemon exists, by `make run`.
 */
import { readdirSync } from 'node:fs';
import {
  NetlinkHandle,
  RT_TABLE_LOCAL,
  RTPROT_KERNEL,
  type Address,
  type Link,
  type Neighbour,
  type Route,
} from '../netlink/index.js';

export interface NamespaceDump {
  namespace: string;
  links: Link[];
  addresses: Address[];
  routes: Route[];
  neighbours: Neighbour[];
}

export function namedNamespaces(dir = '/var/run/netns'): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

export async function dumpNamespace(namespace: string, path: string | null): Promise<NamespaceDump> {
  const handle = new NetlinkHandle({ namespacePath: path, label: namespace });
  try {
    const [links, addresses, routes, neighbours] = await Promise.all([
      handle.linkList(),
      handle.addrList(),
      handle.routeList(),
      handle.neighList(),
    ]);
    return { namespace, links, addresses, routes, neighbours };
  } finally {
    handle.close();
  }
}

export async function dumpAll(): Promise<NamespaceDump[]> {
  const targets: [string, string | null][] = [
    ['default', null],
    ...namedNamespaces().map((name): [string, string] => [`named/${name}`, `/var/run/netns/${name}`]),
  ];
  return Promise.all(targets.map(([name, path]) => dumpNamespace(name, path)));
}

/** A compact, `ip -br`-like text rendering. Kernel-made local-table routes are left out. */
export function renderDump(dumps: NamespaceDump[]): string {
  const lines: string[] = [];
  for (const dump of dumps) {
    lines.push(`== ${dump.namespace}`);
    const names = new Map(dump.links.map((l) => [l.index, l.name]));
    for (const link of dump.links) {
      const addresses = dump.addresses
        .filter((a) => a.index === link.index)
        .map((a) => `${a.address}/${a.prefixLength}`);
      lines.push(
        `  link ${link.index} ${link.name}${link.kind ? ` (${link.kind})` : ''} ${link.up ? 'up' : 'down'} ` +
          `${link.operState} mtu ${link.mtu}${link.mac ? ` ${link.mac}` : ''}${link.alias ? ` alias "${link.alias}"` : ''}` +
          (addresses.length ? `  ${addresses.join(' ')}` : ''),
      );
    }
    for (const route of dump.routes) {
      if (route.table === RT_TABLE_LOCAL || route.protocol === RTPROT_KERNEL) continue;
      const dst = route.dst ? `${route.dst}/${route.dstLength}` : 'default';
      lines.push(
        `  route ${dst}${route.gateway ? ` via ${route.gateway}` : ''}${route.oif ? ` dev ${names.get(route.oif) ?? route.oif}` : ''}` +
          `${route.table !== 254 ? ` table ${route.table}` : ''}${route.metric ? ` metric ${route.metric}` : ''}`,
      );
    }
    for (const n of dump.neighbours) {
      if (!n.mac) continue;
      lines.push(
        `  neigh ${n.address} lladdr ${n.mac} dev ${names.get(n.index) ?? n.index} state 0x${n.state.toString(16)}`,
      );
    }
  }
  return lines.join('\n');
}
