/**
 * What the kernel holds in one namespace (links, addresses, routes, neighbours, managed or not), read
 * through the namespace's existing handle, for GET /v1/kernel and `netnsctl dump`. What this agent
 * made is marked: a link with the config name its mark names (`managed`), routes and neighbour
 * entries with our protocol (`managed: true`).
 */
import type { Address, Link, NetlinkHandle, Neighbour, Route } from '../netlink/index.js';
import { AGENT_PROTOCOL, ownedConfigName } from '../descriptors/ownership.js';

export interface NamespaceDump {
  namespace: string;
  links: (Link & { managed?: string })[];
  addresses: Address[];
  routes: (Route & { managed?: true })[];
  neighbours: (Neighbour & { managed?: true })[];
}

export async function dumpNamespace(
  namespace: string,
  handle: NetlinkHandle,
  label: string,
): Promise<NamespaceDump> {
  const [links, addresses, routes, neighbours] = await Promise.all([
    handle.linkList(),
    handle.addrList(),
    handle.routeList(),
    handle.neighList(),
  ]);
  return {
    namespace,
    links: links.map((link) => {
      const managed = ownedConfigName(label, link.alias);
      return managed === undefined ? link : { ...link, managed };
    }),
    addresses,
    routes: routes.map((route) => (route.protocol === AGENT_PROTOCOL ? { ...route, managed: true } : route)),
    neighbours: neighbours.map((n) => (n.protocol === AGENT_PROTOCOL ? { ...n, managed: true } : n)),
  };
}
