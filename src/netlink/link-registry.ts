/**
 * The links of one namespace, kept current: one dump, then the kernel's link events. Gives name ->
 * ifindex lookups without a request, and tells listeners when a link appears, changes or goes
 * (the interface index registry of DESIGN.md section 4, drift detection, facts such as "TAP tap1
 * exists"). When the event socket overruns, the registry re-dumps and reports the differences, so
 * no change is ever silently missed.
 */
import { EventEmitter } from 'node:events';
import type { Link } from './codec/link.js';
import { KernelEventStream, type KernelEvent } from './events.js';
import type { NetlinkHandle } from './handle.js';

export interface LinkChange {
  kind: 'added' | 'changed' | 'removed';
  link: Link;
  previous?: Link;
}

interface LinkRegistryEvents {
  change: [LinkChange[]];
  /** Address, route or neighbour events, passed through for drift detection. */
  kernel: [KernelEvent[]];
  /** Events were lost and a re-dump followed: owners should re-check everything in this namespace. */
  resynced: [string];
  error: [Error];
}

export class LinkRegistry extends EventEmitter<LinkRegistryEvents> {
  private readonly byIndex = new Map<number, Link>();
  private readonly byName = new Map<string, Link>();
  private stream: KernelEventStream | undefined;
  private closed = false;
  private resyncing: Promise<void> | undefined;

  constructor(
    private readonly handle: NetlinkHandle,
    private readonly namespacePath: string | null,
  ) {
    super();
  }

  /** Subscribes first, then dumps, so that nothing between the two is missed. */
  async start(): Promise<void> {
    this.stream = new KernelEventStream({
      namespacePath: this.namespacePath,
      label: this.handle.label,
      onEvents: (events) => this.onEvents(events),
      onLost: (reason) => void this.resync(reason),
    });
    this.stream.unref();
    await this.resync('initial dump', false);
  }

  get(nameOrIndex: string | number): Link | undefined {
    return typeof nameOrIndex === 'number' ? this.byIndex.get(nameOrIndex) : this.byName.get(nameOrIndex);
  }

  list(): Link[] {
    return [...this.byIndex.values()];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream?.close();
    this.removeAllListeners();
  }

  /**
   * Re-dumps the links and reports what differs from what the registry believed; `announce`
   * false for a routine refresh (counters) that owners need not react to.
   */
  resync(reason: string, announce = true): Promise<void> {
    if (this.resyncing) return this.resyncing;
    this.resyncing = (async () => {
      try {
        const links = await this.handle.linkList();
        if (this.closed) return;
        const seen = new Set<number>();
        const changes: LinkChange[] = [];
        for (const link of links) {
          seen.add(link.index);
          const change = this.put(link);
          if (change) changes.push(change);
        }
        for (const link of [...this.byIndex.values()]) {
          if (!seen.has(link.index)) changes.push(this.remove(link));
        }
        if (changes.length) this.emit('change', changes);
        if (announce) this.emit('resynced', reason);
      } catch (error) {
        if (!this.closed) this.emit('error', error as Error);
      } finally {
        this.resyncing = undefined;
      }
    })();
    return this.resyncing;
  }

  private onEvents(events: KernelEvent[]): void {
    const changes: LinkChange[] = [];
    const others: KernelEvent[] = [];
    for (const event of events) {
      if (event.topic !== 'link') {
        others.push(event);
        continue;
      }
      if (event.removed) {
        const known = this.byIndex.get(event.link.index);
        if (known) changes.push(this.remove(known));
      } else {
        const change = this.put(event.link);
        if (change) changes.push(change);
      }
    }
    if (changes.length) this.emit('change', changes);
    if (others.length) this.emit('kernel', others);
  }

  private put(link: Link): LinkChange | undefined {
    const previous = this.byIndex.get(link.index);
    if (previous && previous.name !== link.name && this.byName.get(previous.name) === previous) {
      this.byName.delete(previous.name);
    }
    this.byIndex.set(link.index, link);
    this.byName.set(link.name, link);
    if (!previous) return { kind: 'added', link };
    if (sameLink(previous, link)) return undefined;
    return { kind: 'changed', link, previous };
  }

  private remove(link: Link): LinkChange {
    this.byIndex.delete(link.index);
    if (this.byName.get(link.name) === link) this.byName.delete(link.name);
    return { kind: 'removed', link };
  }
}

/** Equal in what configuration cares about (statistics and carrier counters are ignored). */
function sameLink(a: Link, b: Link): boolean {
  return (
    a.name === b.name &&
    a.flags === b.flags &&
    a.mtu === b.mtu &&
    a.mac === b.mac &&
    a.alias === b.alias &&
    a.group === b.group &&
    a.operState === b.operState
  );
}
