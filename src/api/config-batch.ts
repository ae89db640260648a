/**
 * The body of POST /v1/config: `{puts: [{key, value}], deletes: [key]}`, many values stored and
 * keys deleted at once (netnsctl `apply -f` and `del -f` send a file's items in a few of these).
 * `value` is the item's JSON value, or its text as a PUT's body would be. Every value is checked as
 * a PUT checks it and every key as a DELETE does; one refused and nothing is written. Puts and
 * deletes are one store write (Datastore.write): the agent takes them in as one change, where a
 * request per key made one small transaction after another.
 */
import { findDuplicateKey } from '../util/json-duplicate-keys.js';
import { MAX_PLAN_ITEMS } from './plan-request.js';

export class ConfigBatchBodyError extends Error {
  readonly code = 'CONFIG_BATCH_BODY';
}

export interface BatchPut {
  key: string;
  valueText: string;
}

export interface ConfigBatch {
  puts: BatchPut[];
  deletes: string[];
}

/** Values and keys one request may hold: as many as a plan (a file planned can be applied in one go). */
export const MAX_BATCH_CHANGES = MAX_PLAN_ITEMS;

/** Parses the body; throws ConfigBatchBodyError for what is not `{puts: [{key, value}], deletes: [key]}`. */
export function parseConfigBatch(text: string): ConfigBatch {
  let body: unknown;
  try {
    body = JSON.parse(text || '{}');
  } catch (error) {
    throw new ConfigBatchBodyError(`body is not JSON: ${(error as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ConfigBatchBodyError('body must be an object: {puts: [{key, value}], deletes: [key]}');
  // As a PUT refuses a value with a member given twice (JSON.parse would keep the last silently).
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined)
    throw new ConfigBatchBodyError(
      `${JSON.stringify(duplicate.name)} is given twice in one object (${duplicate.path || 'the body'})`,
    );
  const unknown = Object.keys(body).filter((field) => field !== 'puts' && field !== 'deletes');
  if (unknown.length > 0)
    throw new ConfigBatchBodyError(
      `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: puts, deletes)`,
    );
  const { puts = [], deletes = [] } = body as { puts?: unknown; deletes?: unknown };
  if (!Array.isArray(puts)) throw new ConfigBatchBodyError('puts must be a list of {key, value}');
  if (!Array.isArray(deletes)) throw new ConfigBatchBodyError('deletes must be a list of keys');
  const notKey = (deletes as unknown[]).findIndex((key) => typeof key !== 'string');
  if (notKey !== -1)
    throw new ConfigBatchBodyError(
      `deletes[${notKey}]: ${JSON.stringify((deletes as unknown[])[notKey])} is not a key (a text)`,
    );
  if (puts.length + deletes.length > MAX_BATCH_CHANGES)
    throw new ConfigBatchBodyError(
      `one request takes at most ${MAX_BATCH_CHANGES} values and keys (this one has ${puts.length + deletes.length}): send them in parts`,
    );
  // One change per key: the store would keep the last value, or a put and a deletion in some order.
  const seen = new Map<string, string>();
  const once = (key: string, where: string): void => {
    const before = seen.get(key);
    if (before !== undefined) throw new ConfigBatchBodyError(`${key} is given twice: ${before} and ${where}`);
    seen.set(key, where);
  };
  const parsedPuts = (puts as unknown[]).map((put, i) => {
    const { key, value } = (typeof put === 'object' && put !== null ? put : {}) as {
      key?: unknown;
      value?: unknown;
    };
    if (typeof key !== 'string') throw new ConfigBatchBodyError(`puts[${i}]: every put needs a key`);
    if (value === undefined)
      throw new ConfigBatchBodyError(`puts[${i}] (${key}): no value; a put is {key, value}`);
    once(key, `puts[${i}]`);
    return { key, valueText: typeof value === 'string' ? value : JSON.stringify(value) };
  });
  (deletes as string[]).forEach((key, i) => once(key, `deletes[${i}]`));
  return { puts: parsedPuts, deletes: deletes as string[] };
}
