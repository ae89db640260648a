/** Errors of the reconcile engine. */
import { AgentError } from '../errors.js';

/** A key that no registered descriptor handles. */
export class NoDescriptorError extends AgentError {
  readonly code = 'ERR_NO_DESCRIPTOR';
  constructor(key: string) {
    super(`no descriptor handles key ${key}`, { key });
  }
}

/** A descriptor that cannot be registered (name taken, no key selector, bad retrieveAfter). */
export class DescriptorConfigError extends AgentError {
  readonly code = 'ERR_DESCRIPTOR_CONFIG';
}
