/**
 * A dry run as users read it (POST /v1/plan, `netnsctl plan`): one entry per configuration item or
 * named namespace, saying whether it would be created, changed, re-created, removed, or stay pending
 * and why. The engine's own dry run stops at what the kernel has not told it yet: a named namespace
 * the plan creates is not "available", so everything in it would look pending. `assumedFacts` lists
 * what the kernel would report once the plan's operations are done (the namespaces it creates exist,
 * the interfaces it sets up are up, their addresses make gateways on-link reachable); planning again
 * with those facts shows what would really stay pending.
 */
import {
  configPrefix,
  isIpv6LinkLocal,
  namespaceId,
  parseIp,
  parsePrefix,
  samePrefixBits,
  type LinuxArpEntry,
  type LinuxInterface,
  type LinuxRoute,
} from '../model/index.js';
import type { DryRun, FactChange, PlannedOperation } from '../scheduler/index.js';
import {
  ANY_INTERFACE,
  NAMED_NAMESPACE,
  linkFact,
  linkUpFact,
  namespaceFact,
  describeFactChange,
  ownLookupTable,
  parseAddressItem,
  reachFact,
} from '../descriptors/fact-keys.js';
import type { LinkRoutePlace } from '../descriptors/on-link-table.js';
import { routeSpec } from '../descriptors/l3-ops.js';
import { RT_TABLE_MAIN } from '../netlink/codec/constants.js';
import type { PlanChange, PlanEntry } from '../web/contract/topology.js';
import { naturalCompare } from '../util/natural-order.js';
import { ownedConfigName } from '../descriptors/ownership.js';
import { createsPair } from '../descriptors/interface.js';
import { gatewayProblem } from './plan-gateways.js';

/** The desired value of a key as it would be after the change (puts applied). */
export type PlannedValue = (key: string) => unknown;

const ASSUMED_VALUE = { planned: true };

/** How a plan entry's words go on when the operation would fail (`foreseeFailures` and the like). */
export const WOULD_FAIL = '; would fail: ';
/** The same, when the operation would not start: what it waits for would fail. */
export const WOULD_WAIT = '; would stay pending: ';

/**
 * Whether the kernel reaches the gateway through that link now (a network it has already), or,
 * with `without`, once those addresses (CIDR) of the link are gone, and with `withoutRoutes`, those
 * gateway-less routes; undefined: not known.
 */
export type ReachableNow = (
  nsId: string,
  hostIfName: string,
  gateway: string,
  table: number,
  without?: readonly string[],
  withoutRoutes?: readonly LinkRoutePlace[],
) => boolean | undefined;

/** What assumedFacts may ask about the kernel and the configuration as they are. */
export interface KernelNow {
  reachableNow?: ReachableNow;
  /** Every key of the configuration once the change is applied. */
  plannedKeys?: Iterable<string>;
  /** Whether the kernel asserts that fact now (e.g. a link is up). */
  factHolds?: (key: string) => boolean;
  /** The value an item has now, before the change. */
  valueNow?: (key: string) => unknown;
}

