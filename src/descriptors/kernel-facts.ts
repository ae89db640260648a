/**
 * Facts read from the kernel, for the engine: which links exist and are up in each open namespace,
 * and whether the gateways that configured routes need are reachable there (an address or a
 * gateway-less route of the interface covers the gateway). Routes and ARP entries depend on these
 * facts, so they wait for their interface and gateway whoever configured them, and step back when
 * they go (an interface set down, an address removed).
 */
import { EventEmitter } from 'node:events';
import { RTN_UNICAST, ipToBytes, type KernelEvent, type Link, type LinkChange } from '../netlink/index.js';
import type { NamespaceView, NamespaceViews } from './namespace-views.js';
import { ANY_INTERFACE, linkFact, linkUpFact, reachFact, tapFact } from './fact-keys.js';
import { OnLinkTable, addressPrefixOf, routeNetworkOf, type LinkRoutePlace } from './on-link-table.js';
import { isIpv6LinkLocalBytes } from '../util/ip-text.js';

export interface FactChange {
  key: string;
  /** undefined: the fact no longer holds. */
  value: unknown;
}

interface KernelFactEvents {
  change: [FactChange[]];
}

const RECHECK_DELAY_MS = 5;

interface TableState {
  table: OnLinkTable;
  /** A dump is under way: events wait in `buffered` until it is in. */
  loading: boolean;
  buffered: KernelEvent[];
  /** Settles when the dump is in (undefined: it failed or the table was dropped meanwhile). */
  loaded: Promise<OnLinkTable | undefined>;
}

/** What a fact holds: that a link exists (its ifindex), that it is up (and since when), or true. */
type FactValue = { ifindex: number; upSeq?: number } | true;

function sameFact(a: FactValue | undefined, b: FactValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  return a.ifindex === b.ifindex && a.upSeq === b.upSeq;
}

interface GatewayWatch {
  nsId: string;
  hostIfName: string;
  gateway: string;
  gatewayBytes: Buffer;
  /** The route's table (0: main). */
  table: number;
  users: number;
}

export class KernelFacts extends EventEmitter<KernelFactEvents> {
  /** Facts currently asserted, by key, with the value last sent. */
  private readonly asserted = new Map<string, FactValue>();
  /**
   * Values of the asserted "link is up" facts. Each time a link comes up its fact gets a new value
   * (`upSeq`): the kernel flushed the link's routes (and neighbours) when it went down, so what was
   * built on the fact must be made again, even when the down and the up reach the engine together
   * (the agent heals a link set down within milliseconds) and the fact looks merely re-asserted.
   */
  private readonly upFacts = new Map<string, { ifindex: number; upSeq: number }>();
  private upSeq = 0;
  private readonly gateways = new Map<string, GatewayWatch>();
  /** The same watches by namespace id, so a re-check reads only what it needs. */
  private readonly gatewaysByNamespace = new Map<string, Map<string, GatewayWatch>>();
  private readonly recheck = new Set<string>();
  private recheckScheduled = false;
  /** Per namespace with watched gateways: what its interfaces reach on-link. */
  private readonly tables = new Map<string, TableState>();
  /** Namespaces whose tables a dry run holds (loadTables), by how many. */
  private readonly pinned = new Map<string, number>();
  /** The temporary name of each TAP of ours whose fact is asserted, by namespace id and ifindex. */
  private readonly taps = new Map<string, string>();

  /** `tapOf`: the temporary name of a TAP of ours (its mark), undefined for any other link. */
  constructor(
    private readonly views: NamespaceViews,
    private readonly tapOf: (link: Link) => string | undefined = () => undefined,
  ) {
    super();
    views.on('links', (view, changes) => this.onLinks(view, changes));
    views.on('kernel', (view, events) => this.onKernelEvents(view, events));
    views.on('resynced', (view) => {
      this.tables.delete(view.id); // events were lost: the table can no longer be trusted
      this.scheduleRecheck(view.id);
    });
  }

  /** Asserts the link facts of a namespace that just opened. */
  namespaceOpened(view: NamespaceView): void {
    const changes: FactChange[] = [];
    for (const link of view.links.list()) this.linkFacts(view.id, link, changes);
    this.publish(changes);
    this.scheduleRecheck(view.id);
  }

