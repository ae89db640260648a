/**
 * A watcher on etcd. Each connection attempt reads the prefix when it must (first start without
 * fromRevision, after a loss, after compaction), then watches from the revision after the read, so
 * nothing falls in between. Any disconnection makes it `lost`: it drops the etcd3 watcher (whose
 * own silent replay we do not rely on), waits a backoff, and reconnects with a fresh full read,
 * delivered as a `resync`, so the agent re-converges on whatever happened meanwhile.
 */
import type { Etcd3, IWatchResponse, Watcher as Etcd3Watcher } from 'etcd3';
import { CompactedError, DatastoreUnavailableError } from '../errors.js';
import { WatcherBase } from '../watcher-base.js';
import { tidyGrpcMessage } from './grpc-message.js';
import type { Change, ListResult, ResyncReason, WatchOptions } from '../types.js';

/** How long to wait for etcd to confirm a watch cancellation before forgetting the watch anyway. */
const CANCEL_TIMEOUT_MS = 1000;

export interface EtcdWatchSource {
  readonly client: Etcd3;
  list(prefix: string): Promise<ListResult>;
  forget(watcher: EtcdWatcher): void;
}

function toChanges(response: IWatchResponse): Change[] {
  return response.events.map((event): Change => {
    const key = event.kv.key.toString('utf8');
    const revision = Number(event.kv.mod_revision);
    return event.type === 'Delete'
      ? { type: 'delete', key, revision }
      : { type: 'put', key, value: event.kv.value.toString('utf8'), revision };
  });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export class EtcdWatcher extends WatcherBase {
  readonly #source: EtcdWatchSource;
  #current: Etcd3Watcher | undefined;

  constructor(prefix: string, options: WatchOptions, source: EtcdWatchSource) {
    super(prefix, options);
    this.#source = source;
    this.start();
  }

  override async close(): Promise<void> {
    await super.close();
    this.#source.forget(this);
  }

  protected connect(generation: number, resync: ResyncReason | null): void {
    void this.#connect(generation, resync).catch((error: unknown) => this.fail(generation, asError(error)));
  }

  async #connect(generation: number, resync: ResyncReason | null): Promise<void> {
    if (resync !== null) {
      const read = await this.#source.list(this.prefix);
      if (!this.isCurrent(generation)) return;
      this.deliverResync(generation, resync, read);
    }
    const watch = this.#source.client
      .watch()
      .prefix(this.prefix) // '' covers every key
      .startRevision(String(this.revision + 1))
      .watcher();
    this.#current = watch;
    watch.on('connected', () => this.markInSync(generation));
    watch.on('data', (response) => this.deliverChanges(generation, toChanges(response)));
    watch.on('disconnected', (error: Error) =>
      this.fail(
        generation,
        new DatastoreUnavailableError(`etcd watch disconnected: ${tidyGrpcMessage(error.message)}`, {
          cause: error,
        }),
      ),
    );
    watch.on('error', (error: Error) => {
      // The server cancelled the watch. Without auth etcd does that only when the start revision was
      // compacted away (etcd 3.4 leaves cancel_reason empty then, and etcd3 does not pass
      // compact_revision on). A member that lost its leader (require-leader.ts) ends the whole
      // stream instead: 'disconnected' above.
      const compacted = /compact|Watcher canceled/i.test(error.message);
      this.fail(generation, compacted ? new CompactedError(this.revision + 1, { cause: error }) : error);
    });
  }

  protected async disconnect(): Promise<void> {
    const watch = this.#current;
    this.#current = undefined;
    if (watch === undefined) return;
    watch.removeAllListeners();
    watch.on('error', () => undefined); // an EventEmitter without an error listener throws
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      watch.cancel().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CANCEL_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
  }
}
