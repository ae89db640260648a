/**
 * Drift: what the kernel's events say about the things we manage. A managed link, address, route
 * or neighbour entry changed or removed by someone else is re-checked (the engine puts it back), and
 * items that failed for a reason of the kernel's state in a namespace are tried again when that
 * state changes there (a host name freed, a place in a route table, a neighbour entry). The checks
 * are debounced: one engine resync for a burst of events.
 */
import { namespaceId, type LinuxArpEntry, type LinuxInterface, type NamespaceRef } from '../model/index.js';
import type { Engine } from '../scheduler/index.js';
import {
  AF_INET,
  IFA_F_DADFAILED,
  IFA_F_TENTATIVE,
  type Address,
  type Link,
  type LinkChange,
  type Neighbour,
  type Route,
} from '../netlink/index.js';
import { neighbourStateDrifted, routeMatches, routePlace } from './l3-ops.js';
import { anyLinkPlace, neighbourPlace, routeEntryPlace } from './own-entries.js';
import { desiredLinkAttributes } from './link-ops.js';
import type { NamespaceView, NamespaceViews } from './namespace-views.js';
import type { LinuxContext } from './context.js';
import { addressItem } from './fact-keys.js';
import { AGENT_PROTOCOL, ownedConfigName } from './ownership.js';

export interface PluginLogger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
}

const DRIFT_DEBOUNCE_MS = 50;
/** An item failed for a reason of the kernel's state is tried again on a change at most this often. */
const STATE_RETRY_MIN_MS = 1000;

