/** Picks the store from the daemon's / CLI's options: etcd when endpoints are given, else the file. */
import { EtcdStore, type EtcdStoreOptions } from './etcd/store.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite/store.js';
import type { Datastore } from './types.js';
import { parseEndpoints } from './endpoints.js';

export interface OpenDatastoreOptions {
  /** `--etcd URL[,URL]`: a comma-separated string or a list; empty or absent: the embedded store. */
  etcd?: string | readonly string[];
  /** `--store FILE` for the embedded store. */
  file?: string;
  sqlite?: Omit<SqliteStoreOptions, 'file'>;
  etcdOptions?: Omit<EtcdStoreOptions, 'endpoints'>;
}

export { parseEndpoints };

export function openDatastore(options: OpenDatastoreOptions = {}): Datastore {
  const endpoints = parseEndpoints(options.etcd);
  if (endpoints.length > 0) return new EtcdStore({ ...options.etcdOptions, endpoints });
  return new SqliteStore({
    ...options.sqlite,
    ...(options.file === undefined ? {} : { file: options.file }),
  });
}
