/**
 * The Linux side of the agent: registers the descriptors with the engine, opens a view of every
 * namespace the configuration references as it becomes available, and feeds the engine with
 * facts (namespaces, links, gateways) and with drift (managed things changed by someone else).
 */
import { existsSync } from 'node:fs';
import { namedNamespacePath } from './named-namespaces.js';
import { processStartTime } from '../util/process-start.js';
import { DriftWatch, type PluginLogger } from './drift-watch.js';
import {
  NamespaceNotFoundError,
  NotANamespaceError,
  finishInterruptedDeletion,
  inspectNamespaceFile,
} from '../netns/index.js';
import { ANY_INTERFACE } from './fact-keys.js';
import {
  describeNamespace,
  hostNameClaim,
  neighbourClaim,
  namespaceId,
  parseNamespaceId,
  routePlaceClaim,
  type LinuxArpEntry,
  type LinuxInterface,
  type LinuxRoute,
  type NamespaceRef,
} from '../model/index.js';
import type { Engine } from '../scheduler/index.js';
import type { FactChange as EngineFact } from '../scheduler/types.js';
import { routeMatches, routeSpec } from './l3-ops.js';
import { NamespaceViews, type NamespaceView } from './namespace-views.js';
import { KernelFacts, type FactChange } from './kernel-facts.js';
import { LinuxContext } from './context.js';
import { MemoryOriginals, type OriginalsBook } from './originals.js';
import { MemoryUsedNamespaces, type UsedNamespaces } from './used-namespaces.js';
import { interfaceDescriptor } from './interface.js';
import {
  addressDescriptor,
  namedNamespaceDescriptor,
  vethEndDescriptor,
  type NamedNamespaceMetadata,
} from './derived.js';
import { routeDescriptor } from './route.js';
import { arpDescriptor } from './arp.js';
import { namespaceFact, namedNamespaceItem } from './fact-keys.js';
import { DuplicateAddresses } from './duplicate-addresses.js';
import { fileUsersOfNamed, retryReleasedNamespaces } from './file-users.js';
import { NamespaceTracker, type MicroserviceSource } from './namespace-tracker.js';
import { InvalidConfigValue, validateConfig } from './invalid-value.js';
import {
  AGENT_PROTOCOL,
  creatingGroup,
  isHalfMadeLink,
  ownedConfigName,
  tapTempNameOf,
} from './ownership.js';

export type { PluginLogger } from './drift-watch.js';

export interface LinuxPluginOptions {
  label: string;
  engine: Engine;
  logger?: PluginLogger;
  microservices?: MicroserviceSource & {
    on(event: 'microservice-up' | 'microservice-down', listener: () => void): unknown;
    /**
     * Whether every running container is known (Docker has listed them): a microservice with no pid
     * then runs nowhere, and the namespace it had, with what we made there, is gone.
     */
    listed?(): boolean;
  };
  /** Period of namespace availability checks, ms. */
  namespaceCheckMs?: number;
  /** Where the originals of others' links are kept across restarts (default: memory only). */
  originals?: OriginalsBook;
  /** Where the namespaces the agent made something in are kept across restarts (default: memory). */
  usedNamespaces?: UsedNamespaces;
  /** First delay before an IPv6 address that failed duplicate address detection is added again, ms. */
  duplicateAddressRetryMs?: number;
}

/** The namespaces used are written down this long after a change of the items' states. */
const USED_NAMESPACES_DELAY_MS = 1000;

export class LinuxPlugin {
  readonly views = new NamespaceViews();
  readonly facts: KernelFacts;
  readonly ctx: LinuxContext;
  private readonly tracker: NamespaceTracker;
  private readonly engine: Engine;
  private readonly logger: PluginLogger | undefined;
  private readonly drift: DriftWatch;
  private readonly used: UsedNamespaces;
  private fullReadDone = false;
  /** The write of namespaces named for the first time that the next commit waits for. */
  private usedRecording: Promise<void> | undefined;
  private lastRefs: NamespaceRef[] = [];
  private usedTimer: NodeJS.Timeout | undefined;
  private readonly opening = new Set<Promise<void>>();
  /**
   * The last step (opening, or handling its going) under way for each namespace id. Each waits for
   * the one before: a namespace made again under the id opens only once the old one's dependents
   * are removed and its facts (links, on-link table) withdrawn, or items were made on links the new
   * one does not have; and a namespace gone while its view was opening is closed, not left open.
   */
  private readonly namespaceSteps = new Map<string, Promise<void>>();
  /** Why the last opening of a namespace failed, by id, until one succeeds (said once per reason). */
  private readonly openFailures = new Map<string, string>();
  /** Unreferenced namespaces whose views stay open while items of ours are left there. */
  private readonly lingering = new Set<string>();
  private closed = false;

