/** What every Linux descriptor shares: the agent's label, the open namespaces, the kernel facts. */
import {
  configPrefix,
  describeNamespace,
  interfaceKey,
  namespaceId,
  type LinuxInterface,
  type NamespaceRef,
} from '../model/index.js';
import type { NamespaceView, NamespaceViews } from './namespace-views.js';
import type { KernelFacts } from './kernel-facts.js';
import type { DesiredView, EngineView } from './engine-contract.js';
import { ownedConfigName } from './ownership.js';
import { InterfaceNotConfiguredError, NamespaceUnavailableError } from './errors.js';
import { DeleteBatcher } from './delete-batcher.js';
import type { OriginalsBook } from './originals.js';
import { reachFact } from './fact-keys.js';
import { routePlace, specPlace } from './l3-ops.js';
import type { Route, RouteSpec } from '../netlink/index.js';
import { DuplicateAddresses } from './duplicate-addresses.js';
import { OwnEntries } from './own-entries.js';

export class LinuxContext {
  readonly deletes: DeleteBatcher;
  /**
   * Until the start's full read of the configuration is applied: its resync also takes off the
   * addresses our own links hold that no item wants (a change made while the agent was down). Later
   * resyncs (lost events, a datastore reconnect) leave addresses someone added meanwhile alone.
   */
  startingResync = true;
  /** Our routes and neighbour entries on links no agent marked, as far as this process knows. */
  readonly ownEntries = new OwnEntries();

  constructor(
    readonly label: string,
    readonly views: NamespaceViews,
    readonly facts: KernelFacts,
    /** What the links of others we configure were before (originals.ts). */
    readonly originals: OriginalsBook,
    /** IPv6 addresses of ours another host on the link has, tried again after a while. */
    readonly duplicateAddresses = new DuplicateAddresses(),
  ) {
    this.deletes = new DeleteBatcher(label);
  }

  interfaceKey(name: string): string {
    return interfaceKey(this.label, name);
  }

  private readonly routeGateways = new Map<string, string>();
  /** True while the engine plans without doing (set by the plugin). */
  dryRun: () => boolean = () => false;
  /**
   * The keys of the configuration's items in named namespace `name` through its file (FILE_REF_NS
   * /var/run/netns/<name>): they use it as much as its NAMED_NS items do (set by the plugin).
   */
  fileUsersOfNamed: (name: string) => string[] = () => [];
  /**
   * An item gave up an ARP entry it had noted without its kernel entry going away (its create
   * failed): items that failed as it held the entry are tried again (set by the plugin).
   */
  neighbourReleased: (nsId: string, by: string) => void = () => undefined;

  /**
   * Links of others we configure (EXISTING, LOOPBACK) by namespace and ifindex: they bear no mark,
   * and their drift is found through this (the engine's metadata has the last word: an entry left
   * behind by an item that went with its namespace matches no applied item).
   */
  private readonly foreignLinks = new Map<string, string>();

  noteForeignLink(nsId: string, ifindex: number, key: string): void {
    this.foreignLinks.set(`${nsId}\n${ifindex}`, key);
  }

  forgetForeignLink(nsId: string, ifindex: number): void {
    this.foreignLinks.delete(`${nsId}\n${ifindex}`);
  }

  foreignLinkKey(nsId: string, ifindex: number): string | undefined {
    return this.foreignLinks.size === 0 ? undefined : this.foreignLinks.get(`${nsId}\n${ifindex}`);
  }

  /**
   * Our routes and neighbour entries by where the kernel keeps them, so that one replaced by
   * someone else (`ip route replace`, `ip neigh replace`: an event of a new one, none of a removal)
   * is noticed. As with foreign links, the engine's state has the last word on an entry.
   */
  private readonly routes = new Map<string, { key: string; spec: RouteSpec }>();
  private readonly neighbours = new Map<string, string>();

  /** A namespace closed: what was noted in it is stale (its items are noted again when made). */
  forgetNamespace(nsId: string): void {
    const identity = this.views.get(nsId)?.identity;
    // Unless another reference still has the namespace open.
    if (identity !== undefined && !this.views.all().some((v) => v.id !== nsId && v.identity === identity))
      this.ownEntries.forgetNamespace(identity);
    const prefix = `${nsId}\n`;
    for (const map of [this.foreignLinks, this.routes, this.neighbours] as Map<string, unknown>[])
      for (const key of map.keys()) if (key.startsWith(prefix)) map.delete(key);
  }

  noteRoute(nsId: string, spec: RouteSpec, key: string): void {
    this.routes.set(`${nsId}\n${specPlace(spec)}`, { key, spec });
  }

  forgetRoute(nsId: string, spec: RouteSpec): void {
    this.routes.delete(`${nsId}\n${specPlace(spec)}`);
  }

  /** The item whose route was last made at this spec's place (until it was removed by us). */
  routeKeyAtPlace(nsId: string, spec: RouteSpec): string | undefined {
    return this.routes.get(`${nsId}\n${specPlace(spec)}`)?.key;
  }

  /** Whether a route of ours (as last made) goes through this link of the namespace, or prefers this source. */
  hasRouteThrough(nsId: string, ifindex: number, source?: string): boolean {
    const prefix = `${nsId}\n`;
    for (const [place, { spec }] of this.routes)
      if (
        (spec.oif === ifindex || (source !== undefined && spec.source === source)) &&
        place.startsWith(prefix)
      )
        return true;
    return false;
  }

  /** Whether a route of ours in the namespace has `source` as its preferred source. */
  hasRouteFrom(nsId: string, source: string): boolean {
    const prefix = `${nsId}\n`;
    for (const [place, { spec }] of this.routes)
      if (spec.source === source && place.startsWith(prefix)) return true;
    return false;
  }

