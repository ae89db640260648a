/**
 * A configuration value that did not parse or validate still reaches the engine, as this marker:
 * the item becomes `invalid` with the field errors, and the previous valid value (if any) stays
 * applied.
 */
import type { FieldError } from '../scheduler/types.js';

export class InvalidConfigValue {
  constructor(readonly errors: FieldError[]) {}
}

export function validateConfig(_key: string, value: unknown): FieldError[] {
  return value instanceof InvalidConfigValue ? value.errors : [];
}
