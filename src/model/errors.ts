/**
 * Errors of the data model. A value is checked completely before it is refused, so that a user
 * sees every problem at once: one `FieldError` per field, each naming the key and the field.
 */
import { AgentError } from '../errors.js';

/**
 * One problem in one field. `field` is the proto (snake_case) path of the field, e.g.
 * `namespace.name` or `ip_addresses[1]`, whichever spelling the user wrote; `$` is the value
 * as a whole (malformed JSON, not an object, too large).
 */
export interface FieldError {
  key: string;
  field: string;
  message: string;
}

/** The path used for problems of the value as a whole. */
export const WHOLE_VALUE = '$';

/** The field path of problems of the key itself (another label's, not a configuration key). */
export const KEY_FIELD = '$key';

/**
 * The first words of a refusal of `key`: "refused key K" when only the key is wrong (its value may
 * be fine), else "invalid value for K".
 */
export function refusalHeadline(key: string, errors: readonly { field: string }[]): string {
  return errors.length > 0 && errors.every((e) => e.field === KEY_FIELD)
    ? `refused key ${key}`
    : `invalid value for ${key}`;
}

/** A configuration value that cannot be accepted; `errors` lists every problem found. */
export class InvalidValueError extends AgentError {
  readonly code = 'ERR_INVALID_VALUE';
  readonly errors: readonly FieldError[];

  constructor(key: string, errors: readonly FieldError[]) {
    super(`invalid value for ${key}: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, {
      key,
      field: errors[0]?.field,
    });
    this.errors = errors;
  }
}

/** A key that is not one of ours, or a key segment (label, name) that cannot be used. */
export class InvalidKeyError extends AgentError {
  readonly code = 'ERR_INVALID_KEY';

  constructor(key: string, message: string) {
    super(`invalid key ${JSON.stringify(key)}: ${message}`, { key });
  }
}

/**
 * Collects field errors while a value is read. Only the first problem of a field is kept: the
 * later ones are usually consequences of it.
 */
export class FieldErrors {
  private readonly list: FieldError[] = [];

  constructor(readonly key: string) {}

  add(field: string, message: string): void {
    if (this.list.some((e) => e.field === field)) return;
    this.list.push({ key: this.key, field, message });
  }

  has(field: string): boolean {
    return this.list.some((e) => e.field === field);
  }

  get count(): number {
    return this.list.length;
  }

  /** Throws an InvalidValueError if any problem was recorded. */
  throwIfAny(): void {
    if (this.list.length > 0) throw new InvalidValueError(this.key, [...this.list]);
  }
}