/** Facts the kernel would report once `dry`'s operations are done. */
export function assumedFacts(
  dry: DryRun,
  label: string,
  valueOf: PlannedValue,
  now: KernelNow = {},
): FactChange[] {
  const reachableNow = now.reachableNow ?? (() => undefined);
  const plannedKeys = [...(now.plannedKeys ?? [])];
  const facts: FactChange[] = [];
  const interfacePrefix = configPrefix(label, 'interface');
  const routePrefix = configPrefix(label, 'route');
  /** Host interface (namespace id + host name) -> prefixes the plan adds to it. */
  const addedPrefixes = new Map<string, string[]>();
  /** The same -> prefixes the plan takes off it. */
  const removedPrefixes = new Map<string, string[]>();
  /** The same -> networks the plan's gateway-less routes make on-link there, by table. */
  const linkRoutes = new Map<string, LinkRoutePlace[]>();
  /** The same -> those the plan removes or changes (what they were). */
  const removedLinkRoutes = new Map<string, LinkRoutePlace[]>();
  // A link the plan removes, or sets down, is no longer up: what waits for it would go pending.
  const recreated = new Set(dry.plan.applies.filter((op) => op.recreate).map((op) => op.key));
  for (const op of dry.plan.deletes) {
    if (op.descriptor.name === 'address') noteAddress(removedPrefixes, op.key, valueOf);
    if (op.descriptor.name === 'route' && op.key.startsWith(routePrefix))
      noteLinkRoute(removedLinkRoutes, op.value as LinuxRoute | undefined, interfacePrefix, valueOf);
    if (op.descriptor.name !== 'interface' || !op.key.startsWith(interfacePrefix)) continue;
    const value = op.value as LinuxInterface | undefined;
    if (!value) continue;
    const fact = linkUpFact(namespaceId(value.namespace), value.hostIfName);
    // Re-created: down only where it was, if it moves (another namespace or host name).
    const next = recreated.has(op.key) ? (valueOf(op.key) as LinuxInterface | undefined) : undefined;
    if (next && linkUpFact(namespaceId(next.namespace), next.hostIfName) === fact) continue;
    facts.push({ key: fact, deleted: true });
    // Its networks go with it (a route naming no interface may have reached its gateway so).
    notePrefixes(removedPrefixes, value, value.ipAddresses);
    // Gone too, unless someone else's link stays (EXISTING, a namespace's lo).
    if (value.type !== 'EXISTING' && value.type !== 'LOOPBACK')
      facts.push({ key: linkFact(namespaceId(value.namespace), value.hostIfName), deleted: true });
    // A TAP is given back: home under its temporary name, where its item (moved) takes it again.
    if (value.type === 'AUTO_TAP')
      facts.push({ key: linkFact('default', value.tap.tempIfName), value: ASSUMED_VALUE });
  }
  for (const op of dry.plan.applies) {
    if (op.descriptor.name === 'named-namespace' && op.key.startsWith(NAMED_NAMESPACE)) {
      facts.push({
        key: namespaceFact(`named/${op.key.slice(NAMED_NAMESPACE.length)}`),
        value: ASSUMED_VALUE,
      });
    } else if (
      op.descriptor.name === 'interface' &&
      op.kind === 'create' &&
      op.key.startsWith(interfacePrefix)
    ) {
      // Created only: a link changed in place stays up, and its fact (routes are made again when
      // its value changes) must keep the value the kernel gave it.
      const value = valueOf(op.key) as LinuxInterface | undefined;
      // Routes and ARP entries wait for the link to exist, then to be up.
      // (An EXISTING link or a lo is there before its item is made: its fact is the kernel's.)
      if (value && value.type !== 'EXISTING' && value.type !== 'LOOPBACK')
        facts.push({ key: linkFact(namespaceId(value.namespace), value.hostIfName), value: ASSUMED_VALUE });
      if (value?.enabled) {
        facts.push({ key: linkUpFact(namespaceId(value.namespace), value.hostIfName), value: ASSUMED_VALUE });
      }
    } else if (
      op.descriptor.name === 'interface' &&
      op.kind === 'update' &&
      op.key.startsWith(interfacePrefix)
    ) {
      const value = valueOf(op.key) as LinuxInterface | undefined;
      if (!value) continue;
      const upFact = linkUpFact(namespaceId(value.namespace), value.hostIfName);
      // Renamed in place (a new host name of ours, or of a TAP we took): the link exists under it
      // once the plan is done, and no longer under the name it had (what names it by that name
      // waits, as apply shows).
      const linkKey = linkFact(namespaceId(value.namespace), value.hostIfName);
      const ours = value.type === 'VETH' || value.type === 'DUMMY' || value.type === 'AUTO_TAP';
      if (ours && now.factHolds?.(linkKey) === false) facts.push({ key: linkKey, value: ASSUMED_VALUE });
      const was = now.valueNow?.(op.key) as LinuxInterface | undefined;
      if (
        ours &&
        was !== undefined &&
        was.hostIfName !== value.hostIfName &&
        namespaceId(was.namespace) === namespaceId(value.namespace)
      )
        facts.push(
          { key: linkFact(namespaceId(was.namespace), was.hostIfName), deleted: true },
          { key: linkUpFact(namespaceId(was.namespace), was.hostIfName), deleted: true },
        );
      if (!value.enabled) {
        facts.push({ key: upFact, deleted: true });
        notePrefixes(removedPrefixes, value, value.ipAddresses);
      }
      // Set up again: what waits for it would be made. (One up already keeps the kernel's fact:
      // a new value of it would make its routes again.)
      else if (now.factHolds?.(upFact) === false) facts.push({ key: upFact, value: ASSUMED_VALUE });
    } else if (op.descriptor.name === 'address') {
      noteAddress(addedPrefixes, op.key, valueOf, true);
    } else if (op.descriptor.name === 'route' && op.key.startsWith(routePrefix)) {
      noteLinkRoute(linkRoutes, valueOf(op.key) as LinuxRoute | undefined, interfacePrefix, valueOf);
      // Changed in place (its scope): what it was goes; what it is now is entered above.
      if (op.kind === 'update')
        noteLinkRoute(
          removedLinkRoutes,
          now.valueNow?.(op.key) as LinuxRoute | undefined,
          interfacePrefix,
          valueOf,
        );
    }
  }
  // Routes waiting for their gateway: those the plan touches, and those it leaves pending as they
  // are (a new address may be what they wait for).
  const waiting = new Set<string>();
  for (const [key, outcome] of dry.plan.outcomes)
    if (outcome.state === 'pending' && key.startsWith(routePrefix)) waiting.add(key);
  for (const key of plannedKeys)
    if (key.startsWith(routePrefix) && !dry.plan.outcomes.has(key)) waiting.add(key);
  for (const key of waiting) {
    const route = valueOf(key) as LinuxRoute | undefined;
    if (!route?.gateway) continue;
    const nsId = namespaceId(route.namespace);
    const { host, configured } = routeInterface(route, interfacePrefix, valueOf);
    const fact = reachFact(nsId, host, route.gateway, route.table);
    // Left as it is by the plan: only one waiting for its gateway now. Through any interface, the
    // fact's value is the covering link's (a new one re-creates the route): kept when it holds.
    if ((host === ANY_INTERFACE || !dry.plan.outcomes.has(key)) && now.factHolds?.(fact) !== false) continue;
    // The plan's new addresses there, and the configured interface's own (already in the kernel).
    // And the networks of its table's (or main's) link routes the plan makes.
    const prefixes = [
      ...prefixesAt(addedPrefixes, nsId, host),
      ...(configured?.ipAddresses ?? []),
      ...linkRoutesFor(linkRoutes, nsId, host, route.table).map((r) => r.cidr),
    ];
    const gateway = parseIp(route.gateway);
    if (
      // A link-local gateway is on its link by definition (kernel-facts.ts): no network needed,
      // only the link, up (now, or by the plan). Not one waiting for a link no one makes: it
      // would be listed in every plan, "pending" as it is.
      (host !== ANY_INTERFACE &&
        gateway.ok &&
        isIpv6LinkLocal(gateway.value) &&
        linkUpAfter(facts, now, linkUpFact(nsId, host))) ||
      prefixes.some((cidr) => prefixCovers(cidr, route.gateway!)) ||
      reachableNow(nsId, host, route.gateway, route.table) === true
    ) {
      facts.push({ key: fact, value: ASSUMED_VALUE });
    }
  }
  if (removedPrefixes.size > 0 || removedLinkRoutes.size > 0)
    facts.push(
      ...gatewaysLost(
        dry,
        plannedKeys,
        label,
        valueOf,
        { addedPrefixes, removedPrefixes, linkRoutes, removedLinkRoutes },
        reachableNow,
      ),
    );
  return facts;
}

