/**
 * Where netnsctl reads and writes the configuration: the agent's API (the default), etcd itself
 * with `--etcd URL[,URL]` (a fleet's store), or the agent's embedded store file with `--store
 * FILE` (the daemon and netnsctl see one store: a value put while the agent is down is applied
 * when it starts). All refuse the same invalid values with the same field errors, before anything
 * is stored. The commands that only the agent can answer (status, dump, history, watch, plan,
 * report) always use its API.
 */
import { existsSync } from 'node:fs';
import { isRetriable } from '../../errors.js';
import { configValueErrors, type FieldError } from '../../model/index.js';
import type { Datastore } from '../../datastore/types.js';
import { keyPath } from './keys.js';
import type { EtcdTlsOptions } from '../../datastore/etcd/tls-options.js';
import type { EtcdAuthOptions } from '../../datastore/etcd/auth-options.js';
import { jsonOrText } from '../../util/json-or-text.js';
import { CliError, type ApiClient } from './client.js';
import { counted } from '../../util/counted.js';

export interface ConfigEntry {
  key: string;
  value: unknown;
}

/** Stored, at the store's revision (when the store said), or refused with field errors. */
export type PutOutcome = { ok: true; revision?: number } | { ok: false; errors: Omit<FieldError, 'key'>[] };

/** Many values stored in one write, or none of them: the refused values' field errors, with their keys. */
export type PutManyOutcome = { ok: true; revision?: number } | { ok: false; errors: FieldError[] };

export interface ValueToStore {
  key: string;
  valueText: string;
}

export interface ConfigAccess {
  /** Where the values are, for messages ("the agent at ...", "etcd at ..."). */
  readonly where: string;
  list(prefix: string): Promise<ConfigEntry[]>;
  put(key: string, valueText: string): Promise<PutOutcome>;
  /**
   * Stores many values in one write (`apply -f`): the agent takes them in together, as one change.
   * A value refused and none is stored. etcd writes them in transactions of at most 128 keys.
   */
  putMany(entries: readonly ValueToStore[]): Promise<PutManyOutcome>;
  /** False when there was nothing under the key. */
  delete(key: string): Promise<boolean>;
  /** Deletes the keys in one write (etcd: transactions of 128); returns those that had a value. */
  deleteMany(keys: readonly string[]): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A write of many that the agent did not do, as an error; nothing for a success. A 4xx answer says
 * nothing was written (the answer in the details: apply and del say "not stored"). A 5xx carries
 * none: an agent on etcd writes a part in transactions of 128 keys, and some may have been
 * written before the failure (said "maybe stored").
 */
function failedWrite(status: number, answer: { error?: string } | undefined): void {
  if (status < 400) return;
  const message = answer?.error ?? `HTTP ${status}`;
  if (status >= 500) throw new CliError(message, status === 503 ? 3 : 1);
  throw new CliError(message, 1, answer);
}

export class ApiConfigAccess implements ConfigAccess {
  readonly where: string;

  constructor(
    private readonly api: ApiClient,
    server: string,
  ) {
    this.where = `the agent at ${server}`;
  }

  async list(prefix: string): Promise<ConfigEntry[]> {
    return (await this.api.expectOk(
      'GET',
      `/v1/config?prefix=${encodeURIComponent(prefix)}`,
    )) as ConfigEntry[];
  }

  async put(key: string, valueText: string): Promise<PutOutcome> {
    const { status, json } = await this.api.request('PUT', `/v1/config${keyPath(key)}`, valueText);
    if (status === 400) return { ok: false, errors: (json as { errors?: FieldError[] }).errors ?? [] };
    if (status >= 400)
      // With the answer as details: the agent said it did not store it (apply tells that apart).
      throw new CliError(
        (json as { error?: string }).error ?? `HTTP ${status}`,
        status === 503 ? 3 : 1,
        json,
      );
    const revision = (json as { revision?: unknown } | undefined)?.revision;
    return typeof revision === 'number' ? { ok: true, revision } : { ok: true };
  }

  async putMany(entries: readonly ValueToStore[]): Promise<PutManyOutcome> {
    // Values as text, as a PUT sends them: the agent checks the very text the file held.
    const body = JSON.stringify({ puts: entries.map((e) => ({ key: e.key, value: e.valueText })) });
    const { status, json } = await this.api.request('POST', '/v1/config', body);
    const answer = json as { error?: string; errors?: FieldError[]; revision?: unknown } | undefined;
    if (status === 404 || status === 405) return this.putOneByOne(entries);
    if (status === 400 && answer?.errors?.length) return { ok: false, errors: answer.errors };
    failedWrite(status, answer);
    return typeof answer?.revision === 'number' ? { ok: true, revision: answer.revision } : { ok: true };
  }

  /**
   * An agent from before POST /v1/config: a PUT each. Those refused are said as a part's are; the
   * others are stored already (sent again with the rest of the part: a put is idempotent).
   */
  private async putOneByOne(entries: readonly ValueToStore[]): Promise<PutManyOutcome> {
    const errors: FieldError[] = [];
    let revision: number | undefined;
    for (const { key, valueText } of entries) {
      const outcome = await this.put(key, valueText);
      if (!outcome.ok) errors.push(...outcome.errors.map((e) => ({ ...e, key })));
      else if (outcome.revision !== undefined) revision = Math.max(revision ?? 0, outcome.revision);
    }
    if (errors.length) return { ok: false, errors };
    return revision === undefined ? { ok: true } : { ok: true, revision };
  }

