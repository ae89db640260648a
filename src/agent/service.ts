/** The HTTP API's view of a running agent (src/api/service.ts), over its engine, store and views. */
import { EventEmitter } from 'node:events';
import { AgentError } from '../errors.js';
import {
  configPrefix,
  configValueErrors,
  describeNamespace,
  KEY_FIELD,
  namespaceId,
  parseConfigKey,
  type LinuxInterface,
  type ModelItem,
  type NamespaceRef,
} from '../model/index.js';
import { jsonOrText } from '../util/json-or-text.js';
import type { DryRun, Engine, FactChange, ItemStatus as EngineStatus } from '../scheduler/index.js';
import type { Datastore } from '../datastore/index.js';
import type {
  AgentEvent,
  AgentService,
  ConfigEntry,
  DatastoreState,
  FieldErrorView,
  ItemState,
  ItemStatus,
  PlanRequest,
  PlanResult,
  PutResult,
  WriteConfigResult,
} from '../api/service.js';
import type { AgentMetrics } from '../api/metrics.js';
import { dumpNamespace, type NamespaceDump } from './kernel-view.js';
import type { NamespaceViews } from '../descriptors/namespace-views.js';
import type { InterfaceStatePublisher } from './status-publisher.js';
import { parseEntry, type ParsedEntry } from './config-sync.js';
import { InvalidConfigValue } from '../descriptors/invalid-value.js';
import { buildTopology, type TopologyInput } from './topology.js';
import { NAMED_NAMESPACE, describeFactChange, namespaceFact } from '../descriptors/fact-keys.js';
import { namedNamespacePath } from '../netns/index.js';
import { existsSync } from 'node:fs';
import { WOULD_FAIL, assumedFacts, foreseeFailures, summarizePlan, type ReachableNow } from './plan-view.js';
import { NamespaceInUseError } from '../descriptors/errors.js';
import { foreseeForeignHolders, kernelTablesOf, type KernelTables } from './plan-foreign.js';
import { nextTurn, planInRounds } from './plan-rounds.js';
import {
  gatewayNamespacesOf,
  microservicesOf,
  namedNamespacesOf,
  processAndFileNamespacesOf,
  namespacesLeftInPlace,
  observeNamedNamespaces,
} from './plan-observe.js';
import { asUsersSee } from './status-rollup.js';
import type { Topology } from '../web/contract/topology.js';

/** A key the API refuses to write (HTTP 400), with its field error as a refused PUT gives them. */
abstract class RefusedKeyError extends AgentError {
  readonly statusCode = 400;
  readonly errors: FieldErrorView[];
  constructor(key: string, message: string) {
    super(`${key}: ${message}`, { key, field: KEY_FIELD });
    this.errors = [{ key, field: KEY_FIELD, message }];
  }
}

/** A write of a key under another agent's label. */
export class ForeignLabelError extends RefusedKeyError {
  readonly code = 'ERR_FOREIGN_LABEL';
}

/** A DELETE of a key that is not configuration (the agent's status keys). */
export class NotConfigKeyError extends RefusedKeyError {
  readonly code = 'ERR_NOT_CONFIG_KEY';
}

export const AGENT_VERSION = '0.1.0';

function toApiStatus(status: EngineStatus): ItemStatus {
  return {
    key: status.key,
    state: status.state,
    ...(status.reason ? { reason: status.reason } : {}),
    ...(status.error ? { error: status.error.message } : {}),
    ...(status.error?.code ? { errorCode: status.error.code } : {}),
    ...(status.error?.field ? { errorField: status.error.field } : {}),
    // Each names its key, as a PUT's 400 does (the key's own problems carried it, the value's not).
    ...(status.fieldErrors?.length
      ? { fieldErrors: status.fieldErrors.map((e) => ({ key: status.key, ...e })) }
      : {}),
    ...(status.retries ? { retries: status.retries } : {}),
    ...(status.nextRetryAt ? { nextRetryAt: new Date(status.nextRetryAt).toISOString() } : {}),
    updatedAt: new Date(status.updatedAt).toISOString(),
  };
}