/** Whether a link is up once the plan is done: the plan sets it up, or it is up and stays so. */
function linkUpAfter(facts: readonly FactChange[], now: KernelNow, upFact: string): boolean {
  const planned = facts.findLast((f) => f.key === upFact);
  if (planned) return !('deleted' in planned);
  return now.factHolds?.(upFact) === true;
}

/**
 * The host name of the interface a route goes through (ANY_INTERFACE when it names none: its
 * gateway then decides) and that interface's planned value when it is configured.
 */
function routeInterface(
  route: LinuxRoute,
  interfacePrefix: string,
  valueOf: PlannedValue,
): { host: string; configured?: LinuxInterface } {
  if (route.interface === undefined) return { host: ANY_INTERFACE };
  const configured = valueOf(interfacePrefix + route.interface) as LinuxInterface | undefined;
  return configured ? { host: configured.hostIfName, configured } : { host: route.interface };
}

/** The kernel's number of a configured table (0: main). */
function kernelTable(table: number): number {
  return table === 0 ? RT_TABLE_MAIN : table;
}

/**
 * Enters the network a gateway-less route through an interface makes on-link there: one of link or
 * host scope (IPv4 resolves gateways only through those; the scope left out is link), any for IPv6.
 */
function noteLinkRoute(
  byInterface: Map<string, LinkRoutePlace[]>,
  route: LinuxRoute | undefined,
  interfacePrefix: string,
  valueOf: PlannedValue,
): void {
  if (!route || route.gateway !== undefined || route.interface === undefined) return;
  if (route.family === 4 && route.scope !== undefined && route.scope !== 'LINK' && route.scope !== 'HOST')
    return;
  const { host } = routeInterface(route, interfacePrefix, valueOf);
  const where = `${namespaceId(route.namespace)}\n${host}`;
  // As the kernel keeps it (an IPv6 route asked for with metric 0 has 1024): the request's own.
  const metric = routeSpec(route, undefined).metric ?? 0;
  byInterface.set(where, [
    ...(byInterface.get(where) ?? []),
    { cidr: route.dst, table: kernelTable(route.table), metric },
  ]);
}

