/**
 * Errors of namespace references. Callers branch on them: not found means "pending until it
 * appears" (retriable), permission and not-a-namespace are configuration problems (terminal).
 * Each carries the path it was about, and the reference's description in its message.
 */
import { AgentError, type AgentErrorOptions } from '../errors.js';

/** Errors that name a namespace file carry its path. */
interface PathOptions extends AgentErrorOptions {
  path?: string;
}

/** The namespace file does not exist (a named namespace not created yet, a process gone). */
export class NamespaceNotFoundError extends AgentError {
  readonly code = 'ERR_NAMESPACE_NOT_FOUND';
  readonly path: string | undefined;
  constructor(what: string, options: PathOptions = {}) {
    super(`${what} does not exist${options.path ? ` (${options.path})` : ''}`, {
      retriable: true,
      ...options,
    });
    this.path = options.path;
  }
}

/**
 * A pid reference whose process has exited: the pid may name another process since (pids are
 * reused), whose namespace is not the one meant. The reference stays unavailable until it changes.
 */
export class NamespaceProcessExitedError extends AgentError {
  readonly code = 'ERR_NAMESPACE_PROCESS_EXITED';
  constructor(what: string, pid: number, reused: boolean) {
    super(
      `${what}: the process first seen as pid ${pid} has exited` +
        (reused ? `, and pid ${pid} is another process now, whose namespace is not taken` : '') +
        '; a new process needs its own pid in the configuration',
    );
  }
}

/** The path exists but is not a network namespace (a regular file, a directory, a mount namespace...). */
export class NotANamespaceError extends AgentError {
  readonly code = 'ERR_NOT_A_NAMESPACE';
  readonly path: string;
  constructor(what: string, path: string, reason: string, options: AgentErrorOptions = {}) {
    super(`${what}: ${path} is not a network namespace (${reason})`, options);
    this.path = path;
  }
}

/** The agent may not open the namespace (not root, or another user's process). */
export class NamespacePermissionError extends AgentError {
  readonly code = 'ERR_NAMESPACE_PERMISSION';
  readonly path: string | undefined;
  constructor(what: string, options: PathOptions = {}) {
    super(`${what}: permission denied${options.path ? ` (${options.path})` : ''}`, options);
    this.path = options.path;
  }
}

/** A namespace name that `ip netns` would refuse or that would name another file. */
export class InvalidNamespaceNameError extends AgentError {
  readonly code = 'ERR_NAMESPACE_NAME_INVALID';
  readonly namespaceName: string;
  constructor(name: string, problem: string, options: AgentErrorOptions = {}) {
    super(`invalid namespace name ${JSON.stringify(name)}: ${problem}`, { field: 'name', ...options });
    this.namespaceName = name;
  }
}

/** A pid or file reference that cannot name a namespace (pid 0, a relative path...). */
export class InvalidNamespaceRefError extends AgentError {
  readonly code = 'ERR_NAMESPACE_REF_INVALID';
  constructor(what: string, field: string, problem: string, options: AgentErrorOptions = {}) {
    super(`invalid reference to ${what}: ${problem}`, { field, ...options });
  }
}

/**
 * A named namespace's file exists but is not (yet) a namespace: another `ip netns add` is between
 * creating the file and mounting the namespace on it, or a crashed one left it behind.
 */
export class NamespaceExistsError extends AgentError {
  readonly code = 'ERR_NAMESPACE_EXISTS';
  readonly path: string;
  constructor(what: string, path: string, options: AgentErrorOptions = {}) {
    super(`${what}: ${path} exists but is not a network namespace (being created, or left over)`, {
      retriable: true,
      ...options,
    });
    this.path = path;
  }
}

/** Any other failure of a system call on a namespace (EMFILE, EIO...). */
export class NamespaceSystemError extends AgentError {
  readonly code = 'ERR_NAMESPACE_SYSTEM';
  readonly errnoName: string;
  readonly syscall: string | undefined;
  constructor(what: string, errnoName: string, syscall: string | undefined, options: AgentErrorOptions = {}) {
    super(`${what}: ${syscall ?? 'system call'} failed: ${errnoName}`, options);
    this.errnoName = errnoName;
    this.syscall = syscall;
  }
}

/** Symbolic errno ('ENOENT') of an error thrown by node:fs or by the native addon, if it has one. */
export function errnoCodeOf(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

const NOT_FOUND = new Set(['ENOENT', 'ENOTDIR', 'ESRCH']);
const PERMISSION = new Set(['EACCES', 'EPERM']);
const RETRIABLE = new Set(['EAGAIN', 'EINTR', 'EMFILE', 'ENFILE', 'ENOMEM', 'EBUSY']);

/**
 * The typed error for a failed system call on a namespace file. `what` describes the reference
 * ("named namespace \"blue\""). ENOENT, ENOTDIR and ESRCH (a process exiting) mean not found.
 */
export function namespaceErrorFrom(error: unknown, what: string, path: string): AgentError {
  if (error instanceof AgentError) return error;
  const code = errnoCodeOf(error);
  if (code !== undefined && NOT_FOUND.has(code))
    return new NamespaceNotFoundError(what, { path, cause: error });
  if (code !== undefined && PERMISSION.has(code))
    return new NamespacePermissionError(what, { path, cause: error });
  if (code === 'ELOOP')
    return new NotANamespaceError(what, path, 'too many symbolic links', { cause: error });
  const syscall = error instanceof Error ? (error as { syscall?: unknown }).syscall : undefined;
  return new NamespaceSystemError(
    what,
    code ?? 'EUNKNOWN',
    typeof syscall === 'string' ? syscall : undefined,
    {
      cause: error,
      retriable: code !== undefined && RETRIABLE.has(code),
    },
  );
}