/** Words to use instead of "waiting for microservice L" while that cannot happen (Docker down). */
export type MicroserviceReason = (label: string) => string | undefined;

/** The running container a microservice label resolves to (Docker watcher), if any. */
export type ContainerLookup = (
  label: string,
) => { containerId: string; name: string; pid: number } | undefined;

/**
 * Assumed facts make the plan look past what the kernel reports; each round reaches one step further
 * along a chain (a new namespace, a VETH end made in it, its peer, a route through that peer). Most
 * plans stop after one or two rounds: nothing new to assume.
 */
const PLAN_ROUNDS = 6;

type ModelValue = ModelItem['value'];

const MICROSERVICE_WAIT = /^waiting for microservice (\S+)$/;
const PEER_WAIT = /^waiting for VETH peer (\S+) to be configured$/;

/** What makes a VETH's peer item unable to be its other end, if anything (undefined: none yet). */
function peerMismatch(key: string, peer: LinuxInterface | undefined): string | undefined {
  if (!peer) return undefined;
  const name = key.slice(key.lastIndexOf('/') + 1);
  if (peer.type !== 'VETH') return `${peer.name} is ${articled(peer.type)} interface, not a VETH`;
  if (peer.veth.peerIfName !== name)
    return `${peer.name} names ${peer.veth.peerIfName} as its peer, not ${name}`;
  return undefined;
}

function articled(type: string): string {
  return /^[AEIOU]/.test(type) ? `an ${type}` : `a ${type}`;
}

export class AgentApiService implements AgentService {
  private reachableNow: ReachableNow = () => undefined;
  private loadReachability: (nsIds: string[]) => Promise<() => void> = async () => () => undefined;
  /**
   * Counts by state, kept until a status changes: pollers ask for them every few milliseconds
   * (waiting for "everything configured"), and counting thousands of items each time took ~5 ms
   * of the event loop per request, a fifth of a W1 restart's resync when polled every 20 ms.
   */
  private counts: Partial<Record<ItemState, number>> | undefined;

  readonly version = AGENT_VERSION;
  private readonly events = new EventEmitter<{ event: [AgentEvent] }>();
  private microserviceReason: MicroserviceReason = () => undefined;
  private namespaceProblem: (nsId: string) => string | undefined = () => undefined;
  private containerOf: ContainerLookup = () => undefined;
  private aboutInfo: Record<string, unknown> = {};
  private recentLogs: () => string[] = () => [];

  private datastoreState: DatastoreState = { state: 'connecting', since: new Date().toISOString() };
  private takenInRevision: number | undefined;

  setAbout(info: Record<string, unknown>, logs: () => string[]): void {
    this.aboutInfo = info;
    this.recentLogs = logs;
  }

  about(): Record<string, unknown> {
    return {
      version: this.version,
      node: process.version,
      pid: process.pid,
      ...this.aboutInfo,
      datastore: this.datastoreState,
    };
  }

  /**
   * A new state of the configuration watch: 'in-sync' while the agent follows its datastore;
   * 'lost' or 'connecting' while it cannot reach it (the kernel is kept as it is, changes are not
   * seen). `since` and the last error span the whole time out of sync (lost -> connecting -> ...).
   */
  noteDatastoreState(state: string, error?: string): void {
    const previous = this.datastoreState;
    const inSync = state === 'in-sync';
    const lastError = error ?? (inSync ? undefined : previous.error);
    this.datastoreState = {
      state,
      since: inSync === (previous.state === 'in-sync') ? previous.since : new Date().toISOString(),
      ...(lastError ? { error: lastError } : {}),
    };
  }

  private configurationReadAt: string | undefined;
  private statesAreKnown = false;

