/**
 * The links of one namespace, kept current: one dump, then the kernel's link events. Gives name ->
 * ifindex lookups without a request, and tells listeners when a link appears, changes or goes
 * (the interface index registry of DESIGN.md section 4, drift detection, facts such as "TAP tap1
 * exists"). When the event socket overruns, the registry re-dumps and reports the differences, so
 * no change is ever silently missed; link events that come during a dump are applied after it.
 */
import { EventEmitter } from 'node:events';
import type { Link } from './codec/link.js';
import { KernelEventStream, type EventStreamOptions, type KernelEvent } from './events.js';
import type { NetlinkHandle } from './handle.js';

type LinkEvent = Extract<KernelEvent, { topic: 'link' }>;

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

/** Options of the registry's event stream (tests: a small receive buffer, fault injection). */
export type LinkRegistryOptions = Pick<EventStreamOptions, 'receiveBufferBytes' | 'faults'>;

export class LinkRegistry extends EventEmitter<LinkRegistryEvents> {
  private readonly byIndex = new Map<number, Link>();
  private readonly byName = new Map<string, Link>();
  private stream: KernelEventStream | undefined;
  private closed = false;
  private resyncing: Promise<void> | undefined;
  /** A resync asked for while one was running: its dump may predate what was lost; run again. */
  private again: { reason: string; announce: boolean } | undefined;
  /** The last link event of each link that changed while a dump is in flight, applied after it. */
  private held: Map<number, LinkEvent> | undefined;
  /** Re-dumps made because events were lost (or the event socket failed). */
  lostResyncs = 0;

  constructor(
    private readonly handle: NetlinkHandle,
    private readonly namespacePath: string | null,
    private readonly options: LinkRegistryOptions = {},
  ) {
    super();
  }

  /** Subscribes first, then dumps, so that nothing between the two is missed. */
  async start(): Promise<void> {
    this.stream = new KernelEventStream({
      ...this.options,
      namespacePath: this.namespacePath,
      label: this.handle.label,
      onEvents: (events) => this.onEvents(events),
      onLost: (reason) => {
        this.lostResyncs++;
        void this.resync(reason);
      },
    });
    this.stream.unref();
    await this.resync('initial dump', false);
  }

  /** Why the kernel refused the event socket's filter, if it did (events still come, unfiltered). */
  get eventFilterError(): string | undefined {
    return this.stream?.filterError;
  }

  get(nameOrIndex: string | number): Link | undefined {
    return typeof nameOrIndex === 'number' ? this.byIndex.get(nameOrIndex) : this.byName.get(nameOrIndex);
  }

  list(): Link[] {
    return [...this.byIndex.values()];
  }

  /** How many links the namespace holds, as far as the registry knows. */
  get size(): number {
    return this.byIndex.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream?.close();
    this.removeAllListeners();
  }

  /**
   * Reads the events queued now before returning: every change the kernel acknowledged to us
   * before this call is then known (its event was queued as it was made). Cheap: no request.
   */
  catchUp(): void {
    this.stream?.readNow();
  }

  /**
   * The alias or group we just set on a link (after the kernel acknowledged it). The kernel
   * announces their change only for a link that is up: the registry would otherwise keep a down
   * link's old mark (our own link taken for someone else's, until the next dump). Events queued
   * before the acknowledgement are read first, so none of them, older, can undo this.
   */
  noteUnannounced(index: number, set: { alias?: string; group?: number }): void {
    this.catchUp();
    const known = this.byIndex.get(index);
    if (!known) return;
    const updated: Link = { ...known };
    if (set.alias !== undefined) {
      if (set.alias === '') delete updated.alias;
      else updated.alias = set.alias;
    }
    if (set.group !== undefined) updated.group = set.group;
    // A dump in flight may predate it: applied after the dump, as the events held meanwhile are
    // (a later event of the link replaces it there).
    if (this.held) {
      this.held.delete(index);
      this.held.set(index, { topic: 'link', removed: false, link: updated });
      return;
    }
    const change = this.put(updated);
    if (change) this.emit('change', [change]);
  }

  /**
   * Re-dumps the links and reports what differs from what the registry believed; `announce`
   * false for a routine refresh (counters) that owners need not react to. Asked while a re-dump
   * runs, it runs once more after that one (whose dump may predate the events just lost), and the
   * promise resolves after that second run; requests made meanwhile share it, and it announces if
   * any of them wanted to.
   */
  resync(reason: string, announce = true): Promise<void> {
    if (this.resyncing) {
      this.again = { reason, announce: announce || (this.again?.announce ?? false) };
      return this.resyncing;
    }
    this.resyncing = (async () => {
      try {
        for (let next: typeof this.again = { reason, announce }; next && !this.closed;) {
          await this.redump(next.reason, next.announce);
          next = this.again;
          this.again = undefined;
        }
      } finally {
        // In the same microtask as the last look at `again`: no request can fall in between.
        this.resyncing = undefined;
      }
    })();
    return this.resyncing;
  }