  constructor(private readonly options: LinuxPluginOptions) {
    this.engine = options.engine;
    this.used = options.usedNamespaces ?? new MemoryUsedNamespaces();
    this.logger = options.logger;
    this.facts = new KernelFacts(this.views, (link) =>
      link.kind === 'tun' && ownedConfigName(options.label, link.alias) !== undefined
        ? tapTempNameOf(link.alias)
        : undefined,
    );
    this.ctx = new LinuxContext(
      options.label,
      this.views,
      this.facts,
      options.originals ?? new MemoryOriginals(),
      new DuplicateAddresses(options.duplicateAddressRetryMs),
    );
    this.ctx.dryRun = () => this.engine.planning;
    this.ctx.duplicateAddresses.onDue = (key) => {
      if (this.engine.retryFailed([key]).length === 0) this.ctx.duplicateAddresses.forget(key);
    };
    this.drift = new DriftWatch(options.label, this.engine, this.ctx, this.views, this.logger);
    this.ctx.neighbourReleased = (nsId, by) => this.drift.retryFailedIn(nsId, 'arp', by);
    this.ctx.fileUsersOfNamed = (name) => fileUsersOfNamed(this.engine, name);
    this.tracker = new NamespaceTracker(options.microservices, options.namespaceCheckMs, (id) =>
      this.used.processStart(id),
    );
    this.register();
  }

  private register(): void {
    const { ctx } = this;
    const iface = interfaceDescriptor(ctx);
    const route = routeDescriptor(ctx);
    const arp = arpDescriptor(ctx);
    this.engine
      .register(namedNamespaceDescriptor(ctx))
      .register({
        ...iface,
        validate: validateConfig,
        claims: (_key: string, value: LinuxInterface) => interfaceClaims(value),
      })
      .register({ ...addressDescriptor(ctx), retrieveAfter: ['interface'] })
      .register(vethEndDescriptor(ctx))
      .register({
        ...route,
        validate: validateConfig,
        claims: (_key: string, value: LinuxRoute) => [routePlaceClaim(value)],
        retrieveAfter: ['interface'],
      })
      .register({
        ...arp,
        validate: validateConfig,
        claims: (_key: string, value: LinuxArpEntry) => [neighbourClaim(value)],
        retrieveAfter: ['interface'],
      });
  }

  /** Why a namespace the configuration references is not available though something is there. */
  namespaceProblem(nsId: string): string | undefined {
    return this.tracker.problem(nsId);
  }

  /** Opens the agent's own namespace and starts following namespaces, links and drift. */
  async start(): Promise<void> {
    this.finishInterruptedDeletions();
    this.facts.on('change', (changes) => this.forwardFacts(changes));
    this.drift.start();
    this.views.on('degraded', (view, reason) => {
      // E.g. a kernel without classic BPF socket filters: every notification is read and decoded.
      this.logger?.warn({ namespace: view.id, reason }, 'namespace view degraded; the agent works on');
    });
    this.tracker.on('available', (location) => {
      const opened = this.inTurn(location.id, () => this.namespaceAvailable(location));
      this.opening.add(opened);
      void opened.finally(() => this.opening.delete(opened));
    });
    this.tracker.on('gone', (id, why) => void this.inTurn(id, () => this.namespaceGone(id, why)));
    this.engine.onStatus(() => this.closeLingeringViews());
    this.engine.onStatus(() => retryReleasedNamespaces(this.engine));
    this.options.microservices?.on('microservice-up', () => this.tracker.check());
    this.options.microservices?.on('microservice-down', () => this.tracker.check());
    this.tracker.start();
    this.engine.onStatus((changes) => {
      if (changes.some((change) => change.state === 'removed') && this.hasEmptiedNamespace())
        this.scheduleUsedRecord(0);
      else this.scheduleUsedRecord();
      // A route deleted from the configuration: its gateway watch goes too (it stayed for ever).
      for (const change of changes)
        if (change.state === 'removed' && change.descriptor === 'route') this.ctx.releaseGateway(change.key);
    });
    // Our own namespace, and those where the book of originals has links to give back.
    this.setReferencedNamespaces([]);
  }