  /** Changes up to `revision` were handed to a transaction that has ended. */
  /**
   * The store's revision the agent has taken in. Only raised by changes (they may be taken in out of
   * order); a full read sets it: the store may have been made anew meanwhile (etcd's data wiped),
   * its revisions starting again, and a stale higher one would tell `--wait` a new put was taken in.
   */
  noteTakenIn(revision: number, fullRead = false): void {
    if (fullRead || revision > (this.takenInRevision ?? 0)) this.takenInRevision = revision;
  }

  datastore(): DatastoreState {
    return {
      ...this.datastoreState,
      ...(this.takenInRevision !== undefined ? { revision: this.takenInRevision } : {}),
      ...(this.configurationReadAt !== undefined ? { configurationReadAt: this.configurationReadAt } : {}),
    };
  }

  /** The whole configuration was read (applied or not): from now on its items are known. */
  noteConfigurationRead(): void {
    this.configurationReadAt ??= new Date().toISOString();
  }

  /** The first full read's transaction ended (or failed): the engine's statuses are the items'. */
  noteStatesKnown(): void {
    this.statesAreKnown = true;
  }

  statesKnown(): boolean {
    return this.statesAreKnown;
  }

  logs(): string[] {
    return this.recentLogs();
  }

  /**
   * How the plan learns that a gateway is reachable now (the plugin's kernel facts), and how it has
   * them read the namespaces it asks about.
   */
  setReachability(
    reachableNow: ReachableNow,
    loadTables: (nsIds: string[]) => Promise<() => void> = async () => () => undefined,
  ): void {
    this.reachableNow = reachableNow;
    this.loadReachability = loadTables;
  }

  setMicroserviceReason(reason: MicroserviceReason): void {
    this.microserviceReason = reason;
  }

  /** Why a referenced namespace is not available though something is there (the plugin's tracker). */
  setNamespaceProblem(problem: (nsId: string) => string | undefined): void {
    this.namespaceProblem = problem;
  }

  setContainerLookup(lookup: ContainerLookup): void {
    this.containerOf = lookup;
  }

  /**
   * A pending reason as users need it: "waiting for microservice L" says why when Docker is not
   * reachable; a VETH end waiting for its peer also says what the peer waits for.
   */
  private explain(status: EngineStatus, depth = 0): string | undefined {
    const reason = status.reason;
    if (status.state !== 'pending' || !reason) return reason;
    return this.explainReason(status.key, reason, depth);
  }

  private explainReason(key: string, reason: string, depth = 0): string {
    const value = this.engine.state.value<{ namespace?: NamespaceRef }>(key);
    if (value?.namespace && reason === `waiting for ${describeNamespace(value.namespace)}`) {
      const problem = this.namespaceProblem(namespaceId(value.namespace));
      // Named once: the problem's text starts with the namespace the reason names already.
      const what = `${describeNamespace(value.namespace)}: `;
      if (problem) return `${reason} (${problem.startsWith(what) ? problem.slice(what.length) : problem})`;
      const gone = this.deletedOutside(value.namespace);
      if (gone) return `${reason} (${gone})`;
    }
    const microservice = MICROSERVICE_WAIT.exec(reason);
    if (microservice) {
      const why = this.microserviceReason(microservice[1]!);
      if (!why || why === reason) return reason;
      return why.startsWith('waiting for') ? why : `${reason} (${why})`;
    }
    const peer = PEER_WAIT.exec(reason);
    if (peer && depth === 0) {
      const peerKey = key.slice(0, key.lastIndexOf('/') + 1) + peer[1];
      const peerValue = this.engine.state.value<LinuxInterface>(peerKey);
      const peerStatus = this.engine.status(peerKey);
      // A peer never put (or deleted since) reads apart from one still on its way.
      if (peerStatus?.state === 'invalid') return `${reason} (${peer[1]} has an invalid value)`;
      if (!peerValue) return `${reason} (${peer[1]} is not in the configuration)`;
      const mismatch = peerMismatch(key, peerValue);
      if (mismatch) return `${reason} (${mismatch})`;
      const peerReason = peerStatus ? this.explain(peerStatus, depth + 1) : undefined;
      if (peerStatus?.state === 'pending' && peerReason && !PEER_WAIT.test(peerReason))
        return `${reason} (${peerReason})`;
    }
    return reason;
  }

