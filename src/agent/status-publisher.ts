/**
 * Publishes what the kernel reports for each managed interface (ifindex, oper state, MAC, MTU,
 * counters) under /vnf-agent/<label>/linux/status/v1/interface/<name>, only what changed. A change
 * of state (a link up or down, renamed, another MTU or MAC; an interface configured or removed) is
 * published within a second of the kernel's event; counters, which move all the time, every
 * interval (a few seconds). The seeds' agent had "no notifications and statistics yet".
 */
import { interfaceStatusKey, interfaceStatusPrefix, type LinuxInterface } from '../model/index.js';
import type { Engine } from '../scheduler/index.js';
import type { Datastore } from '../datastore/index.js';
import type { NamespaceViews } from '../descriptors/namespace-views.js';
import type { InterfaceMetadata } from '../descriptors/link-ops.js';
import type { InterfaceState } from '../api/service.js';

/**
 * A publish is spread out: slices of this many interfaces, with a pause between them. With
 * thousands of interfaces whose counters all moved, writing them in one go held the event loop
 * for ~100 ms every interval, and a transaction that came meanwhile waited that long; a write of
 * 50 still held it for 2-3 ms.
 */
const SLICE = 25;
const PAUSE_MS = 5;
const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, PAUSE_MS));

/** A change of state is published this long after it, and publications of changes are this far apart at least. */
const CHANGE_DELAY_MS = 100;
const CHANGE_GAP_MS = 1000;

export class InterfaceStatePublisher {
  /** What the datastore holds under our status prefix: read once, then kept as we write. */
  private readonly published = new Map<string, string>();
  /** The link (`<namespace id>#<ifindex>`) each state was published for, by status key. */
  private readonly publishedPlace = new Map<string, string>();
  private loaded = false;
  private timer: NodeJS.Timeout | undefined;
  private changeTimer: NodeJS.Timeout | undefined;
  private lastChangePublish = 0;
  /** A change came while a publication was running: publish again after it. */
  private changedMeanwhile = false;
  /** The interval's round of counters came while a publication was running. */
  private countersMeanwhile = false;
  /** What changed since the last publication: links (`<namespace id>#<ifindex>`) and items (config keys). */
  private readonly changedLinks = new Set<string>();
  private readonly changedItems = new Set<string>();
  private running = false;

