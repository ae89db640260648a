/**
 * The etcd store (for fleets: many agents, one cluster, each agent under its own label), through
 * the etcd3 client. Several endpoints: calls go to any live member, so losing one member is not an
 * outage. Watches recover from anything by resyncing (see watcher.ts).
 */
import type { Etcd3, IKeyValue, IRequestOp, ITxnResponse } from 'etcd3';
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
  /**
   * Operations per transaction when a write must be split: etcd refuses more than its
   * --max-txn-ops (default 128). A larger write is first tried as one transaction (a server run
   * with a higher --max-txn-ops takes it atomically), and split only if the server refuses it.
   */
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
  /** The fewest operations the server refused in one transaction (too many, or too large). */
  #refusedTxnOps = Number.POSITIVE_INFINITY;
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

  /**
   * Puts and deletions in one transaction when the server takes it, else in transactions of at
   * most maxTxnOps, puts first.
   */
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
      const take = (response: ITxnResponse, first: number): void => {
        revision = Number(response.header.revision);
        // One answer per operation, in their order: a deletion counted 1 found its key.
        response.responses.forEach((r, i) => {
          const at = first + i - change.puts.length;
          if (at >= 0 && Number(r.response_delete_range?.deleted ?? 0) > 0) deleted.push(change.deletes[at]!);
        });
      };
      if (ops.length <= this.#maxTxnOps || ops.length < this.#refusedTxnOps) {
        try {
          take(await this.#client.kv.txn({ success: ops }), 0);
          return { revision, deleted };
        } catch (error) {
          // Refused as a whole, before anything was written: split below. Anything else fails.
          if (ops.length <= this.#maxTxnOps || !isTxnTooLarge(error)) throw error;
          this.#refusedTxnOps = ops.length;
        }
      }
      for (let first = 0; first < ops.length; first += this.#maxTxnOps)
        take(await this.#client.kv.txn({ success: ops.slice(first, first + this.#maxTxnOps) }), first);
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

/**
 * Whether etcd refused a transaction for its size: more operations than its --max-txn-ops, or
 * more bytes than its --max-request-bytes (past that and gRPC's margin, gRPC itself refuses the
 * message). Each is checked before anything is written.
 */
function isTxnTooLarge(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /too many operations in txn request|request is too large|received message larger than max/.test(
    message,
  );
}
