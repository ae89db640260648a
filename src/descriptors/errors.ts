/** Errors of the Linux descriptors. */
import { AgentError } from '../errors.js';

/** A link the configuration refers to is not there (yet): retried, as it may appear. */
export class InterfaceNotFoundError extends AgentError {
  readonly code = 'ERR_INTERFACE_NOT_FOUND';
  constructor(name: string, where: string, what: string) {
    super(`${what} ${name} not found in ${where}`, { retriable: true });
  }
}

/** The namespace an item needs is not open in the agent. */
export class NamespaceUnavailableError extends AgentError {
  readonly code = 'ERR_NAMESPACE_UNAVAILABLE';
  constructor(description: string) {
    super(`${description} is not available`, { retriable: true });
  }
}

/**
 * A named namespace we made holds links that are not ours (another agent's, or made by hand): it is
 * not deleted while they are there; tried again, so it goes once they do.
 */
export class NamespaceInUseError extends AgentError {
  readonly code = 'ERR_NAMESPACE_IN_USE';
  constructor(namespace: string, links: string[]) {
    super(
      `named namespace ${namespace} is kept while it holds links that are not ours (${links.join(', ')})`,
      { retriable: true },
    );
  }
}