  constructor(
    private readonly label: string,
    private readonly engine: Engine,
    private readonly views: NamespaceViews,
    private readonly store: Datastore,
    private readonly intervalMs = 5000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.publish(), this.intervalMs);
    this.timer.unref();
    // Not in the first second: a restart's events would have it compare every state while the
    // resync's last statuses are still being read.
    this.lastChangePublish = Date.now();
    // Then the first publication compares every state, what an earlier run left too (interfaces
    // removed while the agent was down), without waiting for the first round of counters.
    this.publishChangesIn(CHANGE_GAP_MS);
  }

  /**
   * The configuration was read whole (a start, a datastore back after an outage, maybe made anew):
   * what the store holds of the states is read again at the next publication, so that states it
   * lost meanwhile (etcd's data wiped, keys deleted by hand) are written again.
   */
  storeRead(): void {
    this.loaded = false;
    this.published.clear();
    this.publishedPlace.clear();
    this.changed();
  }

  /** A link changed (a kernel event): its interface's state is published soon. */
  linkChanged(namespaceId: string, ifindex: number): void {
    this.changedLinks.add(`${namespaceId}#${ifindex}`);
    this.changed();
  }

  /** An interface item's status changed (configured, removed...): its state is published soon. */
  itemChanged(key: string): void {
    this.changedItems.add(key);
    this.changed();
  }

  /**
   * Something may have changed the state of an interface: what changed is published soon, without
   * refreshing counters. Cheap to call for every event.
   */
  private changed(): void {
    if (!this.timer || this.changeTimer) return;
    if (this.running) {
      this.changedMeanwhile = true;
      return;
    }
    this.publishChangesIn(Math.max(CHANGE_DELAY_MS, this.lastChangePublish + CHANGE_GAP_MS - Date.now()));
  }

  /** A publication of changes (no counters) in `delay` ms. */
  private publishChangesIn(delay: number): void {
    this.changeTimer = setTimeout(() => {
      this.changeTimer = undefined;
      this.lastChangePublish = Date.now();
      void this.publish({ counters: false });
    }, delay);
    this.changeTimer.unref();
  }

  /** The current state of every applied interface, from the link registries (no request). */
  states(): Map<string, InterfaceState> {
    const states = new Map<string, InterfaceState>();
    for (const item of this.engine.appliedItems('interface')) {
      const state = this.stateOf(item.value as LinuxInterface, item.metadata as InterfaceMetadata);
      if (state) states.set(item.key, state);
    }
    return states;
  }

  /** The current state of one applied interface (undefined: not applied, or its link is not known). */
  stateOfKey(key: string): InterfaceState | undefined {
    const item = this.engine.appliedItem(key);
    if (item?.descriptor !== 'interface') return undefined;
    return this.stateOf(item.value as LinuxInterface, item.metadata as InterfaceMetadata);
  }

  private stateOf(value: LinuxInterface, meta: InterfaceMetadata): InterfaceState | undefined {
    const link = this.views.get(meta.namespaceId)?.links.get(meta.ifindex);
    if (!link) return undefined;
    return {
      name: value.name,
      hostIfName: link.name,
      namespace: meta.namespaceId,
      ifindex: link.index,
      operState: link.operState,
      mtu: link.mtu,
      ...(link.mac ? { mac: link.mac } : {}),
      ...(link.stats ? { stats: { ...link.stats } } : {}),
    };
  }

  async publish(options: { counters: boolean } = { counters: true }): Promise<void> {
    if (this.running) {
      // Done after this run: a change soon, a round of counters at once (not skipped: a steady
      // stream of changes would starve the counters).
      if (options.counters) this.countersMeanwhile = true;
      else this.changedMeanwhile = true;
      return;
    }
    this.running = true;
    this.changedMeanwhile = false;
    this.countersMeanwhile = false;
    let links = new Set<string>();
    let items = new Set<string>();
    try {
      const firstLoad = !this.loaded;
      if (firstLoad) {
        // What an earlier run left: states still right are not written again, and those of
        // interfaces that went while we were away are deleted.
        const { items } = await this.store.list(interfaceStatusPrefix(this.label));
        for (const item of items) this.published.set(item.key, item.value);
        this.loaded = true;
      }
      // The registries follow every link's state from events, but not its counters: refresh those
      // first, one namespace at a time, with stats dumps (a link dump of thousands of links held
      // the event loop for tens of milliseconds every interval).
      for (const view of options.counters ? this.views.all() : []) {
        try {
          await view.links.refreshStatistics();
        } catch {
          // the namespace is going away: its interfaces' states go with it
        }
      }
      // A publication of changes looks at what changed only; a round of counters at everything.
      links = new Set(this.changedLinks);
      items = new Set(this.changedItems);
      this.changedLinks.clear();
      this.changedItems.clear();
      const everything = options.counters || firstLoad;
      // Each state is made where it is compared, in slices: made all at once (thousands of them),
      // they held the event loop for ~7 ms.
      const entries: { key: string; value: string; place: string }[] = [];
      const seen = new Set<string>();
      const vanished: string[] = [];
      let sinceYield = 0;
      for (const item of this.engine.appliedItems('interface')) {
        const meta = item.metadata as InterfaceMetadata;
        const value = item.value as LinuxInterface;
        const place = `${meta.namespaceId}#${meta.ifindex}`;
        const key = interfaceStatusKey(this.label, value.name);
        // Also an interface now on another link than the one published (re-created, or another
        // host name of an EXISTING link already right): no event may have told.
        const touched = items.has(item.key) || links.has(place) || this.publishedPlace.get(key) !== place;
        if (!everything && !touched) continue;
        if (++sinceYield === SLICE * 2) {
          sinceYield = 0;
          await pause();
        }
        const state = this.stateOf(value, meta);
        if (!state) {
          vanished.push(key); // applied, but its link is not known: its published state goes
          continue;
        }
        seen.add(key);
        const text = JSON.stringify(state);
        if (this.published.get(key) === text) continue;
        entries.push({ key, value: text, place });
      }
      // Written in slices: the embedded store writes synchronously, and after a restart every
      // interface's state may be new. Remembered once written: a failed write is tried again.
      for (let i = 0; i < entries.length; i += SLICE) {
        if (i > 0) await pause();
        const slice = entries.slice(i, i + SLICE);
        await this.store.putMany(
          slice.map(({ key, value }) => ({ key, value })),
          { durable: false },
        );
        for (const { key, value, place } of slice) {
          this.published.set(key, value);
          this.publishedPlace.set(key, place);
        }
      }
      // Gone interfaces: one write for all of them (one per key was one fsync each: thousands of
      // them after a large configuration was removed).
      const candidates = everything
        ? [...this.published.keys()]
        : [
            ...[...items].map((key) => interfaceStatusKey(this.label, key.slice(key.lastIndexOf('/') + 1))),
            ...vanished,
          ];
      const gone = [...new Set(candidates)].filter((key) => this.published.has(key) && !seen.has(key));
      for (let i = 0; i < gone.length; i += SLICE * 10) {
        if (i > 0) await pause();
        const slice = gone.slice(i, i + SLICE * 10);
        await this.store.deleteMany(slice, { durable: false });
        for (const key of slice) {
          this.published.delete(key);
          this.publishedPlace.delete(key);
        }
      }
    } catch {
      // The store may be unreachable: what changed is looked at again next time.
      for (const link of links) this.changedLinks.add(link);
      for (const item of items) this.changedItems.add(item);
    } finally {
      this.running = false;
      if (this.countersMeanwhile && this.timer) void this.publish();
      else if (this.changedMeanwhile) this.changed();
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.changeTimer) clearTimeout(this.changeTimer);
    this.timer = undefined;
    this.changeTimer = undefined;
  }
}