  /** The status users see of a config item (addresses folded in), if the engine has one. */
  engineStatusOf(key: string): EngineStatus | undefined {
    const status = this.engine.status(key);
    return status && asUsersSee(status, this.engine);
  }

  private view(engineStatus: EngineStatus): ItemStatus {
    const status = asUsersSee(engineStatus, this.engine);
    const view = toApiStatus(status);
    const gone = this.namedNamespaceGone(status);
    if (gone) {
      const since = this.views.closedSince(`named/${status.key.slice(NAMED_NAMESPACE.length)}`);
      const updatedAt = since && since > status.updatedAt ? new Date(since).toISOString() : view.updatedAt;
      return { ...view, state: 'pending', reason: gone, updatedAt };
    }
    const reason = this.explain(status);
    return reason ? { ...view, reason } : view;
  }

  /**
   * A named namespace the agent made, deleted by someone else: not made again (its items wait for
   * one of that name, as for any named namespace), so not "configured" either.
   */
  private namedNamespaceGone(status: EngineStatus): string | undefined {
    if (status.state !== 'configured' || !status.key.startsWith(NAMED_NAMESPACE)) return undefined;
    const name = status.key.slice(NAMED_NAMESPACE.length);
    if (this.engine.state.fact(namespaceFact(`named/${name}`)) !== undefined) return undefined;
    // Just made, and not announced yet: there all the same.
    if (existsSync(namedNamespacePath(name))) return undefined;
    return `deleted outside the agent: its items wait for a namespace of that name (ip netns add ${name})`;
  }

  /**
   * Of an item's named namespace deleted by someone else: why its wait does not end by itself (the
   * agent does not make it again behind the user's back), and what ends it.
   */
  private deletedOutside(ref: NamespaceRef): string | undefined {
    if (ref.kind !== 'named') return undefined;
    const status = this.engine.status(`${NAMED_NAMESPACE}${ref.name}`);
    if (!status || this.namedNamespaceGone(status) === undefined) return undefined;
    return `deleted outside the agent, not made again by it: ip netns add ${ref.name}, or a restart of the agent, brings it back`;
  }

  constructor(
    private readonly engine: Engine,
    private readonly store: Datastore,
    private readonly views: NamespaceViews,
    private readonly metricsRegistry: AgentMetrics,
    private readonly interfaces: InterfaceStatePublisher,
    readonly label: string,
  ) {
    this.events.setMaxListeners(0);
    engine.onStatus((changes) => {
      if (changes.length > 0) this.counts = undefined;
    });
  }

  emit(event: AgentEvent): void {
    this.events.emit('event', event);
  }

  /** Keys under the configuration prefix that cannot be items, with why (agent.ts). */
  private ignoredKeys: () => ReadonlyMap<string, { problem: string; since: string }> = () => new Map();

  setIgnoredKeys(source: () => ReadonlyMap<string, { problem: string; since: string }>): void {
    this.ignoredKeys = source;
  }

  private ignoredRow(key: string, ignored: { problem: string; since: string }): ItemStatus {
    return {
      key,
      state: 'invalid',
      fieldErrors: [{ key, field: KEY_FIELD, message: `not a configuration key: ${ignored.problem}` }],
      updatedAt: ignored.since,
    };
  }

  /** Config items only (derived items and facts are the engine's business), with kernel state. */
  status(): ItemStatus[] {
    const interfaces = this.interfaces.states();
    const rows = this.engine
      .statusList()
      .filter((s) => s.origin === 'config')
      .map((s) => {
        const view = this.view(s);
        const state = interfaces.get(s.key);
        return state ? { ...view, interface: state } : view;
      });
    for (const [key, ignored] of this.ignoredKeys()) rows.push(this.ignoredRow(key, ignored));
    return rows;
  }

