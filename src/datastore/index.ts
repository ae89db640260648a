/**
 * The datastores: where desired state lives. Both implement `Datastore` (types.ts): the embedded
 * SQLite store (default, one host) and etcd (fleets). `openDatastore` picks one from the daemon's
 * options.
 */
export type {
  Backoff,
  Change,
  Datastore,
  KeyValue,
  ListResult,
  PutEntry,
  ResyncReason,
  WatchEvent,
  Watcher,
  WatcherState,
  WatchListener,
  WatchOptions,
  WriteChange,
  WriteResult,
} from './types.js';
export { CompactedError, DatastoreError, DatastoreUnavailableError, InvalidKeyError } from './errors.js';
export { constantBackoff, exponentialBackoff, type ExponentialBackoffOptions } from './backoff.js';
export { hasPrefix, prefixEnd } from './prefix.js';
export { canTransition } from './watcher-base.js';
export { DEFAULT_STORE_FILE, SqliteStore, type SqliteStoreOptions } from './sqlite/store.js';
export { EtcdStore, type EtcdStoreOptions } from './etcd/store.js';
export { openDatastore, parseEndpoints, type OpenDatastoreOptions } from './open.js';
export { openDatastoreLazily } from './open-lazy.js';