/** The gateway-less routes entered for a route's interface that a route of `table` resolves through. */
function linkRoutesFor(
  byInterface: ReadonlyMap<string, LinkRoutePlace[]>,
  nsId: string,
  host: string,
  table: number,
): LinkRoutePlace[] {
  const kernel = kernelTable(table);
  return prefixesAt(byInterface, nsId, host).filter((r) => r.table === kernel || !ownLookupTable(r.table));
}

/** What was entered for an interface (namespace id + host name), or for any of the namespace's. */
function prefixesAt<T>(byInterface: ReadonlyMap<string, T[]>, nsId: string, host: string): T[] {
  if (host !== ANY_INTERFACE) return byInterface.get(`${nsId}\n${host}`) ?? [];
  const all: T[] = [];
  for (const [where, prefixes] of byInterface) if (where.startsWith(`${nsId}\n`)) all.push(...prefixes);
  return all;
}

/**
 * Enters an address item's prefix under its interface (namespace id + host name). `upOnly`: not
 * of an interface set down (its networks reach nothing).
 */
function noteAddress(
  byInterface: Map<string, string[]>,
  key: string,
  valueOf: PlannedValue,
  upOnly = false,
): void {
  const address = parseAddressItem(key);
  const owner = address ? (valueOf(address.interfaceKey) as LinuxInterface | undefined) : undefined;
  if (!address || !owner || (upOnly && !owner.enabled)) return;
  notePrefixes(byInterface, owner, [address.cidr]);
}

/** Enters prefixes under an interface (namespace id + host name). */
function notePrefixes(
  byInterface: Map<string, string[]>,
  owner: LinuxInterface,
  cidrs: readonly string[],
): void {
  if (cidrs.length === 0) return;
  const where = `${namespaceId(owner.namespace)}\n${owner.hostIfName}`;
  byInterface.set(where, [...(byInterface.get(where) ?? []), ...cidrs]);
}

/** What a plan adds and removes that makes gateways on-link, by interface (namespace id + host name). */
interface OnLinkChanges {
  addedPrefixes: ReadonlyMap<string, string[]>;
  removedPrefixes: ReadonlyMap<string, string[]>;
  /** Gateway-less routes the plan makes (or changes into such). */
  linkRoutes: ReadonlyMap<string, LinkRoutePlace[]>;
  /** Gateway-less routes the plan removes (or changes out of such). */
  removedLinkRoutes: ReadonlyMap<string, LinkRoutePlace[]>;
}

/**
 * Routes whose gateway only an address or a gateway-less route the plan removes made reachable:
 * their reachability goes (they would leave the kernel and wait). Kept when another address of
 * the link, new or staying, or a gateway-less route the plan makes, holds the gateway, or the
 * kernel reaches it another way there; when the kernel's table of that namespace is not known,
 * assumed kept.
 */