  /**
   * An earlier run killed while it deleted a named namespace (between the unmount and the removal
   * of the file) left the bare file under the name: without a namespace there, and never removed,
   * it made the name unusable for good (its items "waiting", a namespace not made again, as a file
   * without a namespace may be someone's) and kept it among the namespaces used. Finished here,
   * before the namespaces are looked at, for the named namespaces that run wrote down.
   */
  private finishInterruptedDeletions(): void {
    for (const id of this.used.ids()) {
      const ref = parseNamespaceId(id);
      if (ref?.kind !== 'named') continue;
      try {
        if (finishInterruptedDeletion(ref.name))
          this.logger?.warn(
            { namespace: id },
            'named namespace left half deleted by the last run: deletion finished',
          );
      } catch (error) {
        this.logger?.warn(
          { namespace: id, error: error instanceof Error ? error.message : String(error) },
          'cannot finish the deletion of a named namespace left half deleted',
        );
      }
    }
  }

  /**
   * Resolves when the namespaces found available so far have their views open and their facts sent:
   * a resync must see every namespace it is to correlate, or it would re-create what exists.
   */
  async namespacesReady(): Promise<void> {
    // Those opening now, and those they set off (a few rounds): not until none is opening, as a
    // namespace that fails to open is tried at every check, and two such would hold every commit.
    for (let round = 0; round < 3 && this.opening.size > 0; round++) await Promise.all([...this.opening]);
  }

  /**
   * Before a commit of these values: watch the gateways of their routes and read their
   * reachability, and wait for their namespaces to be open. A full resync then recognises routes
   * already right in the kernel instead of removing them as "waiting for their gateway", and a big
   * change is planned once, with its namespaces there, instead of trickling in as they open.
   */
  async prepare(entries: { key: string; value: unknown }[]): Promise<void> {
    const hostNames = new Map<string, string>();
    for (const { key, value } of entries) {
      if (!key.startsWith(this.ctx.prefix('interface'))) continue;
      const iface = value as LinuxInterface;
      hostNames.set(iface.name, iface.hostIfName);
    }
    const fresh = new Set<string>();
    for (const { key, value } of entries) {
      if (!key.startsWith(this.ctx.prefix('route'))) continue;
      const route = value as Partial<LinuxRoute>;
      if (!route.gateway || !route.namespace) continue;
      const nsId = namespaceId(route.namespace);
      // A route naming no interface needs its gateway reachable through any (route.ts). Its
      // interface by the host name of this commit's value, else of the one desired now (a route put
      // alone, naming an interface by its config name, moved its gateway watch to a link of that
      // name for a moment: the route was deleted and made again, ~5 ms without it).
      const host =
        route.interface === undefined
          ? ANY_INTERFACE
          : (hostNames.get(route.interface) ?? this.ctx.hostNameOf(this.engine.state, route.interface));
      this.ctx.gatewayFact(key, nsId, host, route.gateway, route.table ?? 0, () => fresh.add(nsId));
    }
    await this.namespacesReady();
    // Namespaces named for the first time (setReferencedNamespaces) are in the file before anything
    // is made there: a kill before it was written left a named namespace's bare file (between its
    // creation and the mount) or links the next start never looked for.
    const recording = this.usedRecording;
    this.usedRecording = undefined;
    await recording;
    // Reachability is read only where a gateway is watched for the first time.
    if (fresh.size > 0) await this.facts.recheckNow([...fresh]);
  }