  routeAt(nsId: string, route: Route): { key: string; spec: RouteSpec } | undefined {
    return this.routes.size === 0 ? undefined : this.routes.get(`${nsId}\n${routePlace(route)}`);
  }

  noteNeighbour(nsId: string, ifindex: number, address: string, key: string): void {
    this.neighbours.set(`${nsId}\n${ifindex}\n${address}`, key);
  }

  forgetNeighbour(nsId: string, ifindex: number, address: string): void {
    this.neighbours.delete(`${nsId}\n${ifindex}\n${address}`);
  }

  neighbourAt(nsId: string, ifindex: number, address: string): string | undefined {
    return this.neighbours.size === 0 ? undefined : this.neighbours.get(`${nsId}\n${ifindex}\n${address}`);
  }

  /**
   * The fact saying a route's gateway is reachable through its interface, watched from now on
   * (once per route: dependencies are computed again and again).
   */
  gatewayFact(
    routeKey: string,
    nsId: string,
    hostIfName: string,
    gateway: string,
    table: number,
    onNew?: () => void,
  ): string {
    const fact = reachFact(nsId, hostIfName, gateway, table);
    // A dry run's values are not the items': what they watch stays as it is (re-pointing it took
    // an applied route's gateway fact away, and the route out of the kernel, on a mere plan).
    if (this.dryRun()) return fact;
    const current = this.routeGateways.get(routeKey);
    if (current === fact) return fact;
    onNew?.();
    if (current) this.facts.unwatchGateway(current);
    this.routeGateways.set(routeKey, this.facts.watchGateway(nsId, hostIfName, gateway, table));
    return fact;
  }

  /** A route item is gone from the configuration: its gateway is no longer followed for it. */
  releaseGateway(routeKey: string): void {
    const current = this.routeGateways.get(routeKey);
    if (current === undefined) return;
    this.routeGateways.delete(routeKey);
    this.facts.unwatchGateway(current);
  }

  /**
   * True when the link is an interface we created whose config is being removed (still applied,
   * no longer desired), or one we have just deleted: the kernel drops its addresses, routes and
   * neighbours with it, so removing them one by one would be wasted work. (Address removals come
   * after their link's: the dependency says removedWithIt.)
   */
  linkGoingAway(engine: EngineView, view: NamespaceView | undefined, ifindex: number): boolean {
    if (view !== undefined && this.deletes.wasDeleted(view, ifindex)) return true;
    const alias = view?.links.get(ifindex)?.alias;
    const name = ownedConfigName(this.label, alias);
    if (name === undefined) return false;
    const key = this.interfaceKey(name);
    const meta = engine.metadata<{ owned?: boolean; ifindex: number }>(key);
    return meta?.owned === true && meta.ifindex === ifindex && engine.value(key) === undefined;
  }

  prefix(kind: 'interface' | 'route' | 'arp'): string {
    return configPrefix(this.label, kind);
  }

  /** The open view of a namespace, or a retriable error (its fact says it is there, so rarely). */
  view(ref: NamespaceRef): NamespaceView {
    const view = this.views.get(namespaceId(ref));
    if (!view) throw new NamespaceUnavailableError(describeNamespace(ref));
    return view;
  }

  /**
   * The key of the interface item a route or ARP entry in `where` names by `interface`, when that
   * item is one whose link is known by our mark (VETH, DUMMY, AUTO_TAP) in that same namespace: the
   * link of its host name there is then that item's only once the item has it. An EXISTING or
   * LOOPBACK item's link is someone else's whatever we do, and an item of that name in another
   * namespace leaves `interface` a host name here.
   */
  interfaceItemOf(engine: DesiredView, interfaceName: string, where: NamespaceRef): string | undefined {
    const key = this.interfaceKey(interfaceName);
    const item = engine.value<LinuxInterface>(key);
    if (item === undefined || item.type === 'EXISTING' || item.type === 'LOOPBACK') return undefined;
    return namespaceId(item.namespace) === namespaceId(where) ? key : undefined;
  }

  /** The namespace of the interface item of that name, when it is not `where`. */
  interfaceItemElsewhere(
    engine: DesiredView,
    interfaceName: string,
    where: NamespaceRef,
  ): NamespaceRef | undefined {
    const item = engine.value<LinuxInterface>(this.interfaceKey(interfaceName));
    return item && namespaceId(item.namespace) !== namespaceId(where) ? item.namespace : undefined;
  }

  /**
   * Refuses (retriable) a link found by host name for an `interface` that names an interface item
   * (interfaceItemOf) when it is not that item's applied link: someone else's link of that name
   * while the item fails to take it.
   */
  checkItemLink(
    engine: EngineView,
    interfaceName: string,
    where: NamespaceRef,
    view: NamespaceView,
    ifindex: number,
  ): void {
    const key = this.interfaceItemOf(engine, interfaceName, where);
    if (key === undefined) return;
    const applied = engine.metadata<{ ifindex: number; namespaceIdentity: string }>(key);
    // The namespace itself, not its reference: one namespace may be named two ways (named, pid).
    if (applied?.ifindex === ifindex && applied.namespaceIdentity === view.identity) return;
    throw new InterfaceNotConfiguredError(
      interfaceName,
      view.links.get(ifindex)?.name ?? `#${ifindex}`,
      view.description,
    );
  }

  /**
   * The host name a route or ARP entry means by `interface`: the host_if_name of the configured
   * interface of that name, else the name itself (an interface we do not manage).
   */
  hostNameOf(engine: DesiredView, interfaceName: string): string {
    const configured = engine.value<LinuxInterface>(this.interfaceKey(interfaceName));
    return configured?.hostIfName ?? interfaceName;
  }
}
