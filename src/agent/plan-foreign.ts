/**
 * What a plan cannot learn from the engine but the kernel would answer when the plan is applied: a
 * route or static ARP entry someone else made (the kernel's own network route of an address,
 * another program's route or `ip neigh add ... nud permanent`) at the place a created item would
 * take. The agent leaves those alone and the item fails, so the plan says "would fail" for it.
 * Read-only and bounded: one route dump per namespace, family and table, one neighbour dump per
 * namespace, and only in namespaces the agent has open (elsewhere it has nothing to ask).
 */
import {
  configPrefix,
  namespaceId,
  type LinuxArpEntry,
  type LinuxInterface,
  type LinuxRoute,
} from '../model/index.js';
import type { Neighbour, Route } from '../netlink/index.js';
import { foreignNeighbourAt, foreignRouteAt, routeDumpFilter, routeSpec } from '../descriptors/l3-ops.js';
import type { NamespaceView } from '../descriptors/namespace-views.js';
import type { PlanEntry } from '../web/contract/topology.js';
import { WOULD_FAIL, type PlannedValue } from './plan-view.js';

/** The kernel's routes and neighbours of a namespace, as far as a plan asks for them. */
export interface KernelTables {
  description: string;
  routes(filter: { family: number; table: number }): Promise<readonly Route[]>;
  neighbours(): Promise<readonly Neighbour[]>;
  /** A link by host name or ifindex; its alias says whose it is. */
  link(
    nameOrIndex: string | number,
  ): { index: number; name?: string; flags?: number; alias?: string } | undefined;
}

/** An open namespace view read through dumps kept for one plan. */
export function kernelTablesOf(view: NamespaceView): KernelTables {
  const routeDumps = new Map<string, Promise<readonly Route[]>>();
  let neighbourDump: Promise<readonly Neighbour[]> | undefined;
  return {
    description: view.description,
    routes(filter) {
      const id = `${filter.family}/${filter.table}`;
      let dump = routeDumps.get(id);
      if (!dump) routeDumps.set(id, (dump = view.handle.routeList(filter)));
      return dump;
    },
    neighbours() {
      return (neighbourDump ??= view.handle.neighList());
    },
    link: (nameOrIndex) => view.links.get(nameOrIndex),
  };
}

export async function foreseeForeignHolders(
  entries: PlanEntry[],
  label: string,
  valueOf: PlannedValue,
  tablesOf: (nsId: string) => KernelTables | undefined,
): Promise<PlanEntry[]> {
  const routePrefix = configPrefix(label, 'route');
  const arpPrefix = configPrefix(label, 'arp');
  const interfacePrefix = configPrefix(label, 'interface');
  const problemOf = async (entry: PlanEntry): Promise<string | undefined> => {
    if (entry.change !== 'create' && entry.change !== 'recreate') return undefined;
    // One reason is enough: another item holding the place already says it would fail.
    if (entry.why.includes(WOULD_FAIL)) return undefined;
    if (entry.key.startsWith(routePrefix)) {
      const route = valueOf(entry.key) as LinuxRoute | undefined;
      // A value the model refused has no destination.
      if (!route || typeof route.dst !== 'string') return undefined;
      const tables = tablesOf(namespaceId(route.namespace));
      if (!tables) return undefined;
      const spec = routeSpec(route, undefined);
      const links = { get: (index: number) => tables.link(index) };
      return foreignRouteAt(
        await tables.routes(routeDumpFilter(spec)),
        spec,
        tables.description,
        label,
        links,
      );
    }
    if (entry.key.startsWith(arpPrefix)) {
      const arp = valueOf(entry.key) as LinuxArpEntry | undefined;
      if (!arp || typeof arp.ipAddress !== 'string') return undefined;
      const tables = tablesOf(namespaceId(arp.namespace));
      const configured = valueOf(interfacePrefix + arp.interface) as LinuxInterface | undefined;
      const link = tables?.link(configured?.hostIfName ?? arp.interface);
      if (!tables || !link) return undefined;
      return foreignNeighbourAt(await tables.neighbours(), link, arp.ipAddress, tables.description, label);
    }
    return undefined;
  };
  return Promise.all(
    entries.map(async (entry) => {
      // Gone meanwhile, or refused: the plan says what it says without it.
      const problem = await problemOf(entry).catch(() => undefined);
      return problem ? { ...entry, why: `${entry.why}${WOULD_FAIL}${problem}` } : entry;
    }),
  );
}
