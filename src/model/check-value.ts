/**
 * What a client must check before it stores a value: the key is a configuration key and the value
 * parses. The agent's API (PUT /v1/config/...) and `netnsctl --etcd` refuse the same values with
 * the same field errors.
 */
import { InvalidKeyError, InvalidValueError, KEY_FIELD, type FieldError } from './errors.js';
import { parseItemText } from './item.js';
import { requireConfigKey } from './keys.js';

/** Every problem of `text` as the value of `key`; empty when it may be stored. */
export function configValueErrors(key: string, text: string): FieldError[] {
  try {
    requireConfigKey(key);
    parseItemText(key, text);
    return [];
  } catch (error) {
    if (error instanceof InvalidValueError) return error.errors.map((e) => ({ ...e }));
    if (error instanceof InvalidKeyError) return [{ key, field: KEY_FIELD, message: error.message }];
    throw error;
  }
}