  /**
   * The entries that dispute a claim (two interfaces one host name or one TAP, two routes one place
   * in a table, two ARP items one entry), and of those, the holders: whose kernel object is there as
   * theirs (the link of that name marked as the item's, for a TAP its mark naming that temporary
   * name; our route at that place matching the item). A full read puts the holders first, so that a
   * restart leaves each claim where it was instead of handing it over by key order. Routes cost a
   * dump of their namespace, only where a place is disputed. An entry in more than one dispute is
   * given the first of them.
   */
  async claimHolders(
    entries: readonly { key: string; value: unknown }[],
  ): Promise<{ holders: Set<string>; disputed: Map<string, string> }> {
    const holders = new Set<string>();
    const disputed = new Map<string, string>();
    const groups = new Map<string, { key: string; value: unknown }[]>();
    const hostNames = new Map<string, string>();
    for (const entry of entries) {
      const claims = this.claimsOf(entry);
      if (claims.length === 0) continue;
      if (entry.key.startsWith(this.ctx.prefix('interface'))) {
        const iface = entry.value as LinuxInterface;
        hostNames.set(iface.name, iface.hostIfName);
      }
      for (const claim of claims) {
        const group = groups.get(claim);
        if (group) group.push(entry);
        else groups.set(claim, [entry]);
      }
    }
    const disputedRoutes = new Map<string, { key: string; value: LinuxRoute }[]>();
    for (const [claim, group] of groups) {
      if (group.length < 2) continue;
      for (const entry of group) {
        if (!disputed.has(entry.key)) disputed.set(entry.key, claim);
        if (entry.key.startsWith(this.ctx.prefix('interface'))) {
          if (this.holdsInKernel(entry.value as LinuxInterface, claim)) holders.add(entry.key);
        } else if (entry.key.startsWith(this.ctx.prefix('route'))) {
          const route = entry.value as LinuxRoute;
          const nsId = namespaceId(route.namespace);
          const list = disputedRoutes.get(nsId);
          if (list) list.push({ key: entry.key, value: route });
          else disputedRoutes.set(nsId, [{ key: entry.key, value: route }]);
        }
      }
    }
    await Promise.all(
      [...disputedRoutes].map(async ([nsId, routes]) => {
        const view = this.views.get(nsId);
        if (!view) return;
        // Of our protocol: the routes of either item are the ones matching its spec.
        const ours = await view.handle.routeList({ protocol: AGENT_PROTOCOL }).catch(() => []);
        for (const { key, value } of routes) {
          const host =
            value.interface === undefined ? undefined : (hostNames.get(value.interface) ?? value.interface);
          const oif = host === undefined ? undefined : view.links.get(host)?.index;
          const spec = routeSpec(value, oif);
          if (ours.some((r) => routeMatches(r, spec))) holders.add(key);
        }
      }),
    );
    return { holders, disputed };
  }

  /**
   * Whether the kernel shows an interface item holding a claim: the link of its host name bears its
   * mark; for the claim on its TAP, that mark also names the TAP's temporary name (an item whose
   * temporary name changed while the agent was down has its old TAP attached, not the one it names).
   */
  private holdsInKernel(iface: LinuxInterface, claim: string): boolean {
    const link = this.views.get(namespaceId(iface.namespace))?.links.get(iface.hostIfName);
    if (!link || ownedConfigName(this.options.label, link.alias) !== iface.name) return false;
    if (iface.type !== 'AUTO_TAP' || claim === hostIfClaimId(iface)) return true;
    return tapTempNameOf(link.alias) === iface.tap.tempIfName;
  }

  /**
   * The exclusive claims of an item's valid value, as the engine knows them: an interface's host
   * name (and an AUTO_TAP's TAP), a route's place, an ARP entry.
   */
  claimsOf(entry: { key: string; value: unknown }): string[] {
    const value = entry.value;
    if (typeof value !== 'object' || value === null || value instanceof InvalidConfigValue) return [];
    if (entry.key.startsWith(this.ctx.prefix('interface')))
      return interfaceClaims(value as LinuxInterface).map((c) => c.id);
    if (entry.key.startsWith(this.ctx.prefix('route'))) return [routePlaceClaim(value as LinuxRoute).id];
    if (entry.key.startsWith(this.ctx.prefix('arp'))) return [neighbourClaim(value as LinuxArpEntry).id];
    return [];
  }