  statusCounts(): Partial<Record<ItemState, number>> {
    this.counts ??= this.countStates();
    const ignored = this.ignoredKeys().size;
    if (ignored === 0) return { ...this.counts };
    return { ...this.counts, invalid: (this.counts.invalid ?? 0) + ignored };
  }

  private countStates(): Partial<Record<ItemState, number>> {
    const counts: Partial<Record<ItemState, number>> = {};
    for (const s of this.engine.statusList()) {
      if (s.origin !== 'config') continue;
      const state = asUsersSee(s, this.engine).state;
      counts[state] = (counts[state] ?? 0) + 1;
    }
    return counts;
  }

  statusOf(key: string): ItemStatus | undefined {
    const status = this.engine.status(key);
    if (!status) {
      const ignored = this.ignoredKeys().get(key);
      return ignored && this.ignoredRow(key, ignored);
    }
    const state = this.interfaces.stateOfKey(key);
    return state ? { ...this.view(status), interface: state } : this.view(status);
  }

  async getConfig(key: string): Promise<ConfigEntry | undefined> {
    const kv = await this.store.get(key);
    if (!kv) return undefined;
    return { key, value: jsonOrText(kv.value), revision: kv.modRevision };
  }

  async listConfig(prefix: string): Promise<ConfigEntry[]> {
    const { items } = await this.store.list(prefix);
    return items.map((kv) => ({ key: kv.key, value: jsonOrText(kv.value), revision: kv.modRevision }));
  }

  async putConfig(key: string, valueText: string): Promise<PutResult> {
    const errors = [...this.labelErrors(key), ...configValueErrors(key, valueText)];
    if (errors.length) return { ok: false, errors };
    const revision = await this.store.put(key, valueText);
    return { ok: true, revision };
  }

  async writeConfig(change: {
    puts: readonly { key: string; valueText: string }[];
    deletes: readonly string[];
  }): Promise<WriteConfigResult> {
    const { puts, deletes } = change;
    const errors = [
      ...puts.flatMap(({ key, valueText }) =>
        [...this.labelErrors(key), ...configValueErrors(key, valueText)].map((e) => ({ ...e, key })),
      ),
      ...deletes.flatMap((key) => this.deletionErrors(key)),
    ];
    if (errors.length) return { ok: false, errors };
    const { revision, deleted } = await this.store.write({
      puts: puts.map((e) => ({ key: e.key, value: e.valueText })),
      deletes,
    });
    return { ok: true, stored: puts.length, deleted, revision };
  }

  /** Why a key may not be deleted through the API (as DELETE refuses it), as field errors. */
  private deletionErrors(key: string): FieldErrorView[] {
    const wrongLabel = this.labelErrors(key);
    if (wrongLabel.length > 0) return wrongLabel;
    if (key.startsWith(configPrefix(this.label))) return [];
    return [
      { key, field: KEY_FIELD, message: `not a configuration key: expected ${configPrefix(this.label)}...` },
    ];
  }

  deleteConfig(key: string): Promise<boolean> {
    const [wrongLabel] = this.labelErrors(key);
    if (wrongLabel) return Promise.reject(new ForeignLabelError(key, wrongLabel.message));
    // Only configuration is deleted through the API, as only configuration is put (the agent's
    // status keys are its own, written again at its next publication). Anything under the
    // configuration prefix goes, also a key written there by hand that is no item's.
    if (!key.startsWith(configPrefix(this.label)))
      return Promise.reject(
        new NotConfigKeyError(key, `not a configuration key: expected ${configPrefix(this.label)}...`),
      );
    return this.store.delete(key);
  }

  /**
   * A key of another agent's label is not this agent's to write: that agent would apply it without
   * the checks only it can make (claims of its items). Read-only access stays open.
   */
  private labelErrors(key: string): FieldErrorView[] {
    const parsed = parseConfigKey(key);
    if (!parsed || parsed.label === this.label) return [];
    return [
      {
        key,
        field: KEY_FIELD,
        message: `belongs to agent label ${parsed.label}; this agent manages ${this.label} (use that agent's API, or netnsctl --label ${parsed.label} with --store FILE or --etcd URL)`,
      },
    ];
  }

