/** The HTTP API's view of a running agent (src/api/service.ts), over its engine, store and views. */
import { EventEmitter } from 'node:events';
import { InvalidKeyError, InvalidValueError, parseItemText, requireConfigKey } from '../model/index.js';
import type { Engine, ItemStatus as EngineStatus } from '../scheduler/index.js';
import type { Datastore } from '../datastore/index.js';
import type { AgentEvent, AgentService, ConfigEntry, ItemStatus, PutResult } from '../api/service.js';
import type { AgentMetrics } from '../api/metrics.js';
import { dumpNamespace } from './kernel-view.js';
import type { NamespaceViews } from '../descriptors/namespace-views.js';
import type { InterfaceStatePublisher } from './status-publisher.js';
import { parseEntry } from './config-sync.js';
import { InvalidConfigValue } from '../descriptors/invalid-value.js';

export const AGENT_VERSION = '0.1.0';

function toApiStatus(status: EngineStatus): ItemStatus {
  return {
    key: status.key,
    state: status.state,
    ...(status.reason ? { reason: status.reason } : {}),
    ...(status.error ? { error: status.error.message } : {}),
    ...(status.fieldErrors?.length ? { fieldErrors: status.fieldErrors } : {}),
    ...(status.retries ? { retries: status.retries } : {}),
    ...(status.nextRetryAt ? { nextRetryAt: new Date(status.nextRetryAt).toISOString() } : {}),
    updatedAt: new Date(status.updatedAt).toISOString(),
  };
}

/** Words to use instead of "waiting for microservice L" while that cannot happen (Docker down). */
export type MicroserviceReason = (label: string) => string | undefined;

const MICROSERVICE_WAIT = /^waiting for microservice (\S+)$/;
const PEER_WAIT = /^waiting for VETH peer (\S+) to be configured$/;

export class AgentApiService implements AgentService {
  readonly version = AGENT_VERSION;
  private readonly events = new EventEmitter<{ event: [AgentEvent] }>();
  private microserviceReason: MicroserviceReason = () => undefined;
  private aboutInfo: Record<string, unknown> = {};
  private recentLogs: () => string[] = () => [];

  setAbout(info: Record<string, unknown>, logs: () => string[]): void {
    this.aboutInfo = info;
    this.recentLogs = logs;
  }

  about(): Record<string, unknown> {
    return { version: this.version, node: process.version, pid: process.pid, ...this.aboutInfo };
  }

  logs(): string[] {
    return this.recentLogs();
  }

  setMicroserviceReason(reason: MicroserviceReason): void {
    this.microserviceReason = reason;
  }

  /**
   * A pending reason as users need it: "waiting for microservice L" says why when Docker is not
   * reachable; a VETH end waiting for its peer also says what the peer waits for.
   */
  private explain(status: EngineStatus, depth = 0): string | undefined {
    const reason = status.reason;
    if (status.state !== 'pending' || !reason) return reason;
    const microservice = MICROSERVICE_WAIT.exec(reason);
    if (microservice) {
      const why = this.microserviceReason(microservice[1]!);
      if (!why || why === reason) return reason;
      return why.startsWith('waiting for') ? why : `${reason} (${why})`;
    }
    const peer = PEER_WAIT.exec(reason);
    if (peer && depth === 0) {
      const peerKey = status.key.slice(0, status.key.lastIndexOf('/') + 1) + peer[1];
      const peerStatus = this.engine.status(peerKey);
      const peerReason = peerStatus ? this.explain(peerStatus, depth + 1) : undefined;
      if (peerStatus?.state === 'pending' && peerReason && !PEER_WAIT.test(peerReason))
        return `${reason} (${peerReason})`;
    }
    return reason;
  }

  private view(status: EngineStatus): ItemStatus {
    const view = toApiStatus(status);
    const reason = this.explain(status);
    return reason ? { ...view, reason } : view;
  }

  constructor(
    private readonly engine: Engine,
    private readonly store: Datastore,
    private readonly views: NamespaceViews,
    private readonly metricsRegistry: AgentMetrics,
    private readonly interfaces: InterfaceStatePublisher,
  ) {
    this.events.setMaxListeners(0);
  }

  emit(event: AgentEvent): void {
    this.events.emit('event', event);
  }

  /** Config items only (derived items and facts are the engine's business), with kernel state. */
  status(): ItemStatus[] {
    const interfaces = this.interfaces.states();
    return this.engine
      .statusList()
      .filter((s) => s.origin === 'config')
      .map((s) => {
        const view = this.view(s);
        const state = interfaces.get(s.key);
        return state ? { ...view, interface: state } : view;
      });
  }

  statusOf(key: string): ItemStatus | undefined {
    const status = this.engine.status(key);
    if (!status) return undefined;
    const state = this.interfaces.states().get(key);
    return state ? { ...this.view(status), interface: state } : this.view(status);
  }

  async getConfig(key: string): Promise<ConfigEntry | undefined> {
    const kv = await this.store.get(key);
    if (!kv) return undefined;
    return { key, value: safeJson(kv.value), revision: kv.modRevision };
  }

  async listConfig(prefix: string): Promise<ConfigEntry[]> {
    const { items } = await this.store.list(prefix);
    return items.map((kv) => ({ key: kv.key, value: safeJson(kv.value), revision: kv.modRevision }));
  }

  async putConfig(key: string, valueText: string): Promise<PutResult> {
    try {
      requireConfigKey(key);
      parseItemText(key, valueText);
    } catch (error) {
      if (error instanceof InvalidValueError)
        return { ok: false, errors: error.errors.map((e) => ({ ...e })) };
      if (error instanceof InvalidKeyError)
        return { ok: false, errors: [{ key, field: '$key', message: error.message }] };
      throw error;
    }
    const revision = await this.store.put(key, valueText);
    return { ok: true, revision };
  }

  deleteConfig(key: string): Promise<boolean> {
    return this.store.delete(key);
  }

  async kernel(): Promise<unknown> {
    return Promise.all(this.views.all().map((v) => dumpNamespace(v.id, v.handle)));
  }

  history(): unknown[] {
    return this.engine.transactions();
  }

  async plan(change: { puts: { key: string; valueText: string }[]; deletes: string[] }): Promise<unknown> {
    const puts = [];
    const invalid = [];
    for (const p of change.puts) {
      const entry = parseEntry(p.key, p.valueText);
      if (!entry) {
        invalid.push({ key: p.key, errors: [{ field: '$key', message: 'not a config key of this agent' }] });
        continue;
      }
      if (entry.value instanceof InvalidConfigValue) invalid.push({ key: p.key, errors: entry.value.errors });
      puts.push(entry);
    }
    const dry = this.engine.plan({ puts, deletes: change.deletes });
    return { actions: dry.actions, invalid };
  }

  subscribe(listener: (event: AgentEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  metrics(): Promise<{ contentType: string; body: string }> {
    return this.metricsRegistry.exposition();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