function gatewaysLost(
  dry: DryRun,
  plannedKeys: Iterable<string>,
  label: string,
  valueOf: PlannedValue,
  changes: OnLinkChanges,
  reachableNow: ReachableNow,
): FactChange[] {
  const { addedPrefixes, removedPrefixes, linkRoutes, removedLinkRoutes } = changes;
  const interfacePrefix = configPrefix(label, 'interface');
  const routePrefix = configPrefix(label, 'route');
  const lost: FactChange[] = [];
  for (const key of plannedKeys) {
    if (!key.startsWith(routePrefix) || dry.plan.outcomes.get(key)?.state === 'pending') continue;
    const route = valueOf(key) as LinuxRoute | undefined;
    const gateway = route?.gateway;
    if (!route || gateway === undefined) continue;
    const nsId = namespaceId(route.namespace);
    const { host, configured } = routeInterface(route, interfacePrefix, valueOf);
    const removed = prefixesAt(removedPrefixes, nsId, host);
    const removedRoutes = linkRoutesFor(removedLinkRoutes, nsId, host, route.table);
    const covering = (cidr: string): boolean => prefixCovers(cidr, gateway);
    if (!removed.some(covering) && !removedRoutes.some((r) => covering(r.cidr))) continue;
    const staying = [
      ...prefixesAt(addedPrefixes, nsId, host),
      ...(configured?.ipAddresses ?? []),
      ...linkRoutesFor(linkRoutes, nsId, host, route.table).map((r) => r.cidr),
    ];
    if (staying.some(covering)) continue;
    if (reachableNow(nsId, host, gateway, route.table, removed, removedRoutes) !== false) continue;
    lost.push({ key: reachFact(nsId, host, gateway, route.table), deleted: true });
  }
  return lost;
}

/** Whether `address` lies in the network of `cidr` (same family). */
export function prefixCovers(cidr: string, address: string): boolean {
  const network = parsePrefix(cidr);
  const host = parseIp(address);
  if (!network.ok || !host.ok) return false;
  return samePrefixBits(network.value.address.bytes, host.value.bytes, network.value.prefixLength);
}

const RANK: Record<PlanChange, number> = {
  invalid: 6,
  recreate: 5,
  remove: 4,
  create: 3,
  change: 2,
  pending: 1,
};

function derivedWords(op: PlannedOperation, theirs: (key: string) => boolean): string {
  const address = parseAddressItem(op.key);
  // On a link of others, an address it had before its item asked for it is the owner's: its
  // removal from the item leaves it on the link (derived.ts), so the plan does not say "removes".
  if (address && op.kind === 'delete' && theirs(op.key))
    return `leaves address ${address.cidr} on the link (it had it before this item)`;
  if (address) return `${op.kind === 'delete' ? 'removes' : 'adds'} address ${address.cidr}`;
  return op.why;
}

/**
 * One entry per configuration item (its derived items, such as addresses, folded into it) and per
 * named namespace the plan creates or removes. `explain` turns an engine reason into the words the
 * status view uses. `existingNamespaces`: named namespaces there already (not created);
 * `keptNamespaces`: those no longer needed that the agent leaves in place, as its deletion does
 * (not made by this agent: no creator mark of its own on their `lo`). `theirs`: whether an applied
 * address item is the link owner's (an EXISTING, LOOPBACK or AUTO_TAP link had it before), which
 * its deletion leaves in place.
 */
