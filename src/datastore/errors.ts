/** Errors of the datastores. */
import { AgentError, type AgentErrorOptions } from '../errors.js';

/** The store cannot be reached or is busy right now (etcd down, SQLite locked): try again later. */
export class DatastoreUnavailableError extends AgentError {
  readonly code = 'ERR_DATASTORE_UNAVAILABLE';
  constructor(message: string, options: AgentErrorOptions = {}) {
    super(message, { retriable: true, ...options });
  }
}

/** The store refused or failed an operation in a way retrying will not fix. */
export class DatastoreError extends AgentError {
  readonly code = 'ERR_DATASTORE';
}

/** An etcd setting (TLS, user) that cannot work (`field`: the option, e.g. `--etcd-key`). */
export class EtcdSettingError extends AgentError {
  readonly code = 'ERR_ETCD_SETTING';
}

/** A key or prefix the store cannot hold (empty key, not a string). */
export class InvalidKeyError extends AgentError {
  readonly code = 'ERR_DATASTORE_INVALID_KEY';
  constructor(key: unknown) {
    super(`invalid datastore key ${JSON.stringify(key)}: a non-empty string is required`, {
      key: typeof key === 'string' ? key : undefined,
    });
  }
}

/** The changes a watcher needed were compacted away; the watcher resyncs from a full read. */
export class CompactedError extends AgentError {
  readonly code = 'ERR_DATASTORE_COMPACTED';
  constructor(wanted: number, options: { compacted?: number; cause?: unknown } = {}) {
    const upTo = options.compacted === undefined ? '' : ` (compacted up to ${options.compacted})`;
    super(`revision ${wanted} is compacted${upTo}`, { retriable: true, cause: options.cause });
  }
}

export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidKeyError(key);
  return key;
}
