/**
 * Fixtures for the kernel tier of engine + Linux descriptors: an engine with the LinuxPlugin under a
 * unique label, items written as the users write them (proto3 JSON through the model), waits on
 * item states, and `ip -json` readers. Every test owns uniquely named namespaces and links and
 * removes them in `finally`, also when it fails.
 */
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import {
  Engine,
  type ItemState,
  type ItemStatus,
  type TransactionRecord,
} from '../../../src/scheduler/index.js';
import { LinuxPlugin } from '../../../src/descriptors/linux-plugin.js';
import type { UsedNamespaces } from '../../../src/descriptors/used-namespaces.js';
import type { OriginalsBook } from '../../../src/descriptors/originals.js';
import { InvalidConfigValue } from '../../../src/descriptors/invalid-value.js';
import {
  InvalidValueError,
  configKey,
  parseItem,
  type ItemKind,
  type ModelItem,
  type NamespaceRef,
} from '../../../src/model/index.js';
import { deleteNamespace, eventually, ipTry } from '../../helpers/kernel.js';
import { withAddresses } from '../../../src/agent/status-rollup.js';

export const EXAMPLES_DIR = fileURLToPath(new URL('../../../../test/data/examples', import.meta.url));

export function hex(bytes = 3): string {
  return randomBytes(bytes).toString('hex');
}

/** A seed example as parsed JSON, to edit (e.g. its namespace names) before use. */
export function example(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(`${EXAMPLES_DIR}/${name}.json`, 'utf8')) as Record<string, unknown>;
}

export interface IpLinkJson {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  operstate: string;
  address?: string;
  ifalias?: string;
  link_type?: string;
  linkinfo?: { info_kind?: string };
}

export interface IpAddrJson extends IpLinkJson {
  addr_info: { family: string; local: string; prefixlen: number }[];
}

export interface IpRouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  metric?: number;
  scope?: string;
  table?: string;
  prefsrc?: string;
}

export interface IpNeighJson {
  dst: string;
  dev: string;
  lladdr?: string;
  state?: string[];
  protocol?: string;
}

function json<T>(ns: string | null, args: string[]): T | undefined {
  const result = ipTry(ns, ['-json', ...args]);
  if (result.status !== 0) return undefined;
  const out = result.stdout.trim();
  return (out === '' ? [] : JSON.parse(out)) as T;
}

/** `ip -json -d link show dev NAME` in NS, or undefined when there is no such link (or namespace). */
export function link(ns: string | null, name: string): IpLinkJson | undefined {
  return json<IpLinkJson[]>(ns, ['-d', 'link', 'show', 'dev', name])?.[0];
}

export function linkOrFail(ns: string | null, name: string): IpLinkJson {
  const found = link(ns, name);
  assert.ok(found, `ip sees ${name} in ${ns ?? 'the default namespace'}`);
  return found;
}

export function isUp(l: IpLinkJson): boolean {
  return l.flags.includes('UP');
}

/** Addresses of a link as "a/len", v4 and v6 (link-local left out). */
export function addresses(ns: string | null, name: string): string[] {
  const [entry] = json<IpAddrJson[]>(ns, ['addr', 'show', 'dev', name]) ?? [];
  return (entry?.addr_info ?? [])
    .filter((a) => !a.local.startsWith('fe80:'))
    .map((a) => `${a.local}/${a.prefixlen}`)
    .sort();
}

export function routes(ns: string | null, family: 4 | 6 = 4, table = 'main'): IpRouteJson[] {
  return json<IpRouteJson[]>(ns, [`-${family}`, 'route', 'show', 'table', table]) ?? [];
}

export function neighbours(ns: string | null, dev: string): IpNeighJson[] {
  return json<IpNeighJson[]>(ns, ['neigh', 'show', 'dev', dev, 'nud', 'all']) ?? [];
}

export interface TestAgentOptions {
  label?: string;
  namespaceCheckMs?: number;
  /** The book of originals (shared by a test's agents to stand for a restart). */
  originals?: OriginalsBook;
  /** The namespaces used (shared the same way). */
  usedNamespaces?: UsedNamespaces;
  /** First delay before an address that failed duplicate address detection is added again. */
  duplicateAddressRetryMs?: number;
}

export interface LogLine {
  level: 'info' | 'warn';
  fields: object;
  message: string | undefined;
}

/**
 * The engine and the Linux plugin under a unique label, as the agent wires them (without a
 * datastore): `put` parses users' JSON through the model, tells the plugin which namespaces the
 * desired items reference, and commits.
 */
