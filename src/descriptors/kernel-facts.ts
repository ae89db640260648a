/**
 * Facts read from the kernel, for the engine: which links exist and are up in each open namespace,
 * and whether the gateways that configured routes need are reachable there (an address or a
 * gateway-less route of the interface covers the gateway). Routes and ARP entries depend on these
 * facts, so they wait for their interface and gateway whoever configured them, and step back when
 * they go (an interface set down, an address removed).
 */
import { EventEmitter } from 'node:events';
import {
  AF_INET6,
  IFA_F_DADFAILED,
  RTN_UNICAST,
  ipToBytes,
  type Link,
  type LinkChange,
} from '../netlink/index.js';
import type { NamespaceView, NamespaceViews } from './namespace-views.js';
import { linkFact, linkUpFact, reachFact } from './fact-keys.js';

export interface FactChange {
  key: string;
  /** undefined: the fact no longer holds. */
  value: unknown;
}

interface KernelFactEvents {
  change: [FactChange[]];
}

const RECHECK_DELAY_MS = 5;

interface GatewayWatch {
  nsId: string;
  hostIfName: string;
  gateway: string;
  users: number;
}

export class KernelFacts extends EventEmitter<KernelFactEvents> {
  /** Facts currently asserted, by key, with the value last sent. */
  private readonly asserted = new Map<string, string>();
  private readonly gateways = new Map<string, GatewayWatch>();
  /** The same watches by namespace id, so a re-check reads only what it needs. */
  private readonly gatewaysByNamespace = new Map<string, Map<string, GatewayWatch>>();
  private readonly recheck = new Set<string>();
  private recheckScheduled = false;

  constructor(private readonly views: NamespaceViews) {
    super();
    views.on('links', (view, changes) => this.onLinks(view, changes));
    views.on('kernel', (view, events) => {
      if (events.some((e) => e.topic === 'address' || e.topic === 'route')) this.scheduleRecheck(view.id);
    });
    views.on('resynced', (view) => this.scheduleRecheck(view.id));
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
    for (const key of this.asserted.keys()) {
      if (key.includes(`/${nsId}/`)) this.set(key, undefined, changes);
    }
    this.publish(changes);
  }

  /** Starts (or counts another user of) the reachability fact of a gateway. */
  watchGateway(nsId: string, hostIfName: string, gateway: string): string {
    const key = reachFact(nsId, hostIfName, gateway);
    const watch = this.gateways.get(key);
    if (watch) watch.users++;
    else {
      const added = { nsId, hostIfName, gateway, users: 1 };
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
    if (linkChanges.length) this.scheduleRecheck(view.id);
  }

  private linkFacts(nsId: string, link: Link, changes: FactChange[]): void {
    this.set(linkFact(nsId, link.name), { ifindex: link.index }, changes);
    this.set(linkUpFact(nsId, link.name), link.up ? { ifindex: link.index } : undefined, changes);
  }

  private set(key: string, value: unknown, changes: FactChange[]): void {
    const text = value === undefined ? undefined : JSON.stringify(value);
    if (this.asserted.get(key) === text) return;
    if (text === undefined) this.asserted.delete(key);
    else this.asserted.set(key, text);
    changes.push({ key, value });
  }

  private publish(changes: FactChange[]): void {
    if (changes.length) this.emit('change', changes);
  }

  private scheduleRecheck(nsId: string): void {
    this.recheck.add(nsId);
    if (this.recheckScheduled) return;
    this.recheckScheduled = true;
    // Bursts of address and route events (a whole transaction's worth) make one re-read per
    // namespace: wait a few milliseconds for the burst to end.
    setTimeout(() => void this.recheckGateways(), RECHECK_DELAY_MS).unref();
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
    const changes: FactChange[] = [];
    await Promise.all(
      namespaces.map(async (nsId) => {
        const watches = [...(this.gatewaysByNamespace.get(nsId) ?? [])];
        if (watches.length === 0) return;
        const view = this.views.get(nsId);
        if (!view) {
          for (const [key] of watches) this.set(key, undefined, changes);
          return;
        }
        let reachable: Map<number, OnLinkNetworks>;
        try {
          reachable = await reachableNetworks(view);
        } catch {
          return; // the namespace is going away; its closing withdraws the facts
        }
        for (const [key, watch] of watches) {
          const link = view.links.get(watch.hostIfName);
          const networks = link ? reachable.get(link.index) : undefined;
          const ok = networks?.covers(watch.gateway) ?? false;
          this.set(key, ok ? true : undefined, changes);
        }
      }),
    );
    this.publish(changes);
  }
}

/** Networks reachable on one link; answers "is this address inside one of them". */
class OnLinkNetworks {
  private readonly networks: { bytes: Buffer; prefixLength: number }[] = [];

  add(address: string, prefixLength: number): void {
    this.networks.push({ bytes: ipToBytes(address), prefixLength });
  }

  covers(address: string): boolean {
    const bytes = ipToBytes(address);
    return this.networks.some(
      (n) => n.bytes.length === bytes.length && samePrefix(n.bytes, bytes, n.prefixLength),
    );
  }
}

function samePrefix(a: Buffer, b: Buffer, bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[whole]! ^ b[whole]!) & mask) === 0;
}

/** Per interface, the networks its addresses and gateway-less routes make reachable on-link. */
async function reachableNetworks(view: NamespaceView): Promise<Map<number, OnLinkNetworks>> {
  const [addresses, routes] = await Promise.all([view.handle.addrList(), view.handle.routeList()]);
  const byLink = new Map<number, OnLinkNetworks>();
  const listOf = (index: number): OnLinkNetworks => {
    let list = byLink.get(index);
    if (!list) byLink.set(index, (list = new OnLinkNetworks()));
    return list;
  };
  for (const a of addresses) {
    if (a.flags & IFA_F_DADFAILED) continue;
    listOf(a.index).add(a.address, a.prefixLength);
  }
  for (const r of routes) {
    if (r.gateway || r.oif === undefined || r.type !== RTN_UNICAST) continue;
    listOf(r.oif).add(r.dst ?? (r.family === AF_INET6 ? '::' : '0.0.0.0'), r.dstLength);
  }
  return byLink;
}