  /**
   * One namespace at a time, each read when the one before has been taken (GET /v1/kernel streams
   * them): the dumps of every namespace held at once, as a W1 host's 52, grew the agent by tens of
   * MB. A namespace gone meanwhile (before or while it is read) is left out, as an answer asked a
   * moment later would.
   */
  async *kernel(): AsyncGenerator<NamespaceDump> {
    const configured = new Map<string, Map<number, string>>();
    for (const state of this.interfaces.states().values()) {
      let byIndex = configured.get(state.namespace);
      if (!byIndex) configured.set(state.namespace, (byIndex = new Map()));
      byIndex.set(state.ifindex, state.name);
    }
    for (const view of this.views.all()) {
      if (this.views.get(view.id) !== view) continue;
      let dump: NamespaceDump;
      try {
        dump = await dumpNamespace(view.id, view.handle, this.label, configured.get(view.id));
      } catch (error) {
        // Closed while it was read (its handle's requests fail): gone meanwhile as well. Thrown
        // once the text has begun, it cut the whole answer off (the namespaces are read one after
        // another, for longer than at once before).
        if (this.views.get(view.id) !== view) continue;
        throw error;
      }
      yield dump;
    }
  }

  history(): unknown[] {
    // The engine says why by fact keys; users read words (a link that came up anew).
    return this.engine.transactions().map((t) => ({
      ...t,
      operations: t.operations.map((o) => {
        const why = describeFactChange(o.why);
        return why === o.why ? o : { ...o, why };
      }),
    }));
  }