export class DriftWatch {
  private readonly driftKeys = new Set<string>();
  private readonly driftDescriptors = new Set<string>();
  /** `descriptor\nnamespace id` where failed items may succeed now (retryFailedIn). */
  private retryNamespaces = new Set<string>();
  /** Per place of retryNamespaces asked only by releases: the items that released (retryFailedIn). */
  private retryExcept = new Map<string, Set<string>>();
  private readonly lastStateRetry = new Map<string, number>();
  /** Managed links seen differing from their items, by key, confirmed when the debounce ends. */
  private readonly linkSuspects = new Map<string, { namespaceId: string; ifindex: number }>();
  private driftTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly label: string,
    private readonly engine: Engine,
    private readonly ctx: LinuxContext,
    private readonly views: NamespaceViews,
    private readonly logger: PluginLogger | undefined,
  ) {}

  /** Follows the views' link and kernel events. */
  start(): void {
    this.views.on('links', (view, changes) => this.onLinkChanges(view, changes));
    this.views.on('kernel', (view, events) => {
      for (const event of events) {
        if (event.topic === 'route') {
          this.onRouteEvent(view, event.route, event.removed);
          if (event.removed) this.retryFailedIn(view.id, 'route'); // a place in a table is free
        } else if (event.topic === 'neighbour') {
          this.onNeighbourEvent(view, event.neighbour, event.removed);
          // An entry another item (or someone else) held is free. Only where an ARP item failed:
          // learned entries age out all the time, and a retry each time would fill the history.
          if (event.removed && this.failedArpFor(view.id, event.neighbour.address))
            this.retryFailedIn(view.id, 'arp');
        } else if (event.topic === 'address' && event.removed) {
          this.onAddressRemoved(
            view,
            event.address.index,
            `${event.address.address}/${event.address.prefixLength}`,
          );
          if (event.address.family === AF_INET)
            this.onIpv4AddressRemoved(view, event.address.index, event.address.address);
          else this.onIpv6AddressRemoved(view, event.address.address);
          // The kernel's own route of the address's network went with it (its removal is not
          // announced here: codec/socket-filter.ts): a route of ours refused for holding that
          // place may be made now.
          this.retryFailedIn(view.id, 'route');
        } else if (event.topic === 'address') {
          this.onAddressChanged(view, event.address);
          this.retryFailedIn(view.id, 'route');
        }
      }
    });
    this.views.on('resynced', (view, reason) => {
      // Events were lost there: any managed thing may have changed unseen, routes and neighbours too.
      this.logger?.warn({ namespace: view.id, reason }, 'kernel events lost; namespace re-read');
      for (const descriptor of ['interface', 'address', 'route', 'arp']) this.scheduleDrift({ descriptor });
    });
  }

  private interfaceKeyOf(alias: string | undefined): string | undefined {
    const name = ownedConfigName(this.label, alias);
    return name === undefined ? undefined : this.ctx.interfaceKey(name);
  }

  private onLinkChanges(view: NamespaceView, changes: LinkChange[]): void {
    for (const change of changes) {
      if (change.kind === 'removed' || (change.previous && change.previous.name !== change.link.name))
        this.retryFailedIn(view.id, 'interface'); // a host name is free there now
      if (change.kind === 'changed' && change.previous && change.previous.mtu !== change.link.mtu)
        this.retryIpv6OffByMtu();
      const key =
        this.interfaceKeyOf(change.link.alias) ??
        this.interfaceKeyOf(change.previous?.alias) ??
        this.ctx.foreignLinkKey(view.id, change.link.index);
      if (!key) continue;
      const link = change.kind === 'removed' ? undefined : change.link;
      // A link of ours gone while its item has an operation planned or running is judged once
      // that operation has settled (confirmLinkDrift): its outcome may account for it (a removal,
      // a re-creation), or not (an update whose link went meanwhile, e.g. at a start, with its VETH
      // peer deleted to be made in another namespace: it failed with ENODEV and, the engine still
      // holding the link it had, was retried on that ifindex for ever).
      const removedWhileOperating = link === undefined && this.engine.isOperating(key);
      if (!removedWhileOperating && this.linkDrift(key, view.id, change.link.index, link) === undefined)
        continue;
      // Confirmed when the debounce ends: the notifications of our own last steps on a link (a TAP
      // renamed, moved, then set up) can be read after the operation ended, and an intermediate
      // one is no change by someone else once the later ones are in.
      this.linkSuspects.set(key, { namespaceId: view.id, ifindex: change.link.index });
      this.scheduleDrift({});
    }
  }

  /**
   * How a managed link (`undefined`: gone) differs from its item, or undefined when it does not, or
   * when it is not the item's applied link, or the item's own operation is running (its outcome
   * counts, e.g. a VETH end that goes with its peer).
   */
  private linkDrift(
    key: string,
    namespaceId: string,
    ifindex: number,
    link: Link | undefined,
  ): string | undefined {
    if (this.engine.isOperating(key)) return undefined;
    const applied = this.engine.state.metadata<{ ifindex: number; namespaceId: string }>(key);
    if (!applied || applied.ifindex !== ifindex || applied.namespaceId !== namespaceId) return undefined;
    const desired = this.engine.state.value<LinuxInterface>(key);
    if (!desired) return undefined;
    if (!link) return 'removed';
    // Our mark cleared by someone else on a link we made or a TAP we took: put back where it is
    // (a TAP's fact stays, kernel-facts.ts). Unmarked, the next start takes it for someone else's.
    if (
      desired.type !== 'EXISTING' &&
      desired.type !== 'LOOPBACK' &&
      ownedConfigName(this.label, link.alias) !== desired.name
    )
      return 'unmarked';
    if (link.name !== desired.hostIfName) return 'renamed';
    if (link.up !== desired.enabled) return link.up ? 'set up' : 'set down';
    // Our own links without an MTU in their config want the kernel's default.
    const mtu = desiredLinkAttributes(desired, undefined).mtu;
    if (mtu !== undefined && link.mtu !== mtu) return 'mtu';
    if (desired.physAddress !== undefined && link.mac !== desired.physAddress) return 'mac';
    return undefined;
  }

  /** The link drift still there now that the debounce ended, logged and re-checked. */
  private confirmLinkDrift(): string[] {
    const keys: string[] = [];
    // Those whose item's operation has not settled yet wait for it: looked at again after it.
    const unsettled = new Map<string, { namespaceId: string; ifindex: number }>();
    for (const [key, suspect] of this.linkSuspects) {
      if (this.engine.isOperating(key)) {
        unsettled.set(key, suspect);
        continue;
      }
      const link = this.views.get(suspect.namespaceId)?.links.get(suspect.ifindex);
      const change = this.linkDrift(key, suspect.namespaceId, suspect.ifindex, link);
      if (change === undefined) continue;
      this.logger?.info(
        { key, namespace: suspect.namespaceId, link: link?.name, change },
        'managed link changed outside the agent; re-checking',
      );
      keys.push(key);
      // Its addresses went with it: re-read them too, or the engine would keep them as applied
      // while it re-creates the link under them.
      const desired = this.engine.state.value<LinuxInterface>(key);
      if (change === 'removed' && desired)
        for (const cidr of desired.ipAddresses) keys.push(addressItem(key, cidr));
    }
    this.linkSuspects.clear();
    for (const [key, suspect] of unsettled) this.linkSuspects.set(key, suspect);
    if (unsettled.size > 0) this.scheduleDrift({});
    return keys;
  }

  /** The interface item of ours a link belongs to, if any. */
  private interfaceKeyAt(view: NamespaceView, ifindex: number): string | undefined {
    return this.interfaceKeyOf(view.links.get(ifindex)?.alias) ?? this.ctx.foreignLinkKey(view.id, ifindex);
  }

  /**
   * An address announced anew: one of ours whose duplicate address detection failed is re-checked
   * (its item fails, saying so); one that passed it starts a later failure's delays afresh.
   */
  private onAddressChanged(view: NamespaceView, address: Address): void {
    if (address.family === AF_INET) return;
    const key = this.interfaceKeyAt(view, address.index);
    if (key === undefined) return;
    const addressKey = addressItem(key, `${address.address}/${address.prefixLength}`);
    if (!(address.flags & IFA_F_DADFAILED)) {
      if (!(address.flags & IFA_F_TENTATIVE)) this.ctx.duplicateAddresses.forget(addressKey);
      return;
    }
    if (!this.stillWanted(addressKey)) return;
    this.logger?.warn(
      { key: addressKey, namespace: view.id },
      'IPv6 duplicate address detection failed: another host on the link has the address; re-checking',
    );
    this.scheduleDrift({ key: addressKey });
  }

  private onAddressRemoved(view: NamespaceView, ifindex: number, cidr: string): void {
    const key = this.interfaceKeyAt(view, ifindex);
    if (key === undefined) return;
    const addressKey = addressItem(key, cidr);
    // Still wanted and applied: it must be put back (our own removals drop the desired value
    // first, and a link of ours being deleted or re-created has its addresses' operations planned
    // too). That holds while the link itself is being changed: the kernel drops a link's IPv6
    // addresses when it goes down, and we set it down to rename it or to disable it.
    if (
      this.engine.isOperating(addressKey) ||
      this.engine.state.metadata(addressKey) === undefined ||
      this.engine.state.value(addressKey) === undefined
    )
      return;
    // The link down (ours, being disabled, whose event came after the operation ended; or someone
    // else's doing): the kernel dropped its IPv6 addresses, no one removed this one by hand.
    const down = this.engine.isOperating(key) || view.links.get(ifindex)?.up === false;
    this.logger?.info(
      { key: addressKey, namespace: view.id },
      down
        ? 'address dropped by the kernel as its link was set down; re-checking'
        : 'managed address removed outside the agent; re-checking',
    );
    this.scheduleDrift({ key: addressKey });
  }

  /**
   * An IPv4 address gone: when it was its link's last one, the kernel drops the routes through that
   * link without a notification (older kernels also those preferring it as source). Ours there are
   * checked, on any link: a gateway-less route does not depend on the address, so putting the
   * address back (our own links) does not bring the route back. Also while our link is being
   * updated (its configuration dropped the address: the update does not touch the routes through
   * it); not when it goes (no longer wanted), as its routes go with it.
   */
  private onIpv4AddressRemoved(view: NamespaceView, ifindex: number, address: string): void {
    const key = this.interfaceKeyOf(view.links.get(ifindex)?.alias);
    if (key !== undefined && this.engine.state.value(key) === undefined) return;
    if (!this.ctx.hasRouteThrough(view.id, ifindex, address)) return;
    this.logger?.info(
      { namespace: view.id, ifindex },
      'an IPv4 address went from a link managed routes go through (the kernel may drop them unannounced); re-checking',
    );
    this.scheduleDrift({ descriptor: 'route' });
  }

  /**
   * An IPv6 address went: the kernel keeps the routes that name it as their preferred source but
   * clears that source, unannounced (a route of ours would stay without its `src`, "configured").
   * Re-checked: made again with it once the address is back, or failed while it is not.
   */
  private onIpv6AddressRemoved(view: NamespaceView, address: string): void {
    // Also when our own transaction took the address away (the configuration dropped it): the
    // routes preferring it are as they would be after anyone's removal. Only routes that prefer
    // this very address are looked for, and drift checks are debounced.
    if (!this.ctx.hasRouteFrom(view.id, address)) return;
    this.logger?.info(
      { namespace: view.id, address },
      'an IPv6 address managed routes take as their source went (the kernel clears it unannounced); re-checking',
    );
    this.scheduleDrift({ descriptor: 'route' });
  }

  /**
   * A route of ours removed, or replaced by someone else's at its place (`ip route replace`: only
   * the new route's event comes): put back. Our own removals find nothing to do.
   */
  private onRouteEvent(view: NamespaceView, route: Route, removed: boolean): void {
    const mine = this.ctx.routeAt(view.id, route);
    if (route.protocol === AGENT_PROTOCOL) {
      // Of our number but not made by this process: another label's (own-entries.ts).
      const at = routePlace(route);
      const place = routeEntryPlace(at, route.family, route.oif);
      const anyLink = anyLinkPlace(at, route.family);
      if (removed) this.ctx.ownEntries.noteGone('route', view.identity, place, anyLink);
      else this.ctx.ownEntries.noteAppeared('route', view.identity, place, anyLink);
    }
    if (removed) {
      if (route.protocol !== AGENT_PROTOCOL) return;
      if (mine && this.stillWanted(mine.key) && routeMatches(route, mine.spec))
        this.logger?.info(
          { key: mine.key, namespace: view.id },
          'managed route removed outside the agent; re-checking',
        );
      this.scheduleDrift({ descriptor: 'route' });
      return;
    }
    if (!mine || !this.stillWanted(mine.key)) return;
    if (route.protocol === AGENT_PROTOCOL && routeMatches(route, mine.spec)) return; // ours, as made
    this.logger?.info(
      { key: mine.key, namespace: view.id },
      'managed route replaced outside the agent; re-checking',
    );
    this.scheduleDrift({ descriptor: 'route' });
  }

  /** A neighbour entry of ours removed, or given another MAC by someone else: put back. */
  private onNeighbourEvent(view: NamespaceView, neighbour: Neighbour, removed: boolean): void {
    if (neighbour.protocol === AGENT_PROTOCOL) {
      const place = neighbourPlace(neighbour.index, neighbour.address);
      if (removed) this.ctx.ownEntries.noteGone('neighbour', view.identity, place);
      else this.ctx.ownEntries.noteAppeared('neighbour', view.identity, place);
    }
    if (removed) {
      if (neighbour.protocol === AGENT_PROTOCOL) this.scheduleDrift({ descriptor: 'arp' });
      return;
    }
    const key = this.ctx.neighbourAt(view.id, neighbour.index, neighbour.address);
    if (!key || !this.stillWanted(key)) return;
    const wanted = this.engine.state.value<LinuxArpEntry>(key);
    // The mark, the MAC and, for a static entry, its state (the kernel moves REACHABLE entries to
    // STALE by itself; a PERMANENT one set STALE by someone is no longer static).
    if (
      !wanted ||
      (neighbour.protocol === AGENT_PROTOCOL &&
        neighbour.mac === wanted.hwAddress &&
        !neighbourStateDrifted(neighbour, wanted))
    )
      return;
    this.logger?.info(
      { key, namespace: view.id },
      'managed neighbour entry changed outside the agent; re-checking',
    );
    this.scheduleDrift({ descriptor: 'arp' });
  }

  /** Applied, still desired, and not being changed by the running transaction. */
  private stillWanted(key: string): boolean {
    return (
      !this.engine.isOperating(key) &&
      this.engine.state.value(key) !== undefined &&
      this.engine.state.metadata(key) !== undefined
    );
  }

  /**
   * Items of `descriptor` in a namespace that failed for a reason of the kernel's state there (a
   * host name taken, a route's source address missing, a neighbour entry another item holds) are
   * tried again once that state changed: such errors have no retry timer of their own. Debounced
   * with the drift checks, and at most once a second per item, so that an item whose own attempts
   * change the namespace cannot loop.
   */
  /**
   * `except`: the item whose own failure freed something there (an ARP item that failed as it held
   * the entry): the others may take it now, not that one again (it tried itself again every second
   * for ever, each time freeing the entry anew). Any other reason to retry there retries it too.
   */
  retryFailedIn(namespaceId: string, descriptor: 'interface' | 'route' | 'arp', except?: string): void {
    const place = `${descriptor}\n${namespaceId}`;
    if (except === undefined) this.retryExcept.delete(place);
    else if (!this.retryNamespaces.has(place) || this.retryExcept.has(place)) {
      const excepted = this.retryExcept.get(place) ?? new Set<string>();
      excepted.add(except);
      this.retryExcept.set(place, excepted);
    }
    this.retryNamespaces.add(place);
    this.scheduleDrift({});
  }

  /**
   * A link's MTU changed: IPv6 addresses, routes and neighbour entries refused while an MTU was
   * below IPv6's least are tried again (IPv6 may be on again; no other event says so). Few fail so:
   * all of them, wherever.
   */
  private retryIpv6OffByMtu(): void {
    const keys = this.engine
      .failedKeys()
      .filter((key) => this.engine.status(key)?.error?.code === 'ERR_IPV6_OFF_BY_MTU');
    const tried = this.engine.retryFailed(keys);
    if (tried.length)
      this.logger?.info(
        { keys: tried },
        "a link's MTU changed; trying again what IPv6 being off there refused",
      );
  }

  /** Whether an ARP item of that address in that namespace failed (few fail: a short walk). */
  private failedArpFor(nsId: string, address: string): boolean {
    for (const key of this.engine.failedKeys()) {
      if (this.engine.status(key)?.descriptor !== 'arp') continue;
      const value = this.engine.state.value<LinuxArpEntry>(key);
      if (value?.ipAddress === address && namespaceId(value.namespace) === nsId) return true;
    }
    return false;
  }

  private retryFailedItems(): void {
    if (this.retryNamespaces.size === 0) return;
    const wanted = this.retryNamespaces;
    this.retryNamespaces = new Set();
    const excepted = this.retryExcept;
    this.retryExcept = new Map();
    const now = Date.now();
    const keys: string[] = [];
    const later = new Set<string>();
    for (const failed of this.engine.failedKeys()) {
      const status = this.engine.status(failed);
      if (status?.state !== 'failed' || status.origin !== 'config' || status.nextRetryAt !== undefined)
        continue;
      const value = this.engine.state.value<{ namespace?: NamespaceRef; veth?: { peerIfName: string } }>(
        status.key,
      );
      if (!value?.namespace) continue;
      // A VETH that creates its pair also fails on a name its peer's namespace holds.
      const peer =
        status.descriptor === 'interface' && value.veth
          ? this.engine.state.value<{ namespace?: NamespaceRef }>(
              this.ctx.interfaceKey(value.veth.peerIfName),
            )
          : undefined;
      const place = [value.namespace, ...(peer?.namespace ? [peer.namespace] : [])]
        .map((ref) => `${status.descriptor}\n${namespaceId(ref)}`)
        .find((candidate) => wanted.has(candidate));
      if (place === undefined || excepted.get(place)?.has(status.key)) continue;
      if (now - (this.lastStateRetry.get(status.key) ?? 0) < STATE_RETRY_MIN_MS) {
        later.add(place); // asked again once its second is over: the change is not lost
        continue;
      }
      this.lastStateRetry.set(status.key, now);
      keys.push(status.key);
    }
    const tried = this.engine.retryFailed(keys);
    if (tried.length)
      this.logger?.info({ keys: tried }, 'the kernel changed where these failed; trying again');
    // Forget only what no longer limits anything (a clear would lift the limit for all at once).
    if (this.lastStateRetry.size > 1000)
      for (const [key, at] of this.lastStateRetry)
        if (now - at >= STATE_RETRY_MIN_MS) this.lastStateRetry.delete(key);
    if (later.size && !this.closed)
      setTimeout(() => {
        for (const place of later) this.retryNamespaces.add(place);
        this.scheduleDrift({});
      }, STATE_RETRY_MIN_MS).unref();
  }

  scheduleDrift(what: { key?: string; descriptor?: string }): void {
    if (this.closed) return;
    if (what.key) this.driftKeys.add(what.key);
    if (what.descriptor) this.driftDescriptors.add(what.descriptor);
    if (this.driftTimer) return;
    this.driftTimer = setTimeout(() => {
      this.driftTimer = undefined;
      this.retryFailedItems();
      const keys = [...this.driftKeys, ...this.confirmLinkDrift()];
      const descriptors = [...this.driftDescriptors];
      this.driftKeys.clear();
      this.driftDescriptors.clear();
      if (this.closed || (keys.length === 0 && descriptors.length === 0)) return;
      void this.engine
        .resync({ ...(keys.length ? { keys } : {}), ...(descriptors.length ? { descriptors } : {}) })
        .catch(() => undefined);
    }, DRIFT_DEBOUNCE_MS);
  }

  close(): void {
    this.closed = true;
    if (this.driftTimer) clearTimeout(this.driftTimer);
    this.driftTimer = undefined;
  }
}