export class TestAgent {
  readonly engine: Engine;
  readonly plugin: LinuxPlugin;
  readonly label: string;
  /** What the plugin logged. */
  readonly logs: LogLine[] = [];
  /** Desired values by key, for the namespace references. */
  private readonly desired = new Map<string, ModelItem['value'] | InvalidConfigValue>();
  private closed = false;

  constructor(options: TestAgentOptions = {}) {
    this.label = options.label ?? `kt${hex(4)}`;
    this.engine = new Engine();
    const logger = {
      info: (fields: object, message?: string): void =>
        void this.logs.push({ level: 'info', fields, message }),
      warn: (fields: object, message?: string): void =>
        void this.logs.push({ level: 'warn', fields, message }),
    };
    this.plugin = new LinuxPlugin({
      label: this.label,
      engine: this.engine,
      logger,
      namespaceCheckMs: options.namespaceCheckMs ?? 50,
      ...(options.originals ? { originals: options.originals } : {}),
      ...(options.usedNamespaces ? { usedNamespaces: options.usedNamespaces } : {}),
      ...(options.duplicateAddressRetryMs !== undefined
        ? { duplicateAddressRetryMs: options.duplicateAddressRetryMs }
        : {}),
    });
  }

  static async start(options: TestAgentOptions = {}): Promise<TestAgent> {
    const agent = new TestAgent(options);
    await agent.plugin.start();
    await agent.plugin.namespacesReady();
    return agent;
  }

  key(kind: ItemKind, name: string): string {
    return configKey(this.label, kind, name);
  }

  /** Parses a value (proto3 JSON as users write it) for this agent's key; invalid -> InvalidConfigValue. */
  parse(
    kind: ItemKind,
    name: string,
    value: unknown,
  ): { key: string; value: ModelItem['value'] | InvalidConfigValue } {
    const key = this.key(kind, name);
    try {
      return { key, value: parseItem(key, value).value };
    } catch (error) {
      if (error instanceof InvalidValueError) {
        return {
          key,
          value: new InvalidConfigValue(error.errors.map((e) => ({ field: e.field, message: e.message }))),
        };
      }
      throw error;
    }
  }

  private references(): NamespaceRef[] {
    const refs: NamespaceRef[] = [];
    for (const value of this.desired.values())
      if (!(value instanceof InvalidConfigValue)) refs.push(value.namespace);
    return refs;
  }

  /** Puts items given as [kind, name, json] and commits them in one transaction. */
  async put(...items: [ItemKind, string, unknown][]): Promise<TransactionRecord> {
    const puts = items.map(([kind, name, value]) => this.parse(kind, name, value));
    for (const p of puts) this.desired.set(p.key, p.value);
    this.plugin.setReferencedNamespaces(this.references());
    return this.engine.commit({ puts });
  }

  /** As `put`, the way the agent takes in a change from its store: the plugin prepares it first. */
  async putPrepared(...items: [ItemKind, string, unknown][]): Promise<TransactionRecord> {
    const puts = items.map(([kind, name, value]) => this.parse(kind, name, value));
    for (const p of puts) this.desired.set(p.key, p.value);
    this.plugin.setReferencedNamespaces(this.references());
    await this.plugin.prepare(puts.filter((p) => !(p.value instanceof InvalidConfigValue)));
    return this.engine.commit({ puts });
  }

  async del(...items: [ItemKind, string][]): Promise<TransactionRecord> {
    return this.deleteItems(items, 'before');
  }

  /**
   * As `del`, in the agent's order (ConfigSync): the namespaces the configuration names are handed
   * on after the commit, not before it.
   */
  async delAsTheAgent(...items: [ItemKind, string][]): Promise<TransactionRecord> {
    return this.deleteItems(items, 'after');
  }

  private async deleteItems(
    items: [ItemKind, string][],
    namespacesNamed: 'before' | 'after',
  ): Promise<TransactionRecord> {
    const deletes = items.map(([kind, name]) => this.key(kind, name));
    for (const key of deletes) this.desired.delete(key);
    if (namespacesNamed === 'before') this.plugin.setReferencedNamespaces(this.references());
    try {
      return await this.engine.commit({ deletes });
    } finally {
      if (namespacesNamed === 'after') this.plugin.setReferencedNamespaces(this.references());
    }
  }

  /** The whole desired configuration, as a start-up full read: replace + resync (after preparing). */
  async replaceAll(...items: [ItemKind, string, unknown][]): Promise<TransactionRecord> {
    return this.fullRead(items, false);
  }

  /**
   * As replaceAll, in the order the agent's start gives its full read (ConfigSync): of items that
   * dispute a claim, those whose claim the kernel holds as theirs first, whatever their keys.
   */
  async replaceAllHoldersFirst(...items: [ItemKind, string, unknown][]): Promise<TransactionRecord> {
    return this.fullRead(items, true);
  }

