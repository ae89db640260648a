/**
 * What the kernel holds in one namespace (links, addresses, routes, neighbours, managed or not), read
 * through the namespace's existing handle, for GET /v1/kernel and `netnsctl dump`. What this agent
 * made is marked: a link with the config name its mark names (`managed`), routes and neighbour
 * entries with our protocol (`managed: true`). A link the agent configures without having made it
 * (a LOOPBACK's `lo`, an EXISTING interface) carries no mark, so the caller names it
 * (`configured`): it is the agent's to configure, not to delete.
 */
import type { Address, Link, NetlinkHandle, Neighbour, Route } from '../netlink/index.js';
import { ownedConfigName } from '../descriptors/ownership.js';
import { isOwnNeighbour, isOwnRoute } from '../descriptors/l3-ops.js';

export interface NamespaceDump {
  namespace: string;
  links: (Link & { managed?: string; configured?: string })[];
  addresses: Address[];
  routes: (Route & { managed?: true })[];
  neighbours: (Neighbour & { managed?: true })[];
}

export async function dumpNamespace(
  namespace: string,
  handle: NetlinkHandle,
  label: string,
  configuredByIndex: ReadonlyMap<number, string> = new Map(),
): Promise<NamespaceDump> {
  const [links, addresses, routes, neighbours] = await Promise.all([
    handle.linkList(),
    handle.addrList(),
    handle.routeList(),
    handle.neighList(),
  ]);
  const indexed = new Map(links.map((link) => [link.index, link]));
  const byIndex = { get: (index: number) => indexed.get(index) };
  return {
    namespace,
    links: links.map((link) => {
      const managed = ownedConfigName(label, link.alias);
      if (managed !== undefined) return { ...link, managed };
      const configured = configuredByIndex.get(link.index);
      return configured === undefined ? link : { ...link, configured };
    }),
    addresses,
    routes: routes.map((route) => (isOwnRoute(label, byIndex, route) ? { ...route, managed: true } : route)),
    neighbours: neighbours.map((n) => (isOwnNeighbour(label, byIndex, n) ? { ...n, managed: true } : n)),
  };
}
