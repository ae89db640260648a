/** Checks of a write (puts and deletions together) both stores make before anything is written. */
import { checkKey, DatastoreError } from './errors.js';
import type { WriteChange } from './types.js';

/**
 * Every key valid, every value a string, and each key once: a key put and deleted (or put twice)
 * in one change has no order to settle it by.
 */
export function checkWriteChange(change: WriteChange): void {
  const seen = new Set<string>();
  const once = (key: string): void => {
    if (seen.has(checkKey(key)))
      throw new DatastoreError(`${key} appears twice in one write (a put or deletion each)`, { key });
    seen.add(key);
  };
  for (const { key, value } of change.puts) {
    once(key);
    if (typeof value !== 'string') throw new DatastoreError(`value of ${key} is not a string`, { key });
  }
  for (const key of change.deletes) once(key);
}