  /**
   * Tells which namespaces the configuration references now (so they are watched). Those where the
   * book of originals has links of others still to give back are watched too, so that a resync sees
   * them (e.g. an EXISTING item deleted while the agent was down, the last in its namespace).
   */
  setReferencedNamespaces(refs: NamespaceRef[]): void {
    this.lastRefs = refs;
    // A pid the configuration no longer names: a reference to it put again later means the
    // process that has it then (before the full read, the configuration is not known yet).
    if (this.fullReadDone) {
      const named = new Set(refs.map(namespaceId));
      for (const id of this.used.ids())
        if (id.startsWith('pid/') && !named.has(id)) {
          this.used.forgetProcessStart(id);
          // The watch too, kept while something of ours may be there: it would go on meaning the
          // process first seen (one exited, its pid another's, was never taken again).
          this.tracker.forgetProcessStart(id);
        }
    }
    // A namespace the configuration names for the first time is written down at once, before
    // anything is made there: a crash right after the first change must not lose it.
    const known = new Set(this.used.ids());
    const named = refs.map(namespaceId).filter((id) => id !== 'default' && !known.has(id));
    if (named.length > 0) {
      this.used.set([...known, ...named]);
      // The next commit waits for that write where a kill meanwhile would leave something for good:
      // a named namespace half made (its bare file) or links in a namespace file. A process's or a
      // container's namespace dies with it, and what we made there with it: not worth an fsync
      // before each container's first VETH (~7 ms of its attach).
      if (named.some((id) => id.startsWith('named/') || id.startsWith('file/')))
        this.usedRecording = this.used.recorded();
    }
    const unique = new Map<string, NamespaceRef>([['default', { kind: 'default' }]]);
    for (const ref of refs) unique.set(namespaceId(ref), ref);
    // Where an earlier run made something: a resync must see it to remove what is no longer wanted.
    for (const id of this.used.ids()) {
      if (unique.has(id)) continue;
      const ref = parseNamespaceId(id);
      if (ref && this.mayStillExist(ref)) unique.set(id, ref);
    }
    for (const entry of this.ctx.originals.all()) {
      const ref = unique.has(entry.namespaceId) ? undefined : parseNamespaceId(entry.namespaceId);
      if (ref?.kind === 'named' && !existsSync(namedNamespacePath(ref.name))) {
        // Gone (a namespace made again under its name is another one): nothing to give back.
        this.ctx.originals.forget(entry.namespaceIdentity, entry.ifindex);
      } else if (ref) unique.set(entry.namespaceId, ref);
    }
    this.tracker.setReferences([...unique.values()]);
    // The agent names the namespaces it no longer uses only after the commit that removed their
    // last items (ConfigSync): one emptied then is let go now too.
    if (this.hasEmptiedNamespace()) this.scheduleUsedRecord(0);
  }

  /**
   * The namespaces where something of ours is applied now, and those recorded before that cannot be
   * looked into now but may still exist (a stopped container's): written down for the next run.
   */
  private recordUsedNamespaces(): void {
    // Before a full read has been applied, nothing of ours is known as applied yet: what the last
    // run wrote down stays (a stop before the first read would have forgotten it all).
    if (!this.fullReadDone) return;
    const before = this.used.ids();
    const ids = this.namespacesWithAppliedItems();
    ids.delete('default');
    // Those the configuration names stay too: they were written down when first named (below).
    for (const ref of this.lastRefs) if (ref.kind !== 'default') ids.add(namespaceId(ref));
    const inUse = new Set(ids);
    for (const id of this.used.ids()) {
      if (ids.has(id) || this.views.get(id) !== undefined) continue;
      const ref = parseNamespaceId(id);
      if (ref && this.mayStillExist(ref)) ids.add(id);
    }
    this.used.set(ids);
    // The process a pid means, for those in use: one kept only as something of ours may be left
    // there has had its process forgotten (setReferencedNamespaces), and it stays so.
    for (const id of inUse) {
      const start = id.startsWith('pid/') ? this.tracker.processStartOf(id) : undefined;
      if (start !== undefined) this.used.noteProcessStart(id, start);
    }
    // Those no longer written down are no longer watched for it: their views may close.
    if (!this.closed && before.some((id) => !ids.has(id))) this.setReferencedNamespaces(this.lastRefs);
  }