  /** Withdraws every fact of a namespace that went away. */
  namespaceClosed(nsId: string): void {
    const changes: FactChange[] = [];
    this.tables.delete(nsId);
    for (const id of this.taps.keys()) if (id.startsWith(`${nsId}\n`)) this.taps.delete(id);
    for (const key of this.asserted.keys()) {
      if (key.includes(`/${nsId}/`)) this.set(key, undefined, changes);
    }
    this.publish(changes);
  }

  /** How many gateways' reachability is followed now. */
  get watchedGateways(): number {
    return this.gateways.size;
  }

  /**
   * Whether a gateway is reachable now through the link of that name (ANY_INTERFACE: through any
   * link that is up), as far as the namespace's loaded on-link table tells (undefined: no table
   * yet). For a dry run, which watches nothing; `without`: addresses (CIDR) the dry run removes;
   * `withoutRoutes`: gateway-less routes it removes.
   */
  reachableNow(
    nsId: string,
    hostIfName: string,
    gateway: string,
    table: number,
    without: readonly string[] = [],
    withoutRoutes: readonly LinkRoutePlace[] = [],
  ): boolean | undefined {
    const state = this.tables.get(nsId);
    const view = this.views.get(nsId);
    if (!state || state.loading || !view) return undefined;
    const removed = without.map(addressPrefixOf).filter((a) => a !== undefined);
    const removedRoutes = withoutRoutes.map(routeNetworkOf).filter((r) => r !== undefined);
    const bytes = ipToBytes(gateway);
    if (hostIfName === ANY_INTERFACE) {
      const up = (index: number): boolean => view.links.get(index)?.up === true;
      return state.table.interfaceCovering(bytes, up, table, removed, removedRoutes) !== undefined;
    }
    const link = view.links.get(hostIfName);
    if (link === undefined || !link.up) return false;
    return (
      isIpv6LinkLocalBytes(bytes) || state.table.covers(link.index, bytes, table, removed, removedRoutes)
    );
  }

  /**
   * Loads the on-link tables of these namespaces, for a dry run's `reachableNow` about gateways no
   * route watches yet, and keeps them until `release` (a table no watch needs is dropped at the next
   * re-check otherwise: one dropped between the load and the dry run made a reachable gateway
   * look unknown).
   */
  async loadTables(nsIds: Iterable<string>): Promise<() => void> {
    const ids = [...new Set(nsIds)];
    for (const id of ids) this.pinned.set(id, (this.pinned.get(id) ?? 0) + 1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      for (const id of ids) {
        const count = (this.pinned.get(id) ?? 1) - 1;
        if (count > 0) this.pinned.set(id, count);
        else {
          this.pinned.delete(id);
          this.scheduleRecheck(id); // dropped now if no watch needs it
        }
      }
    };
    await Promise.all(
      ids.map((id) => {
        const view = this.views.get(id);
        return view ? this.tableOf(view) : undefined;
      }),
    );
    return release;
  }

  /** Starts (or counts another user of) the reachability fact of a gateway. */
  watchGateway(nsId: string, hostIfName: string, gateway: string, table: number): string {
    const key = reachFact(nsId, hostIfName, gateway, table);
    const watch = this.gateways.get(key);
    if (watch) watch.users++;
    else {
      const added = { nsId, hostIfName, gateway, gatewayBytes: ipToBytes(gateway), table, users: 1 };
      this.gateways.set(key, added);
      let inNamespace = this.gatewaysByNamespace.get(nsId);
      if (!inNamespace) this.gatewaysByNamespace.set(nsId, (inNamespace = new Map()));
      inNamespace.set(key, added);
      this.scheduleRecheck(nsId);
    }
    return key;
  }

  unwatchGateway(key: string): void {
    const watch = this.gateways.get(key);
    if (!watch) return;
    if (--watch.users > 0) return;
    this.gateways.delete(key);
    this.gatewaysByNamespace.get(watch.nsId)?.delete(key);
    const changes: FactChange[] = [];
    this.set(key, undefined, changes);
    this.publish(changes);
  }