  async delete(key: string): Promise<boolean> {
    const { status, json } = await this.api.request('DELETE', `/v1/config${keyPath(key)}`);
    if (status === 404) return false;
    if (status === 400) {
      // Another label's key: refused as its put is, with the key and field errors.
      const errors = (json as { errors?: FieldError[] }).errors ?? [];
      throw new CliError(
        `cannot delete ${key}:\n${errors.map((e) => `  ${e.field}: ${e.message}`).join('\n')}`,
        5,
        { error: `cannot delete ${key}`, key, errors },
      );
    }
    if (status >= 400)
      throw new CliError((json as { error?: string }).error ?? `HTTP ${status}`, status === 503 ? 3 : 1);
    return true;
  }

  async deleteMany(keys: readonly string[]): Promise<string[]> {
    const { status, json } = await this.api.request('POST', '/v1/config', JSON.stringify({ deletes: keys }));
    const answer = json as { error?: string; errors?: FieldError[]; deleted?: string[] } | undefined;
    if (status === 400 && answer?.errors?.length) {
      // Another label's key, or one outside the configuration: none of these keys was deleted.
      const errors = answer.errors;
      throw new CliError(
        `cannot delete ${counted(new Set(errors.map((e) => e.key)).size, 'key')}:\n${errors.map((e) => `  ${e.key}: ${e.field}: ${e.message}`).join('\n')}`,
        5,
        { error: answer.error, errors },
      );
    }
    if (status === 404 || status === 405) {
      // An agent from before POST /v1/config: a DELETE each.
      const deleted: string[] = [];
      for (const key of keys) if (await this.delete(key)) deleted.push(key);
      return deleted;
    }
    failedWrite(status, answer);
    return answer?.deleted ?? [];
  }

  async close(): Promise<void> {}
}

/** The configuration in a datastore (etcd, or the embedded store's file), checked here as the agent's API checks it. */
export class StoreConfigAccess implements ConfigAccess {
  constructor(
    private readonly store: Datastore,
    readonly where: string,
  ) {}

  async list(prefix: string): Promise<ConfigEntry[]> {
    const { items } = await this.unavailableAs(() => this.store.list(prefix));
    return items.map((kv) => ({ key: kv.key, value: jsonOrText(kv.value) }));
  }

  async put(key: string, valueText: string): Promise<PutOutcome> {
    const errors = configValueErrors(key, valueText);
    if (errors.length) return { ok: false, errors };
    const revision = await this.unavailableAs(() => this.store.put(key, valueText));
    return { ok: true, revision };
  }

  async putMany(entries: readonly ValueToStore[]): Promise<PutManyOutcome> {
    const errors = entries.flatMap((e) => configValueErrors(e.key, e.valueText));
    if (errors.length) return { ok: false, errors };
    if (entries.length === 0) return { ok: true };
    const revision = await this.unavailableAs(() =>
      this.store.putMany(entries.map((e) => ({ key: e.key, value: e.valueText }))),
    );
    return { ok: true, revision };
  }

  delete(key: string): Promise<boolean> {
    return this.unavailableAs(() => this.store.delete(key));
  }

  deleteMany(keys: readonly string[]): Promise<string[]> {
    return this.unavailableAs(() => this.store.deleteMany(keys));
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /** A store that cannot be reached exits as an unreachable agent does (3). */
  private async unavailableAs<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw new CliError(
        `${this.where}: ${error instanceof Error ? error.message : String(error)}`,
        isRetriable(error) ? 3 : 1,
      );
    }
  }
}

/**
 * The embedded store for `--store`, loaded only then. Only a write may create the file (as the
 * agent's first start would): a read of a mistyped path says so instead of showing an empty store.
 */
export async function sqliteConfigAccess(path: string, writes: boolean): Promise<ConfigAccess> {
  if (!writes && !existsSync(path))
    throw new CliError(`no store at ${path} (the agent, or a put, creates it)`, 2);
  const { SqliteStore } = await import('../../datastore/sqlite/store.js');
  let store;
  try {
    store = new SqliteStore({ file: path });
  } catch (error) {
    throw new CliError(
      `cannot open the store ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return new StoreConfigAccess(store, `the store ${path}`);
}

/** The etcd store for `--etcd`, loaded only then (its client is large). */
export async function etcdConfigAccess(
  endpoints: string[],
  tls: EtcdTlsOptions = {},
  auth?: EtcdAuthOptions,
): Promise<ConfigAccess> {
  const { EtcdStore } = await import('../../datastore/etcd/store.js');
  let store;
  try {
    // Short deadlines: a person is waiting, and a dead member is skipped for the next.
    store = new EtcdStore({
      endpoints,
      callTimeoutMs: 3000,
      dialTimeoutMs: 2000,
      tls,
      ...(auth ? { auth } : {}),
    });
  } catch (error) {
    // A certificate file that cannot be read or is not PEM: the command line is wrong.
    throw new CliError(error instanceof Error ? error.message : String(error), 2);
  }
  return new StoreConfigAccess(store, `etcd at ${endpoints.join(',')}`);
}
