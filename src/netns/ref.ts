/**
 * A reference to a network namespace, as the rest of the agent names one. Four kinds, resolved in
 * one place (resolve.ts): the agent's own namespace, a named one (`ip netns` style, a bind mount in
 * /var/run/netns), a process's namespace, or any namespace file. Validation is pure and strict so
 * that a bad name fails with a clear error before any file is touched.
 */
import { InvalidNamespaceNameError, InvalidNamespaceRefError } from './errors.js';

export type NamespaceRef =
  | { readonly kind: 'default' }
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'pid'; readonly pid: number }
  | { readonly kind: 'file'; readonly path: string };

export type NamespaceKind = NamespaceRef['kind'];

/** Where `ip netns` keeps named namespaces. /run/netns is the same place (/var/run -> /run). */
export const NAMED_NAMESPACE_DIR = '/var/run/netns';

/** Directories that hold named namespaces under either spelling. */
const NAMED_NAMESPACE_DIRS = ['/var/run/netns/', '/run/netns/'];

/** NAME_MAX: a name is one directory entry. */
const MAX_NAME_BYTES = 255;
/** PID_MAX_LIMIT of Linux (2^22). */
const MAX_PID = 4_194_304;
/** PATH_MAX including the terminating NUL. */
const MAX_PATH_BYTES = 4095;

export const defaultNamespace: NamespaceRef = Object.freeze({ kind: 'default' });

export function namedNamespace(name: string): NamespaceRef {
  return { kind: 'named', name };
}

export function pidNamespace(pid: number): NamespaceRef {
  return { kind: 'pid', pid };
}

export function fileNamespace(path: string): NamespaceRef {
  return { kind: 'file', path };
}

/**
 * The rules of iproute2 (`ip netns add`), plus NUL: a name is exactly one directory entry of
 * /var/run/netns, so '/', '.', '..' and the empty string would name something else.
 */
export function namespaceNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name === '.' || name === '..') return `"${name}" is not a name`;
  if (name.includes('/')) return 'contains "/"';
  if (name.includes('\0')) return 'contains a NUL character';
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) return `is ${bytes} bytes long, more than ${MAX_NAME_BYTES}`;
  return undefined;
}

export function validateNamespaceName(name: string): void {
  const problem = namespaceNameProblem(name);
  if (problem !== undefined) throw new InvalidNamespaceNameError(name, problem);
}

/** Throws InvalidNamespaceNameError / InvalidNamespaceRefError when the reference cannot name a namespace. */
export function validateRef(ref: NamespaceRef): void {
  switch (ref.kind) {
    case 'default':
      return;
    case 'named':
      validateNamespaceName(ref.name);
      return;
    case 'pid':
      if (!Number.isSafeInteger(ref.pid) || ref.pid < 1 || ref.pid > MAX_PID) {
        throw new InvalidNamespaceRefError(
          describeRef(ref),
          'pid',
          `pid ${String(ref.pid)} is not an integer from 1 to ${MAX_PID}`,
        );
      }
      return;
    case 'file': {
      const problem = filePathProblem(ref.path);
      if (problem !== undefined)
        throw new InvalidNamespaceRefError(describeRef(ref), 'path', `path ${problem}`);
      return;
    }
  }
}

function filePathProblem(path: string): string | undefined {
  if (path === '') return 'is empty';
  if (path.includes('\0')) return 'contains a NUL character';
  // A relative path would depend on the agent's working directory.
  if (!path.startsWith('/')) return `"${path}" is not absolute`;
  if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) return `is longer than ${MAX_PATH_BYTES} bytes`;
  return undefined;
}

/**
 * The same reference written the canonical way: a file reference to /run/netns/NAME or
 * /var/run/netns/NAME is the named reference NAME. Other references are returned as they are.
 */
export function normalizeRef(ref: NamespaceRef): NamespaceRef {
  if (ref.kind !== 'file') return ref;
  for (const dir of NAMED_NAMESPACE_DIRS) {
    if (ref.path.startsWith(dir)) {
      const name = ref.path.slice(dir.length);
      if (namespaceNameProblem(name) === undefined) return namedNamespace(name);
    }
  }
  return ref;
}

/** A stable string for maps and logs: `default`, `named:NAME`, `pid:PID`, `file:PATH`. */
export function refKey(ref: NamespaceRef): string {
  switch (ref.kind) {
    case 'default':
      return 'default';
    case 'named':
      return `named:${ref.name}`;
    case 'pid':
      return `pid:${ref.pid}`;
    case 'file':
      return `file:${ref.path}`;
  }
}

/** For messages: `the default namespace`, `named namespace "blue"`, `namespace of pid 42`... */
export function describeRef(ref: NamespaceRef): string {
  switch (ref.kind) {
    case 'default':
      return 'the default namespace';
    case 'named':
      return `named namespace ${JSON.stringify(ref.name)}`;
    case 'pid':
      return `namespace of pid ${ref.pid}`;
    case 'file':
      return `namespace file ${JSON.stringify(ref.path)}`;
  }
}

/** Path of a named namespace's file (the name must be valid). */
export function namedNamespacePath(name: string, dir = NAMED_NAMESPACE_DIR): string {
  return `${dir}/${name}`;
}