export function summarizePlan(
  dry: DryRun,
  label: string,
  explain: (key: string, reason: string) => string,
  existingNamespaces: ReadonlySet<string> = new Set(),
  keptNamespaces: ReadonlySet<string> = new Set(),
  theirs: (key: string) => boolean = () => false,
): PlanEntry[] {
  const prefix = configPrefix(label);
  const entries = new Map<string, PlanEntry>();
  const ownerOf = (key: string): string | undefined => {
    if (key.startsWith(NAMED_NAMESPACE)) return key;
    if (!key.startsWith(prefix)) return undefined;
    // <prefix><kind>/<name>[/derived...]
    const parts = key.slice(prefix.length).split('/');
    return parts.length >= 2 ? `${prefix}${parts[0]}/${parts[1]}` : undefined;
  };
  const note = (key: string, change: PlanChange, why: string): void => {
    const current = entries.get(key);
    if (!current || RANK[change] > RANK[current.change]) entries.set(key, { key, change, why });
  };
  const recreated = new Set(dry.plan.applies.filter((op) => op.recreate).map((op) => op.key));
  const kept = (key: string): boolean =>
    key.startsWith(NAMED_NAMESPACE) && keptNamespaces.has(key.slice(NAMED_NAMESPACE.length));
  /** By item, what its derived items' operations do (addresses added, removed). */
  const derived = new Map<string, string[]>();
  /** By item, why it is updated itself. */
  const updated = new Map<string, string>();
  const operations = [...dry.plan.deletes, ...dry.plan.applies];
  for (const op of operations) {
    const owner = ownerOf(op.key);
    if (!owner) continue;
    const outcome = dry.plan.outcomes.get(op.key);
    // A named namespace that is there already is used as it is: nothing in the kernel changes.
    if (op.kind === 'create' && op.key.startsWith(NAMED_NAMESPACE)) {
      if (existingNamespaces.has(op.key.slice(NAMED_NAMESPACE.length))) continue;
    }
    if (owner !== op.key) {
      if (op.descriptor.name === 'veth-end') continue;
      const said = derivedWords(op, theirs);
      note(owner, 'change', said);
      const words = derived.get(owner);
      if (words) words.push(said);
      else derived.set(owner, [said]);
      continue;
    }
    if (op.kind === 'delete') {
      // Its removal leaves it where it is: nothing in the kernel changes.
      if (recreated.has(op.key) || kept(op.key)) continue;
      if (outcome?.state === 'pending')
        note(owner, 'remove', `removed from the kernel, stays pending: ${explain(op.key, outcome.reason)}`);
      else note(owner, 'remove', op.why);
    } else if (op.recreate) note(owner, 'recreate', describeFactChange(op.why));
    else {
      note(owner, op.kind === 'update' ? 'change' : 'create', op.why);
      if (op.kind === 'update') updated.set(owner, op.why);
    }
  }
  for (const [key, outcome] of dry.plan.outcomes) {
    if (key !== ownerOf(key)) continue;
    if (outcome.state === 'pending') {
      const done = entries.get(key);
      const reason = explain(key, outcome.reason);
      // A pending item that is also removed already says so; one with no operation stays pending.
      if (!done) note(key, 'pending', reason);
    } else if (outcome.state === 'removed' && !entries.has(key) && !kept(key)) {
      // Deleted from the configuration while it was not applied (pending): nothing to undo.
      note(key, 'remove', 'no longer desired (it was not applied)');
    } else if (outcome.state === 'invalid') {
      note(key, 'invalid', outcome.fieldErrors.map((e) => `${e.field}: ${e.message}`).join('; '));
    }
  }
  // A changed item says everything its derived items do, not only the first.
  for (const [owner, words] of derived) {
    const entry = entries.get(owner);
    if (entry?.change !== 'change') continue;
    const own = updated.get(owner);
    const parts = own === undefined ? words : [own, ...words];
    entries.set(owner, { ...entry, why: [...new Set(parts)].join('; ') });
  }
  // Invalid now, valid once applied: configured again. Its last valid value may be the one in the
  // kernel still (no operation), yet its state changes: listed, saying so.
  for (const { key, fieldErrors } of dry.revalidated) {
    if (ownerOf(key) !== key) continue;
    const was = `was invalid: ${fieldErrors.map((e) => `${e.field}: ${e.message}`).join('; ')}`;
    const entry = entries.get(key);
    if (entry) entries.set(key, { ...entry, why: `${entry.why} (${was})` });
    else entries.set(key, { key, change: 'change', why: `valid again, as it is in the kernel (${was})` });
  }
  // A new value refused while the key's current one stays in effect: the outcome says configured.
  for (const { key, fieldErrors } of dry.refused) {
    if (dry.plan.outcomes.get(key)?.state === 'invalid') continue;
    const errors = fieldErrors.map((e) => `${e.field}: ${e.message}`).join('; ');
    entries.set(key, { key, change: 'invalid', why: `${errors} (its current value stays in effect)` });
  }
  return [...entries.values()].sort((a, b) => naturalCompare(a.key, b.key));
}

/**
 * What the dry run cannot see but the operation would meet, appended to a created interface's
 * words: a VETH whose peer names another, a host name held by a link this agent did not make
 * (`linkIn`: the kernel's link of that name in an open namespace).
 */