  private onLinks(view: NamespaceView, linkChanges: LinkChange[]): void {
    const changes: FactChange[] = [];
    for (const change of linkChanges) {
      if (change.kind === 'removed') this.tapFacts(view.id, change.link, undefined, changes, true);
      if (change.previous && change.previous.name !== change.link.name) {
        this.set(linkFact(view.id, change.previous.name), undefined, changes);
        this.set(linkUpFact(view.id, change.previous.name), undefined, changes);
      }
      if (change.kind === 'removed') {
        this.set(linkFact(view.id, change.link.name), undefined, changes);
        this.set(linkUpFact(view.id, change.link.name), undefined, changes);
      } else {
        this.linkFacts(view.id, change.link, changes);
      }
    }
    this.publish(changes);
    this.onLinkTransitions(view, linkChanges);
  }

  private linkFacts(nsId: string, link: Link, changes: FactChange[]): void {
    this.set(linkFact(nsId, link.name), { ifindex: link.index }, changes);
    this.tapFacts(nsId, link, this.tapOf(link), changes);
    const upKey = linkUpFact(nsId, link.name);
    if (!link.up) return this.set(upKey, undefined, changes);
    if (this.upFacts.get(upKey)?.ifindex === link.index) return; // still up: the same fact
    const value = { ifindex: link.index, upSeq: ++this.upSeq };
    this.set(upKey, value, changes);
    this.upFacts.set(upKey, value);
  }

  /**
   * The fact of a TAP of ours (`marked`: the temporary name its mark names now, if any; `gone`: the
   * link left the namespace).
   * A mark someone else cleared where the TAP is leaves it ours, the fact kept: its item puts the
   * mark back in place (drift-watch.ts), where a withdrawn fact had it given back and taken again.
   * It is no longer ours once given back: home under its temporary name (our mark cleared last).
   */
  private tapFacts(
    nsId: string,
    link: Link,
    marked: string | undefined,
    changes: FactChange[],
    gone = false,
  ): void {
    const id = `${nsId}\n${link.index}`;
    const before = this.taps.get(id);
    const givenBack = nsId === 'default' && link.name === before;
    const now = gone ? undefined : (marked ?? (givenBack ? undefined : before));
    if (before !== undefined && before !== now) {
      this.taps.delete(id);
      this.set(tapFact(nsId, before), undefined, changes);
    }
    if (now === undefined) return;
    this.taps.set(id, now);
    this.set(tapFact(nsId, now), { ifindex: link.index }, changes);
  }

  private set(key: string, value: FactValue | undefined, changes: FactChange[]): void {
    if (value === undefined) this.upFacts.delete(key);
    if (sameFact(this.asserted.get(key), value)) return;
    if (value === undefined) this.asserted.delete(key);
    else this.asserted.set(key, value);
    changes.push({ key, value });
  }

  private publish(changes: FactChange[]): void {
    if (changes.length) this.emit('change', changes);
  }

  private scheduleRecheck(nsId: string): void {
    this.recheck.add(nsId);
    if (this.recheckScheduled) return;
    this.recheckScheduled = true;
    // Bursts (a namespace opening, links going down) make one re-read per namespace: wait a few
    // milliseconds for the burst to end.
    setTimeout(() => void this.recheckGateways(), RECHECK_DELAY_MS).unref();
  }

  /** Address and route events keep a loaded table current: no re-read on the hot path. */
  private onKernelEvents(view: NamespaceView, events: KernelEvent[]): void {
    const state = this.tables.get(view.id);
    if (!state) return;
    if (state.loading) {
      state.buffered.push(...events);
      return;
    }
    const changedInterfaces = state.table.apply(events);
    if (changedInterfaces.size === 0) return;
    const changes: FactChange[] = [];
    this.evaluate(view, state.table, changes, changedInterfaces);
    this.publish(changes);
  }

  private onLinkTransitions(view: NamespaceView, linkChanges: LinkChange[]): void {
    // The kernel flushes the IPv4 routes of a link that goes down or away without announcing it:
    // only a re-read tells what is left.
    const lost = linkChanges.some((c) => c.kind === 'removed' || (c.previous?.up === true && !c.link.up));
    if (lost) this.tables.delete(view.id);
    if (lost || linkChanges.length) this.scheduleRecheck(view.id);
  }

  /** Re-reads reachability now, in these namespaces (default: every one with watched gateways). */
  async recheckNow(namespaces?: string[]): Promise<void> {
    for (const [nsId, watches] of this.gatewaysByNamespace) {
      if (watches.size > 0 && (namespaces === undefined || namespaces.includes(nsId))) this.recheck.add(nsId);
    }
    await this.recheckGateways();
  }