  /**
   * The start's full read is over, applied or not: later resyncs no longer take stray addresses off
   * our links (see LinuxContext.startingResync).
   */
  startingReadOver(): void {
    this.ctx.startingResync = false;
  }

  /** A full read of the configuration was applied (resync included): what is ours is known. */
  fullReadApplied(): void {
    this.fullReadDone = true;
    this.startingReadOver();
    // Its resync may have removed orphans (no item, no status change) and emptied namespaces: those
    // an earlier run used are let go at once.
    this.scheduleUsedRecord(this.hasEmptiedNamespace() ? 0 : undefined);
  }

  /**
   * Writes down the namespaces used after `delayMs`, or sooner if it is already due sooner. At once
   * (0) when a namespace was emptied: writing it down lets it go (below).
   */
  private scheduleUsedRecord(delayMs = USED_NAMESPACES_DELAY_MS): void {
    if (this.closed) return;
    if (this.usedTimer) {
      if (delayMs === USED_NAMESPACES_DELAY_MS) return;
      clearTimeout(this.usedTimer);
    }
    this.usedTimer = setTimeout(() => {
      this.usedTimer = undefined;
      this.recordUsedNamespaces();
    }, delayMs);
    this.usedTimer.unref();
  }

  /**
   * Whether a namespace open here is written down as used but neither named by the configuration
   * nor holding anything of ours applied: its last item was just removed. Its view holds its file
   * open (a bind mount of it could not be taken off: "target is busy") and its sockets hold the
   * namespace; written down at once, it is no longer watched and its view closes then, not up to a
   * second later. Before the full read nothing of ours is known as applied (recordUsedNamespaces).
   */
  private hasEmptiedNamespace(): boolean {
    if (!this.fullReadDone) return false;
    const named = new Set(this.lastRefs.map(namespaceId));
    const candidates = this.used.ids().filter((id) => !named.has(id) && this.views.get(id) !== undefined);
    if (candidates.length === 0) return false;
    const applied = this.namespacesWithAppliedItems();
    return candidates.some((id) => !applied.has(id));
  }

  /** The ids of the namespaces where something of ours is applied now. */
  private namespacesWithAppliedItems(): Set<string> {
    const ids = new Set<string>();
    for (const item of this.engine.appliedItems()) {
      const id = (item.metadata as { namespaceId?: string } | undefined)?.namespaceId;
      if (id !== undefined) ids.add(id);
    }
    return ids;
  }

  /** False only when the namespace is surely gone (and with it whatever we made there). */
  private mayStillExist(ref: NamespaceRef): boolean {
    switch (ref.kind) {
      case 'named':
        return existsSync(namedNamespacePath(ref.name));
      case 'pid': {
        // The process an earlier run made something for: another one holding the pid now is not it.
        const remembered = this.used.processStart(namespaceId(ref));
        return remembered === undefined
          ? existsSync(`/proc/${ref.pid}`)
          : processStartTime(ref.pid) === remembered;
      }
      case 'file':
        // Not a namespace (any more): a bind mount taken off leaves the plain file it was on.
        return mayBeNamespaceFile(ref.path);
      case 'microservice': {
        // A stopped container's namespace went with its process (a view of ours no longer holds
        // it: this is asked only without one); a new start is another namespace.
        const source = this.options.microservices;
        return source?.listed?.() !== true || source.pidOf(ref.label) !== undefined;
      }
      default:
        return true;
    }
  }

  private forwardFacts(changes: FactChange[]): void {
    if (this.closed) return;
    const facts: EngineFact[] = changes.map((c) =>
      c.value === undefined ? { key: c.key, deleted: true } : { key: c.key, value: c.value },
    );
    void this.engine.notify(facts);
  }

  /** Runs a step for a namespace id after the one under way for it, at once when there is none. */
  private inTurn(id: string, step: () => Promise<void>): Promise<void> {
    const before = this.namespaceSteps.get(id);
    const run = (before === undefined ? step() : before.then(step)).catch((error: unknown) => {
      this.logger?.warn({ namespace: id, error: String(error) }, 'namespace change not handled');
    });
    this.namespaceSteps.set(id, run);
    void run.finally(() => {
      if (this.namespaceSteps.get(id) === run) this.namespaceSteps.delete(id);
    });
    return run;
  }