export function foreseeFailures(
  entries: PlanEntry[],
  label: string,
  valueOf: PlannedValue,
  linkIn: (nsId: string, hostIfName: string) => { alias?: string } | undefined,
  plannedKeys: Iterable<string> = [],
  /** The state of an item now (an unchanged item holds an ARP entry unless it failed). */
  stateOf: (key: string) => string | undefined = () => undefined,
): PlanEntry[] {
  const prefix = configPrefix(label, 'interface');
  const routePrefix = configPrefix(label, 'route');
  const planned = [...plannedKeys];
  const neighbourHolders = foreseeNeighbourHolders(entries, planned, label, valueOf, stateOf);
  let interfacesByNamespace: Map<string, LinuxInterface[]> | undefined;
  const gatewayOf = (route: LinuxRoute): string | undefined => {
    interfacesByNamespace ??= plannedInterfaces(planned, prefix, valueOf);
    const inNamespace = interfacesByNamespace.get(namespaceId(route.namespace)) ?? [];
    const named = route.interface;
    const through =
      named === undefined
        ? inNamespace
        : inNamespace.filter((i) => i.name === named || i.hostIfName === named);
    return gatewayProblem(route, through, inNamespace);
  };
  // The end that makes a VETH pair makes both links: a host name taken for the other end is its
  // failure (the other end waits), when it is made in this plan too.
  const isMade = (entry: PlanEntry): boolean => entry.change === 'create' || entry.change === 'recreate';
  const madeKeys = new Set(entries.filter(isMade).map((e) => e.key));
  const forPairMaker = new Map<string, string>();
  const hostNameTaken = (value: LinuxInterface): boolean => {
    const link = linkIn(namespaceId(value.namespace), value.hostIfName);
    return link !== undefined && ownedConfigName(label, link.alias) === undefined;
  };
  for (const entry of entries) {
    if (!isMade(entry) || !entry.key.startsWith(prefix)) continue;
    const value = valueOf(entry.key) as LinuxInterface | undefined;
    if (value?.type !== 'VETH' || createsPair(value) || !madeKeys.has(prefix + value.veth.peerIfName))
      continue;
    if (hostNameTaken(value))
      forPairMaker.set(
        prefix + value.veth.peerIfName,
        `${value.hostIfName} (host name of its VETH peer ${value.name}) already exists there and is not managed by this agent`,
      );
  }
  const foreseen = entries.map((entry) => {
    const making = entry.change === 'create' || entry.change === 'recreate';
    const holder = making ? neighbourHolders.get(entry.key) : undefined;
    if (holder !== undefined) return { ...entry, why: `${entry.why}${WOULD_FAIL}${holder}` };
    if ((making || entry.change === 'change') && entry.key.startsWith(routePrefix)) {
      const route = valueOf(entry.key) as LinuxRoute | undefined;
      const problem = route && typeof route.dst === 'string' ? gatewayOf(route) : undefined;
      return problem ? { ...entry, why: `${entry.why}${WOULD_FAIL}${problem}` } : entry;
    }
    if (!making || !entry.key.startsWith(prefix)) return entry;
    const value = valueOf(entry.key) as LinuxInterface | undefined;
    if (!value) return entry;
    const problems: string[] = [];
    if (value.type === 'VETH') {
      const peerName = value.veth.peerIfName;
      const peer = valueOf(prefix + peerName) as LinuxInterface | undefined;
      if (peer && peer.type !== 'VETH') problems.push(`its peer ${peerName} is not a VETH`);
      else if (peer?.type === 'VETH' && peer.veth.peerIfName !== value.name)
        problems.push(`its peer ${peerName} names ${peer.veth.peerIfName} as its peer`);
    }
    const peerMade = value.type === 'VETH' && madeKeys.has(prefix + value.veth.peerIfName);
    const reportedByMaker = value.type === 'VETH' && !createsPair(value) && peerMade;
    if ((value.type === 'VETH' || value.type === 'DUMMY') && !reportedByMaker && hostNameTaken(value))
      problems.push(`${value.hostIfName} already exists there and is not managed by this agent`);
    const ofPeer = forPairMaker.get(entry.key);
    if (ofPeer !== undefined) problems.push(ofPeer);
    return problems.length ? { ...entry, why: `${entry.why}${WOULD_FAIL}${problems.join('; ')}` } : entry;
  });
  return pairsWaitForFailingEnds(foreseen, prefix, valueOf);
}