  /**
   * Brings the counters of known links up to date with a stats dump (no link dump: the rest of
   * each link follows the events). Counters change nothing owners react to: nothing is emitted.
   * A link the registry does not know yet is left to its event.
   */
  async refreshStatistics(): Promise<void> {
    const reports = await this.handle.linkStatsList();
    if (this.closed) return;
    for (const { index, stats } of reports) {
      const link = this.byIndex.get(index);
      if (!link) continue;
      if (link.stats) Object.assign(link.stats, stats);
      else link.stats = stats;
    }
  }

  /**
   * One dump. Link events that come while it is in flight are held and applied after it: the
   * snapshot may be older than some of them, and applied first they would be undone by it (a link
   * deleted just after the snapshot would come back). Only each link's last event is applied: it
   * is at least as new as the snapshot's view of that link, so the registry never steps back to an
   * older state, not even for a moment.
   */
  private async redump(reason: string, announce: boolean): Promise<void> {
    const held = new Map<number, LinkEvent>();
    this.held = held;
    let links: Link[] | undefined;
    try {
      links = await this.handle.linkList();
      // Events of changes the dump already shows may still be queued unread: read them now, while
      // they are held, or they would be applied after it as if they were newer (a link deleted
      // before the dump would come back for a moment, and be reported added again).
      this.stream?.readNow();
    } catch (error) {
      if (!this.closed) this.emit('error', error as Error);
    } finally {
      this.held = undefined;
    }
    if (this.closed) return;
    const changes: LinkChange[] = [];
    if (links) {
      const seen = new Set<number>();
      for (const link of links) {
        seen.add(link.index);
        const change = this.put(link);
        if (change) changes.push(change);
      }
      for (const link of [...this.byIndex.values()]) {
        if (!seen.has(link.index)) changes.push(this.remove(link));
      }
    }
    for (const event of held.values()) this.apply(event, changes);
    if (changes.length) this.emit('change', changes);
    if (links && announce) this.emit('resynced', reason);
  }

  private onEvents(events: KernelEvent[]): void {
    const changes: LinkChange[] = [];
    const others: KernelEvent[] = [];
    for (const event of events) {
      if (event.topic !== 'link') others.push(event);
      else if (this.held) {
        // the link's last event only, in the order of last events
        this.held.delete(event.link.index);
        this.held.set(event.link.index, event);
      } else this.apply(event, changes);
    }
    if (changes.length) this.emit('change', changes);
    if (others.length) this.emit('kernel', others);
  }

  private apply(event: LinkEvent, changes: LinkChange[]): void {
    if (event.removed) {
      const known = this.byIndex.get(event.link.index);
      if (known) changes.push(this.remove(known));
    } else {
      const change = this.put(event.link);
      if (change) changes.push(change);
    }
  }

  private put(link: Link): LinkChange | undefined {
    const previous = this.byIndex.get(link.index);
    if (previous && sameLink(previous, link)) {
      // Most re-dumps (the counters, every few seconds) and many events change nothing that
      // matters: keep the long-lived object and copy the rest into it, so the registry's
      // thousands of links do not turn into old-generation garbage each time.
      refreshInPlace(previous, link);
      this.byName.set(previous.name, previous);
      return undefined;
    }
    if (previous && previous.name !== link.name && this.byName.get(previous.name) === previous) {
      this.byName.delete(previous.name);
    }
    this.byIndex.set(link.index, link);
    this.byName.set(link.name, link);
    if (!previous) return { kind: 'added', link };
    return { kind: 'changed', link, previous };
  }

  private remove(link: Link): LinkChange {
    this.byIndex.delete(link.index);
    if (this.byName.get(link.name) === link) this.byName.delete(link.name);
    return { kind: 'removed', link };
  }
}

/** What sameLink ignores; a newer report's values are copied into the kept object. */
const REFRESHED_FIELDS = [
  'hardwareType',
  'up',
  'running',
  'lowerUp',
  'txqlen',
  'carrier',
  'kind',
  'parentIndex',
  'linkNetnsId',
  'masterIndex',
  'minMtu',
  'maxMtu',
] as const;

/** Copies what sameLink ignores from a newer report of the same link; counters in place. */
function refreshInPlace(kept: Link, newer: Link): void {
  if (kept.stats && newer.stats) Object.assign(kept.stats, newer.stats);
  else kept.stats = newer.stats;
  const target = kept as unknown as Record<string, unknown>;
  for (const field of REFRESHED_FIELDS) {
    if (kept[field] === newer[field]) continue;
    if (field in newer) target[field] = newer[field];
    else delete target[field]; // rare: a report without it (keeps the two objects alike)
  }
  if (!sameNames(kept.altNames, newer.altNames)) kept.altNames = newer.altNames;
}

function sameNames(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  return a.every((name, i) => name === b[i]);
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