  private async namespaceAvailable(location: Parameters<NamespaceViews['open']>[0]): Promise<void> {
    // Steps still queued when the plugin closed open nothing.
    if (this.closed) return;
    try {
      const previous = this.views.get(location.id);
      const reused = previous?.identity === location.identity;
      if (previous !== undefined && !reused) {
        // A view left open (lingering) for the namespace that had the id before: views.open closes
        // it, and what was noted of that namespace (its links' facts, its on-link table) goes too.
        this.lingering.delete(location.id);
        this.facts.namespaceClosed(location.id);
        this.ctx.forgetNamespace(location.id);
      }
      const view = await this.views.open(location);
      if (this.closed) return;
      this.logger?.info({ namespace: location.id, identity: location.identity }, 'namespace available');
      // Written down before anything is made there: a crash right after must not lose which process it was.
      const started = this.tracker.processStartOf(location.id);
      if (started !== undefined) this.used.noteProcessStart(location.id, started);
      // Before anything is planned in this namespace: what an earlier run made and never marked.
      if (!reused) await this.removeHalfMadeLinks(view);
      // Their removal's events read now: the namespace's facts start from what is left.
      view.links.catchUp();
      this.facts.namespaceOpened(view);
      void this.engine.notify([{ key: namespaceFact(location.id), value: { identity: location.identity } }]);
      this.openFailures.delete(location.id);
    } catch (error) {
      const why = String(error);
      // Said once per reason: a namespace that cannot be opened is tried at every check.
      if (this.openFailures.get(location.id) !== why)
        this.logger?.warn({ namespace: location.id, error: why }, 'cannot open namespace');
      this.openFailures.set(location.id, why);
      for (const id of this.openFailures.keys())
        if (!this.tracker.isReferenced(id)) this.openFailures.delete(id);
      // Its view open (what failed came after): announced it stays, so that its going is seen.
      if (this.views.get(location.id)?.identity === location.identity) return;
      // Else looked at again at the next check, whatever failed: the file may show another
      // namespace by now (a bind mount), or none (then nothing is announced), or the open may
      // succeed then (out of file descriptors for a moment); forgotten, the items waited for ever.
      // Not at once: a file that kept changing would have it opened again and again. Only if it is
      // still what the tracker announced: a newer announcement (this step ran late) stands.
      this.tracker.forgetAnnounced(location.id, location.identity);
    }
  }

  /**
   * Links an agent of this label created and was killed before marking (alias unset, still in the
   * creating group): nothing can tell which item they were for, so they go; items that want them
   * are created again. No operation of ours can be under way in a namespace whose view just opened.
   */
  private async removeHalfMadeLinks(view: NamespaceView): Promise<void> {
    const halfMade = view.links.list().filter((link) => isHalfMadeLink(link, this.options.label));
    if (halfMade.length === 0) return;
    this.logger?.warn(
      { namespace: view.id, count: halfMade.length, links: halfMade.slice(0, 20).map((l) => l.name) },
      'removing links an earlier run created and did not finish',
    );
    if (halfMade.length > 1) {
      // All in the creating group, and nothing of ours is being created here yet: one request
      // deletes them together (one RCU grace period, ~16 ms, instead of one each).
      try {
        await view.handle.linkDelGroup(creatingGroup(this.options.label));
        return;
      } catch (error) {
        this.logger?.warn({ namespace: view.id, error: String(error) }, 'cannot remove them together');
      }
    }
    for (const link of halfMade) {
      try {
        await view.handle.linkDel(link.index);
      } catch (error) {
        this.logger?.warn({ namespace: view.id, link: link.name, error: String(error) }, 'cannot remove it');
      }
    }
  }