  async plan(change: PlanRequest): Promise<PlanResult> {
    const puts: ParsedEntry[] = [];
    const invalid = [];
    for (const p of change.puts) {
      const wrongLabel = this.labelErrors(p.key);
      if (wrongLabel.length) {
        invalid.push({ key: p.key, errors: wrongLabel });
        continue;
      }
      const entry = parseEntry(p.key, p.valueText);
      if (!entry) {
        invalid.push({
          key: p.key,
          errors: [{ field: KEY_FIELD, message: 'not a config key of this agent' }],
        });
        continue;
      }
      if (entry.value instanceof InvalidConfigValue) invalid.push({ key: p.key, errors: entry.value.errors });
      puts.push(entry);
    }
    // A deletion the API itself would refuse (another label's key, not a configuration key) is
    // listed as such, not planned as nothing to do.
    const deletes: string[] = [];
    for (const key of change.deletes) {
      const wrongLabel = this.labelErrors(key);
      if (wrongLabel.length) invalid.push({ key, errors: wrongLabel });
      else if (!key.startsWith(configPrefix(this.label)))
        invalid.push({
          key,
          errors: [
            { field: KEY_FIELD, message: `not a configuration key: expected ${configPrefix(this.label)}...` },
          ],
        });
      else deletes.push(key);
    }
    change = { ...change, deletes };
    const planned = this.plannedValues(puts, change.deletes, change.replace === true);
    const valueOf = (key: string): unknown => planned.get(key);
    const observed = await observeNamedNamespaces(
      namedNamespacesOf(planned.values()),
      (nsId) => this.views.get(nsId) !== undefined,
      [...microservicesOf(planned.values())].map((label) => [label, this.containerOf(label)?.pid]),
      // Not those the agent found to be no more (a pid reused by another process): its verdict stands.
      processAndFileNamespacesOf(planned.values()).filter(
        (place) => this.namespaceProblem(place.nsId) === undefined,
      ),
    );
    // Gateways of routes no route watches yet: their namespaces' on-link tables, held while planning.
    const releaseTables = await this.loadReachability(gatewayNamespacesOf(puts.map((p) => p.value)));
    // Plan, then plan again assuming what the kernel would report once the first plan is done.
    let facts: FactChange[] = observed.facts;
    const observedKeys = new Set(observed.facts.map((f) => f.key));
    // By key, the last of a round winning: a later round may see further (a link a first round
    // saw only deleted, its VETH peer's namespace not made yet, is made again in the next).
    const assumed = new Map<string, FactChange>();
    let dry: DryRun;
    try {
      // The loop turns before each round (plan-rounds.ts): W1's three rounds held it ~1-1.5 s.
      dry = await planInRounds(
        PLAN_ROUNDS,
        () => this.engine.plan({ puts, deletes: change.deletes, replace: change.replace === true, facts }),
        (last) => {
          let changed = false;
          for (const f of assumedFacts(last, this.label, valueOf, {
            reachableNow: this.reachableNow,
            plannedKeys: planned.keys(),
            factHolds: (key) => this.engine.state.fact(key) !== undefined,
            valueNow: (key) => this.engine.state.value(key),
          })) {
            if (observedKeys.has(f.key)) continue;
            const before = assumed.get(f.key);
            if (before !== undefined && 'deleted' in before === 'deleted' in f) continue;
            assumed.delete(f.key); // re-inserted last: the dry run applies the facts in order
            assumed.set(f.key, f);
            changed = true;
          }
          if (changed) facts = [...observed.facts, ...assumed.values()];
          return changed;
        },
      );
    } finally {
      releaseTables();
    }
    // The agent deletes only a named namespace it made (deleteNamedNamespace): others stay; and
    // of its own, not one that holds another program's links (that deletion fails, and is retried).
    const removedNamespaces = dry.plan.deletes
      .filter((op) => !op.recreate && op.key.startsWith(NAMED_NAMESPACE))
      .map((op) => op.key.slice(NAMED_NAMESPACE.length));
    const { kept, held } = await namespacesLeftInPlace(removedNamespaces, this.label);
    // And before the summary (W1: ~0.1-0.2 s more).
    await nextTurn();
    const tables = new Map<string, KernelTables>();
    const entries = await foreseeForeignHolders(
      foreseeFailures(
        summarizePlan(
          dry,
          this.label,
          (key, reason) => this.explainReason(key, reason),
          observed.existing,
          kept,
          (key) => this.engine.state.metadata<{ theirs?: boolean }>(key)?.theirs === true,
        ),
        this.label,
        valueOf,
        // Namespaces the agent has not opened yet: as the plan read them.
        (nsId, hostIfName) =>
          this.views.get(nsId)?.links.get(hostIfName) ?? observed.links.get(nsId)?.get(hostIfName),
        planned.keys(),
        (key) => this.engine.status(key)?.state,
      ),
      this.label,
      valueOf,
      (nsId) => {
        const view = this.views.get(nsId);
        if (!view) return undefined;
        let read = tables.get(nsId);
        if (!read) tables.set(nsId, (read = kernelTablesOf(view)));
        return read;
      },
    );
    for (const entry of entries) {
      const name = entry.key.startsWith(NAMED_NAMESPACE) ? entry.key.slice(NAMED_NAMESPACE.length) : '';
      const links = entry.change === 'remove' ? held.get(name) : undefined;
      if (links) entry.why = `${entry.why}${WOULD_FAIL}${new NamespaceInUseError(name, links).message}`;
    }
    // A delete of a key the agent never had: nothing to remove, and nothing was removed.
    const neverKnown = new Set(change.deletes.filter((key) => this.engine.status(key) === undefined));
    if (neverKnown.size > 0)
      for (const entry of entries)
        if (neverKnown.has(entry.key) && entry.change === 'remove')
          entry.why = 'not configured: nothing to remove';
    return {
      // A named namespace that exists is used as it is, one the agent did not make is left in
      // place (the summary says nothing of them either).
      actions: dry.actions.filter(
        (a) =>
          !(
            a.key.startsWith(NAMED_NAMESPACE) &&
            ((a.action === 'create' && observed.existing.has(a.key.slice(NAMED_NAMESPACE.length))) ||
              (a.action === 'delete' && kept.has(a.key.slice(NAMED_NAMESPACE.length))))
          ),
      ),
      invalid,
      summary: {
        entries,
        ...(change.topology ? { topology: this.plannedTopology(dry, planned, puts) } : {}),
      },
      ...(facts.length > observed.facts.length
        ? {
            assumed:
              'the kernel reports what the plan does: named namespaces exist, interfaces set up are up, ' +
              'their addresses make gateways on the same network reachable, and interfaces it removes or ' +
              'sets down are no longer up, nor gateways reachable that only an address or a gateway-less route it removes reached',
          }
        : {}),
    };
  }