/**
 * A VETH pair is made whole or not at all: an end whose other end would fail waits (pending,
 * "waiting for VETH peer"), though nothing is wrong with it.
 */
function pairsWaitForFailingEnds(entries: PlanEntry[], prefix: string, valueOf: PlannedValue): PlanEntry[] {
  const failing = new Set(entries.filter((e) => e.why.includes(WOULD_FAIL)).map((e) => e.key));
  if (failing.size === 0) return entries;
  return entries.map((entry) => {
    if (failing.has(entry.key) || !entry.key.startsWith(prefix)) return entry;
    if (entry.change !== 'create' && entry.change !== 'recreate') return entry;
    const value = valueOf(entry.key) as LinuxInterface | undefined;
    if (value?.type !== 'VETH' || !failing.has(prefix + value.veth.peerIfName)) return entry;
    return { ...entry, why: `${entry.why}${WOULD_WAIT}its VETH peer ${value.veth.peerIfName} would fail` };
  });
}

/** The planned, valid interface values, by namespace id. */
function plannedInterfaces(
  plannedKeys: readonly string[],
  interfacePrefix: string,
  valueOf: PlannedValue,
): Map<string, LinuxInterface[]> {
  const byNamespace = new Map<string, LinuxInterface[]>();
  for (const key of plannedKeys) {
    if (!key.startsWith(interfacePrefix) || key.indexOf('/', interfacePrefix.length) !== -1) continue;
    const value = valueOf(key) as LinuxInterface | undefined;
    // A value the model refused has no address list.
    if (!value || !Array.isArray(value.ipAddresses)) continue;
    const id = namespaceId(value.namespace);
    const list = byNamespace.get(id);
    if (list) list.push(value);
    else byNamespace.set(id, [value]);
  }
  return byNamespace;
}

/**
 * ARP items that would make an entry another item makes or holds, naming its link another way (by
 * config name, the other by host name: their claims differ, so the plan's claims do not catch them).
 * By key, what the later one would fail with. An item the plan leaves as it is holds its entry
 * (applied, or waiting for its link with the others) unless it failed; otherwise the first in the
 * plan's order does.
 */
function foreseeNeighbourHolders(
  entries: PlanEntry[],
  plannedKeys: readonly string[],
  label: string,
  valueOf: PlannedValue,
  stateOf: (key: string) => string | undefined,
): Map<string, string> {
  const arpPrefix = configPrefix(label, 'arp');
  const interfacePrefix = configPrefix(label, 'interface');
  const refused = new Set(entries.filter((e) => e.change === 'invalid').map((e) => e.key));
  const byEntry = new Map<string, { key: string; value: LinuxArpEntry; host: string }[]>();
  for (const key of plannedKeys) {
    if (!key.startsWith(arpPrefix) || refused.has(key)) continue;
    const value = valueOf(key) as LinuxArpEntry | undefined;
    // A value the model refused is no entry (its class instance has no address).
    if (!value || typeof value.ipAddress !== 'string') continue;
    const configured = valueOf(interfacePrefix + value.interface) as LinuxInterface | undefined;
    const host = configured?.hostIfName ?? value.interface;
    const id = `${namespaceId(value.namespace)}\n${host}\n${value.ipAddress}`;
    const list = byEntry.get(id);
    const item = { key, value, host };
    if (list) list.push(item);
    else byEntry.set(id, [item]);
  }
  const making = new Set(
    entries.filter((e) => e.change === 'create' || e.change === 'recreate').map((e) => e.key),
  );
  const out = new Map<string, string>();
  for (const list of byEntry.values()) {
    if (list.length < 2) continue;
    // An unchanged item that failed (e.g. as the other held the entry) holds nothing.
    // Otherwise the first the plan makes (an unchanged failed one is only retried later).
    const holder =
      list.find((i) => !making.has(i.key) && stateOf(i.key) !== 'failed') ??
      list.find((i) => making.has(i.key)) ??
      list[0]!;
    for (const item of list) {
      // The same naming is a claim the engine refuses already (invalid).
      if (item === holder || item.value.interface === holder.value.interface) continue;
      out.set(
        item.key,
        `ARP entry ${item.value.ipAddress} on ${item.host} is already configured by ${holder.key}`,
      );
    }
  }
  return out;
}