  private async namespaceGone(id: string, why: 'vanished' | 'unreferenced'): Promise<void> {
    if (this.closed) return;
    this.logger?.info({ namespace: id, why }, 'namespace gone');
    const gone = this.views.get(id);
    // Dependents are removed while the view is still open (their VETH ends must really go), then
    // our sockets let go of the namespace.
    await this.engine.notify([{ key: namespaceFact(id), deleted: true }]);
    // A namespace under the same id opens only after this (inTurn), but one left lingering by an
    // earlier going may have been taken up again meanwhile: not the one that went.
    const now = this.views.get(id);
    if (now !== undefined && now !== gone) return;
    if (why === 'unreferenced' && this.hasAppliedItemsIn(id)) {
      // A removal there failed and will be retried: it needs the namespace's socket, so the view
      // stays open until nothing of ours is left in it.
      this.lingering.add(id);
      return;
    }
    this.facts.namespaceClosed(id);
    this.ctx.forgetNamespace(id);
    this.views.close(id);
    if (why === 'vanished' && id.startsWith('named/'))
      this.madeAgainIfAnotherAgents(id.slice('named/'.length));
  }

  /**
   * A named namespace another agent made, gone: that agent deleted it once none of its items needed
   * it. Ours still do: made again for them (one a user deleted is not, its items wait for it).
   */
  private madeAgainIfAnotherAgents(name: string): void {
    const key = namedNamespaceItem(name);
    const madeBy = this.engine.state.metadata<NamedNamespaceMetadata>(key)?.madeBy;
    if (madeBy === undefined || this.engine.state.value(key) === undefined) return;
    this.logger?.info(
      { namespace: name, madeBy },
      'named namespace made by another agent was deleted by it; made again for our items',
    );
    this.drift.scheduleDrift({ key });
  }

  private hasAppliedItemsIn(id: string): boolean {
    return this.engine
      .appliedItems()
      .some((item) => (item.metadata as { namespaceId?: string } | undefined)?.namespaceId === id);
  }

  private closeLingeringViews(): void {
    for (const id of [...this.lingering]) {
      if (this.tracker.isReferenced(id)) this.lingering.delete(id);
      else if (!this.hasAppliedItemsIn(id)) {
        this.lingering.delete(id);
        this.facts.namespaceClosed(id);
        this.ctx.forgetNamespace(id);
        this.views.close(id);
      }
    }
  }

  close(): void {
    if (this.closed) return;
    clearTimeout(this.usedTimer);
    this.usedTimer = undefined;
    // Also without a pending change: an orphan removed (no item, no status) leaves a namespace empty.
    this.recordUsedNamespaces();
    this.closed = true;
    this.drift.close();
    this.ctx.duplicateAddresses.close();
    this.tracker.close();
    this.views.closeAll();
  }
}

/** False only when the file is surely no network namespace: not there, or another kind of file. */
function mayBeNamespaceFile(path: string): boolean {
  try {
    inspectNamespaceFile(path, path);
    return true;
  } catch (error) {
    return !(error instanceof NamespaceNotFoundError || error instanceof NotANamespaceError);
  }
}

function hostIfClaimId(value: LinuxInterface): string {
  return `host-if ${hostNameClaim(value)}`;
}

/**
 * An interface's exclusive claims: its host name in its namespace; an AUTO_TAP's also its TAP, as
 * the name the TAP has in the agent's namespace. One TAP, one item (a second one would wait for a
 * TAP "to appear" that the first holds); and no other item may have that name as its host name
 * there (an EXISTING item of that name would configure the same link; a VETH end or DUMMY made under
 * it would hold the name the TAP is given back under). A TAP given back where it is, under the name
 * it has (its host name is its temporary name, in the agent's namespace), claims that name once.
 */
function interfaceClaims(value: LinuxInterface): { id: string; field: string; what: string }[] {
  const hostName = {
    id: hostIfClaimId(value),
    field: 'host_if_name',
    what: `host interface name ${value.hostIfName} in ${describeNamespace(value.namespace)}`,
  };
  if (value.type !== 'AUTO_TAP') return [hostName];
  const tapId = hostIfClaimId({ ...value, namespace: { kind: 'default' }, hostIfName: value.tap.tempIfName });
  if (tapId === hostName.id) return [hostName];
  return [hostName, { id: tapId, field: 'tap.temp_if_name', what: `TAP ${value.tap.tempIfName}` }];
}
