/**
 * What the kernel holds in one namespace (links, addresses, routes, neighbours, managed or not), read
 * through the namespace's existing handle, for GET /v1/kernel and `netnsctl dump`.
 */
import type { Address, Link, NetlinkHandle, Neighbour, Route } from '../netlink/index.js';

export interface NamespaceDump {
  namespace: string;
  links: Link[];
  addresses: Address[];
  routes: Route[];
  neighbours: Neighbour[];
}

export async function dumpNamespace(namespace: string, handle: NetlinkHandle): Promise<NamespaceDump> {
  const [links, addresses, routes, neighbours] = await Promise.all([
    handle.linkList(),
    handle.addrList(),
    handle.routeList(),
    handle.neighList(),
  ]);
  return { namespace, links, addresses, routes, neighbours };
}