  private async recheckGateways(): Promise<void> {
    this.recheckScheduled = false;
    const namespaces = [...this.recheck];
    this.recheck.clear();
    await Promise.all(
      namespaces.map(async (nsId) => {
        // Each namespace's answers are published as soon as they are computed: held until the
        // others' tables had loaded, they reached the engine after newer ones that address events
        // published meanwhile, and undid them (a gateway taken as unreachable for good).
        const changes: FactChange[] = [];
        const watches = this.gatewaysByNamespace.get(nsId);
        if (!watches || watches.size === 0) {
          if (!this.pinned.has(nsId)) this.tables.delete(nsId);
          return;
        }
        const view = this.views.get(nsId);
        if (!view) {
          this.tables.delete(nsId);
          for (const [key] of watches) this.set(key, undefined, changes);
          this.publish(changes);
          return;
        }
        let table = await this.tableOf(view);
        // Dropped while it loaded (a link went meanwhile): read again, so that whoever waits for
        // these facts (a start's resync) gets them, not a plan without them.
        for (let again = 0; !table && again < 3 && this.views.get(nsId) === view; again++)
          table = await this.tableOf(view);
        if (table) this.evaluate(view, table, changes);
        this.publish(changes);
      }),
    );
  }

  /** The namespace's table, loaded by one dump when there is none (or it was dropped). */
  private tableOf(view: NamespaceView): Promise<OnLinkTable | undefined> {
    const current = this.tables.get(view.id);
    if (current) return current.loaded;
    const state: TableState = {
      table: new OnLinkTable(),
      loading: true,
      buffered: [],
      loaded: Promise.resolve(undefined),
    };
    this.tables.set(view.id, state);
    state.loaded = (async () => {
      try {
        const [addresses, routes] = await Promise.all([
          view.handle.addrList(),
          // Only unicast routes make a network on-link (OnLinkTable): the kernel leaves out the rest,
          // among them the local table's two or three routes per address.
          view.handle.routeList({ kernelLocal: false, routeType: RTN_UNICAST }),
        ]);
        if (this.tables.get(view.id) !== state) return undefined; // dropped meanwhile; a re-read follows
        state.table = OnLinkTable.from(addresses, routes);
        // Events that arrived during the dump are applied after it: keyed and idempotent, in order.
        state.table.apply(state.buffered);
        state.buffered = [];
        state.loading = false;
        return state.table;
      } catch {
        if (this.tables.get(view.id) === state) this.tables.delete(view.id);
        return undefined; // the namespace is going away; its closing withdraws the facts
      }
    })();
    return state.loaded;
  }

  /** Re-answers the namespace's watches; with `onlyInterfaces`, those through these links only. */
  private evaluate(
    view: NamespaceView,
    table: OnLinkTable,
    changes: FactChange[],
    onlyInterfaces?: ReadonlySet<number>,
  ): void {
    for (const [key, watch] of this.gatewaysByNamespace.get(view.id) ?? []) {
      if (watch.hostIfName === ANY_INTERFACE) {
        // The value is the covering link's "up" fact: a link down and up again between two looks
        // (the kernel flushed the routes through it unannounced) is a new value, and the route is
        // made again (recreateOnChange in route.ts), as for routes that name their interface.
        const index = table.interfaceCovering(
          watch.gatewayBytes,
          (i) => view.links.get(i)?.up === true,
          watch.table,
        );
        const link = index === undefined ? undefined : view.links.get(index);
        const up = link && this.upFacts.get(linkUpFact(view.id, link.name));
        this.set(key, up ? { ...up } : undefined, changes);
        continue;
      }
      const link = view.links.get(watch.hostIfName);
      if (onlyInterfaces && (link === undefined || !onlyInterfaces.has(link.index))) continue;
      // A link-local gateway is on the link by definition: the kernel asks for no network.
      const ok =
        link !== undefined &&
        (isIpv6LinkLocalBytes(watch.gatewayBytes) ||
          table.covers(link.index, watch.gatewayBytes, watch.table));
      this.set(key, ok ? true : undefined, changes);
    }
  }
}