  /** Valid desired values once the change is applied (a refused value keeps the previous one). */
  private plannedValues(puts: ParsedEntry[], deletes: string[], replace: boolean): Map<string, ModelValue> {
    const values = new Map<string, ModelValue>();
    if (!replace) {
      for (const status of this.engine.statusList()) {
        if (status.origin !== 'config') continue;
        const value = this.engine.state.value<ModelValue>(status.key);
        if (value !== undefined) values.set(status.key, value);
      }
    }
    for (const put of puts) {
      if (!(put.value instanceof InvalidConfigValue)) values.set(put.key, put.value);
      else if (replace) {
        const previous = this.engine.state.value<ModelValue>(put.key);
        if (previous !== undefined) values.set(put.key, previous);
      }
    }
    for (const key of deletes) values.delete(key);
    return values;
  }

  private plannedTopology(dry: DryRun, planned: Map<string, ModelValue>, puts: ParsedEntry[]): Topology {
    const keys = new Set(planned.keys());
    for (const put of puts) keys.add(put.key);
    const items: TopologyInput[] = [];
    for (const key of keys) {
      const outcome = dry.plan.outcomes.get(key);
      let status: TopologyInput['status'];
      if (outcome?.state === 'pending')
        status = { state: 'pending', reason: this.explainReason(key, outcome.reason) };
      else if (outcome?.state === 'invalid') status = { state: 'invalid', fieldErrors: outcome.fieldErrors };
      else if (outcome) status = { state: outcome.state };
      else status = this.currentState(key) ?? { state: 'configured' };
      items.push({ key, status, value: planned.get(key) });
    }
    // What the plan deletes or creates would not be the link the kernel shows now.
    const touched = new Set([...dry.plan.deletes, ...dry.plan.applies].map((op) => op.key));
    return this.topologyOf(items, (key) => !touched.has(key));
  }

  private currentState(key: string): TopologyInput['status'] | undefined {
    const status = this.engineStatusOf(key);
    if (!status) return undefined;
    const view: TopologyInput['status'] = { state: status.state };
    if (status.state === 'pending') view.reason = this.explain(status) ?? '';
    if (status.error) view.error = status.error.message;
    if (status.fieldErrors?.length) view.fieldErrors = status.fieldErrors;
    return view;
  }

  /** The configured items by namespace, with their states: what the topology page draws. */
  topology(): Topology {
    const items: TopologyInput[] = [];
    for (const status of this.engine.statusList()) {
      if (status.origin !== 'config' || status.state === 'removed') continue;
      items.push({
        key: status.key,
        status: this.currentState(status.key) ?? { state: status.state },
        value: this.engine.state.value<ModelValue>(status.key),
      });
    }
    return this.topologyOf(items);
  }

  private topologyOf(items: TopologyInput[], keepKernel: (key: string) => boolean = () => true): Topology {
    const kernel = new Map([...this.interfaces.states()].filter(([key]) => keepKernel(key)));
    return buildTopology({
      label: this.label,
      items,
      kernel,
      available: new Set(this.views.all().map((v) => v.id)),
      container: (label) => {
        const found = this.containerOf(label);
        return found ? { id: found.containerId, name: found.name, pid: found.pid } : undefined;
      },
    });
  }

  subscribe(listener: (event: AgentEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  metrics(): Promise<{ contentType: string; body: string }> {
    return this.metricsRegistry.exposition();
  }
}
