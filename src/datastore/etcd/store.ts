/**
 * The etcd store (for fleets: many agents, one cluster, each agent under its own label), through
 * the etcd3 client. Several endpoints: calls go to any live member, so losing one member is not an
 * outage. Watches recover from anything by resyncing (see watcher.ts).
 */
import type { Etcd3, IKeyValue, IRequestOp } from 'etcd3';
import { ClosedError } from '../../errors.js';
import { checkKey, DatastoreError } from '../errors.js';
import type {
  Datastore,
  KeyValue,
  ListResult,
  PutEntry,
  Watcher,
  WatchOptions,
  WriteChange,
  WriteResult,
} from '../types.js';
import { checkWriteChange } from '../write-change.js';
import { createEtcdClient, etcdError, type EtcdClientOptions } from './client.js';
import { EtcdWatcher, type EtcdWatchSource } from './watcher.js';

export interface EtcdStoreOptions extends EtcdClientOptions {
  /** Puts per transaction in putMany; etcd refuses more than --max-txn-ops (default 128). */
  maxTxnOps?: number;
}

function toKeyValue(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value.toString('utf8'),
    modRevision: Number(kv.mod_revision),
    createRevision: Number(kv.create_revision),
  };
}

export class EtcdStore implements Datastore {
  readonly kind = 'etcd';
  readonly endpoints: readonly string[];
  readonly #client: Etcd3;
  readonly #maxTxnOps: number;
  readonly #watchers = new Set<EtcdWatcher>();
  /** What watchers need of the store. */
  readonly #watchSource: EtcdWatchSource;
  #closing: Promise<void> | undefined;

  constructor(options: EtcdStoreOptions) {
    this.endpoints = [...options.endpoints];
    this.#client = createEtcdClient(options);
    this.#maxTxnOps = Math.max(1, options.maxTxnOps ?? 128);
    this.#watchSource = {
      client: this.#client,
      list: (prefix) => this.list(prefix),
      forget: (watcher) => this.#watchers.delete(watcher),
    };
  }

  async get(key: string): Promise<KeyValue | undefined> {
    return this.#run('get', async () => {
      const response = await this.#client.get(checkKey(key)).exec();
      const kv = response.kvs[0];
      return kv === undefined ? undefined : toKeyValue(kv);
    });
  }

  async list(prefix: string): Promise<ListResult> {
    return this.#run('list', async () => {
      const query = this.#client.getAll();
      const response = await (prefix === '' ? query.all() : query.prefix(prefix)).exec();
      return { items: response.kvs.map(toKeyValue), revision: Number(response.header.revision) };
    });
  }

  async put(key: string, value: string): Promise<number> {
    return this.#run('put', async () => {
      checkValue(key, value);
      const response = await this.#client.put(checkKey(key)).value(value).exec();
      return Number(response.header.revision);
    });
  }

  async putMany(entries: readonly PutEntry[]): Promise<number> {
    const latest = new Map<string, string>();
    for (const { key, value } of entries) {
      latest.delete(key); // a key appears once in a write (etcd refuses it twice); the last value wins
      latest.set(key, value);
    }
    const puts = [...latest].map(([key, value]) => ({ key, value }));
    return (await this.#transact('putMany', { puts, deletes: [] })).revision;
  }

  async delete(key: string): Promise<boolean> {
    return this.#run('delete', async () => {
      const response = await this.#client.delete().key(checkKey(key)).exec();
      return Number(response.deleted) > 0;
    });
  }

  async deleteMany(keys: readonly string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    return (await this.#transact('deleteMany', { puts: [], deletes: [...new Set(keys)] })).deleted;
  }

  async write(change: WriteChange): Promise<WriteResult> {
    return this.#transact('write', change);
  }

  /** Puts and deletions in transactions of at most --max-txn-ops, puts first. */
  #transact(what: string, change: WriteChange): Promise<WriteResult> {
    return this.#run(what, async () => {
      checkWriteChange(change);
      const ops: IRequestOp[] = [
        ...change.puts.map(({ key, value }) => ({
          request_put: { key: Buffer.from(key), value: Buffer.from(value) },
        })),
        ...change.deletes.map((key) => ({ request_delete_range: { key: Buffer.from(key) } })),
      ];
      if (ops.length === 0)
        return { revision: Number((await this.#client.get('\0').exec()).header.revision), deleted: [] };
      const deleted: string[] = [];
      let revision = 0;
      for (let start = 0; start < ops.length; start += this.#maxTxnOps) {
        const response = await this.#client.kv.txn({ success: ops.slice(start, start + this.#maxTxnOps) });
        revision = Number(response.header.revision);
        // One answer per operation, in their order: a deletion counted 1 found its key.
        response.responses.forEach((r, i) => {
          const at = start + i - change.puts.length;
          if (at >= 0 && Number(r.response_delete_range?.deleted ?? 0) > 0) deleted.push(change.deletes[at]!);
        });
      }
      return { revision, deleted };
    });
  }

  async deletePrefix(prefix: string): Promise<number> {
    return this.#run('deletePrefix', async () => {
      const query = this.#client.delete();
      const response = await (prefix === '' ? query.all() : query.prefix(prefix)).exec();
      return Number(response.deleted);
    });
  }

  watch(prefix: string, options: WatchOptions): Watcher {
    if (this.#closing) throw new ClosedError('etcd store');
    const watcher = new EtcdWatcher(prefix, options, this.#watchSource);
    this.#watchers.add(watcher);
    return watcher;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#watchers].map((watcher) => watcher.close()));
      this.#client.close();
    })();
    return this.#closing;
  }

  async #run<T>(what: string, operation: () => Promise<T>): Promise<T> {
    if (this.#closing) throw new ClosedError('etcd store');
    try {
      return await operation();
    } catch (error) {
      throw etcdError(what, error);
    }
  }
}

function checkValue(key: string, value: unknown): void {
  if (typeof value !== 'string') throw new DatastoreError(`value of ${key} is not a string`, { key });
}
