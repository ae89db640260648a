/**
 * The body of POST /v1/config: `{puts: [{key, value}]}`, many values stored at once (netnsctl
 * `apply -f` sends a file's items in a few of these). `value` is the item's JSON value, or its text
 * as a PUT's body would be. Every value is checked as a PUT checks it; one refused value and none is
 * stored. Those accepted are written in one store write: the agent takes them in together, as one
 * transaction, where a PUT per key made one small transaction after another.
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

/** Values one request may hold: as many as a plan (a file planned can be applied in one go). */
export const MAX_BATCH_PUTS = MAX_PLAN_ITEMS;

/** Parses the body; throws ConfigBatchBodyError for what is not `{puts: [{key, value}]}`. */
export function parseConfigBatch(text: string): BatchPut[] {
  let body: unknown;
  try {
    body = JSON.parse(text || '{}');
  } catch (error) {
    throw new ConfigBatchBodyError(`body is not JSON: ${(error as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ConfigBatchBodyError('body must be an object: {puts: [{key, value}]}');
  // As a PUT refuses a value with a member given twice (JSON.parse would keep the last silently).
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined)
    throw new ConfigBatchBodyError(
      `${JSON.stringify(duplicate.name)} is given twice in one object (${duplicate.path || 'the body'})`,
    );
  const unknown = Object.keys(body).filter((field) => field !== 'puts');
  if (unknown.length > 0)
    throw new ConfigBatchBodyError(
      `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: puts; a deletion is DELETE /v1/config/<key>)`,
    );
  const puts = (body as { puts?: unknown }).puts;
  if (!Array.isArray(puts)) throw new ConfigBatchBodyError('puts must be a list of {key, value}');
  if (puts.length > MAX_BATCH_PUTS)
    throw new ConfigBatchBodyError(
      `one request stores at most ${MAX_BATCH_PUTS} values (this one has ${puts.length}): send them in parts`,
    );
  const seen = new Map<string, number>();
  return (puts as unknown[]).map((put, i) => {
    const { key, value } = (typeof put === 'object' && put !== null ? put : {}) as {
      key?: unknown;
      value?: unknown;
    };
    if (typeof key !== 'string') throw new ConfigBatchBodyError(`puts[${i}]: every put needs a key`);
    if (value === undefined)
      throw new ConfigBatchBodyError(`puts[${i}] (${key}): no value; a put is {key, value}`);
    // One value per key: the store would keep the last one without a word.
    const before = seen.get(key);
    if (before !== undefined)
      throw new ConfigBatchBodyError(`${key} is given twice: puts[${before}] and puts[${i}]`);
    seen.set(key, i);
    return { key, valueText: typeof value === 'string' ? value : JSON.stringify(value) };
  });
}
