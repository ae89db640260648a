/** Opening a store without loading the client of the other kind (see openDatastoreLazily). */
import { parseEndpoints } from './endpoints.js';
import type { OpenDatastoreOptions } from './open.js';
import type { Datastore } from './types.js';

/**
 * Like openDatastore, but loads only the client it needs: the etcd client (gRPC, ~0.3 s and
 * ~20 MB to load) stays out of an agent that runs on the embedded store.
 */
export async function openDatastoreLazily(options: OpenDatastoreOptions = {}): Promise<Datastore> {
  const endpoints = parseEndpoints(options.etcd);
  if (endpoints.length > 0) {
    const etcd = await import('./etcd/store.js');
    return new etcd.EtcdStore({ ...options.etcdOptions, endpoints });
  }
  const sqlite = await import('./sqlite/store.js');
  return new sqlite.SqliteStore({
    ...options.sqlite,
    ...(options.file === undefined ? {} : { file: options.file }),
  });
}