  private async fullRead(
    items: [ItemKind, string, unknown][],
    holdersFirst: boolean,
  ): Promise<TransactionRecord> {
    let puts = items.map(([kind, name, value]) => this.parse(kind, name, value));
    this.desired.clear();
    for (const p of puts) this.desired.set(p.key, p.value);
    this.plugin.setReferencedNamespaces(this.references());
    await this.plugin.prepare(puts.filter((p) => !(p.value instanceof InvalidConfigValue)));
    if (holdersFirst) {
      const { holders } = await this.plugin.claimHolders(puts);
      puts = [...puts.filter((p) => holders.has(p.key)), ...puts.filter((p) => !holders.has(p.key))];
    }
    const record = await this.engine.commit({ puts, replace: true, resync: true });
    this.plugin.fullReadApplied();
    return record;
  }

  /** As users see it (the API's roll-up): an interface is configured once its addresses are too. */
  status(kind: ItemKind, name: string): ItemStatus | undefined {
    const status = this.engine.status(this.key(kind, name));
    return status && withAddresses(status, this.engine);
  }

  /** Waits until the item is in `state` (and, if given, its reason/error matches). */
  async waitFor(
    kind: ItemKind,
    name: string,
    state: ItemState,
    match?: RegExp,
    timeoutMs = 4000,
  ): Promise<ItemStatus> {
    return eventually(() => {
      const status = this.status(kind, name);
      assert.equal(status?.state, state, `${kind}/${name}: ${JSON.stringify(status)}`);
      if (match) {
        const text = `${status.reason ?? ''} ${status.error?.message ?? ''} ${(status.fieldErrors ?? []).map((f) => f.message).join('; ')}`;
        assert.match(text, match, `${kind}/${name}: ${JSON.stringify(status)}`);
      }
      return status;
    }, timeoutMs);
  }

  async waitConfigured(...items: [ItemKind, string][]): Promise<void> {
    for (const [kind, name] of items) await this.waitFor(kind, name, 'configured');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // As the agent stops: the engine first (the running transaction finishes), then the plugin.
    await this.engine.close();
    this.plugin.close();
  }
}

/** Writes (create/update/delete) made by transactions. */
export function writes(records: TransactionRecord[]): number {
  return records.reduce((n, r) => n + r.counts.create + r.counts.update + r.counts.delete, 0);
}

/**
 * Runs fn with a fresh agent and named namespaces (`ip netns add`, unique names) and cleans up
 * whatever happens: the agent closes, the namespaces go (and with them every link in them).
 */
export async function withAgent<T>(
  namespaceCount: number,
  fn: (agent: TestAgent, namespaces: string[]) => Promise<T>,
  options: TestAgentOptions & { create?: boolean } = {},
): Promise<T> {
  const prefix = `k${hex(2)}`;
  const namespaces = Array.from({ length: namespaceCount }, (_, i) => `${prefix}n${i}${hex(2)}`);
  let agent: TestAgent | undefined;
  try {
    if (options.create !== false) {
      for (const ns of namespaces) {
        const made = ipTry(null, ['netns', 'add', ns]);
        if (made.status !== 0) throw new Error(`ip netns add ${ns}: ${made.stderr}`);
      }
    }
    agent = await TestAgent.start(options);
    return await fn(agent, namespaces);
  } finally {
    await agent?.close();
    for (const ns of namespaces) deleteNamespace(ns);
  }
}

/** VETH pairs (both ends) in `ns`: put without waiting, they keep the engine busy for a while. */
export function busyPairs(ns: string, count = 80): [ItemKind, string, unknown][] {
  return Array.from({ length: count }, (_, i): [ItemKind, string, unknown][] => [
    ['interface', `wb${i}a`, veth(`wb${i}a`, `wb${i}b`, ns)],
    ['interface', `wb${i}b`, veth(`wb${i}b`, `wb${i}a`, ns)],
  ]).flat();
}

export const named = (name: string): { type: number; name: string } => ({ type: 2, name });

/** A VETH end as users write it. */
export function veth(
  name: string,
  peer: string,
  ns: string | undefined,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    type: 'VETH',
    enabled: true,
    ...(ns !== undefined ? { namespace: named(ns) } : {}),
    veth: { peer_if_name: peer },
    ...extra,
  };
}

/** A static ARP entry as users write it (no `state`: PERMANENT). */
export function arpEntry(
  name: string,
  ns: string,
  iface: string,
  ipAddress: string,
  mac: string,
): Record<string, unknown> {
  return { name, namespace: named(ns), interface: iface, ip_addr: ipAddress, hw_address: mac };
}

export async function pause(ms: number): Promise<void> {
  await sleep(ms);
}
