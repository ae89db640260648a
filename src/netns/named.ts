/**
 * Named namespaces, made and removed exactly as `ip netns add/del` do (a bind mount of a fresh
 * namespace at /var/run/netns/NAME, the directory a shared mount point), so that iproute2 sees
 * ours and we see its.
 */
import {
  NamespaceExistsError,
  NamespaceNotFoundError,
  NotANamespaceError,
  errnoCodeOf,
  namespaceErrorFrom,
} from './errors.js';
import { NSFS_MAGIC } from '../native/binding.js';
import { systemFiles, type NamespaceFiles } from './files.js';
import { resolve, inspectNamespaceFile, type ResolvedNamespace } from './resolve.js';
import {
  describeRef,
  NAMED_NAMESPACE_DIR,
  namedNamespace,
  namedNamespacePath,
  namespaceNameProblem,
  validateNamespaceName,
  type NamespaceRef,
} from './ref.js';

export interface NamedOptions {
  files?: NamespaceFiles;
  /** Where named namespaces live; /var/run/netns unless a test says otherwise. */
  dir?: string;
}

export interface CreateNamedResult extends ResolvedNamespace {
  /** False when a namespace of that name already existed (made by us before, or by someone else). */
  readonly created: boolean;
}

export interface NamedNamespace {
  readonly name: string;
  readonly path: string;
  readonly identity: ResolvedNamespace['identity'];
}

/** Where a named namespace goes, and how to look at it. */
interface NamedTarget {
  files: NamespaceFiles;
  dir: string;
  ref: NamespaceRef;
  path: string;
  resolveOptions: { files: NamespaceFiles; namedDir: string };
}

function namedTarget(name: string, options: NamedOptions): NamedTarget {
  validateNamespaceName(name);
  const files = options.files ?? systemFiles;
  const dir = options.dir ?? NAMED_NAMESPACE_DIR;
  return {
    files,
    dir,
    ref: namedNamespace(name),
    path: namedNamespacePath(name, dir),
    resolveOptions: { files, namedDir: dir },
  };
}

/**
 * The namespace under the name (created: false); undefined when there is none and `orNone` (one
 * deleted between our attempt and this look). A file without a namespace on it: NamespaceExistsError.
 */
function existingNamed(target: NamedTarget, orNone: boolean): CreateNamedResult | undefined {
  try {
    return { ...resolve(target.ref, target.resolveOptions), created: false };
  } catch (error) {
    if (error instanceof NamespaceNotFoundError && orNone) return undefined;
    if (error instanceof NotANamespaceError)
      throw new NamespaceExistsError(describeRef(target.ref), target.path, { cause: error });
    throw error;
  }
}

/** A fresh network namespace, held by the returned fd only (closeNamespace lets it go). */
function freshNamespace(target: NamedTarget): number {
  try {
    return target.files.newNamespace();
  } catch (error) {
    throw namespaceErrorFrom(error, describeRef(target.ref), target.path);
  }
}

/**
 * Names the namespace of `fd` (created: true), or finds the one someone else named so first;
 * undefined when that one went again before we looked (`orNone`).
 */
function bindNamed(target: NamedTarget, fd: number, orNone: boolean): CreateNamedResult | undefined {
  try {
    target.files.bindNamespace(target.dir, target.path, fd);
  } catch (error) {
    if (errnoCodeOf(error) !== 'EEXIST')
      throw namespaceErrorFrom(error, describeRef(target.ref), target.path);
    return existingNamed(target, orNone);
  }
  return { ...resolve(target.ref, target.resolveOptions), created: true };
}

/**
 * Makes the named namespace, or finds it already there (created: false). Throws
 * InvalidNamespaceNameError, NamespacePermissionError (not root), or NamespaceExistsError when the
 * name's file exists without a namespace on it (another `ip netns add` half-way, or a leftover).
 */
export function createNamed(name: string, options: NamedOptions = {}): CreateNamedResult {
  const target = namedTarget(name, options);
  const fd = freshNamespace(target);
  try {
    // Twice at most: an existing namespace may be deleted between our attempt and our look at it.
    return bindNamed(target, fd, true) ?? bindNamed(target, fd, false)!;
  } finally {
    target.files.closeNamespace(fd);
  }
}

/**
 * As createNamed, but the fresh namespace is first handed to `prepare` (at a /proc/self/fd path
 * that reaches it), and named only once that succeeded: what prepare sets (a mark) is there from
 * the moment the name is, and a process killed meanwhile leaves no namespace behind. An existing
 * namespace of that name is returned as it is (created: false), unprepared.
 */
export async function createNamedPrepared(
  name: string,
  prepare: (namespacePath: string) => Promise<void>,
  options: NamedOptions = {},
): Promise<CreateNamedResult> {
  const target = namedTarget(name, options);
  if (target.files.exists(target.path)) return existingNamed(target, false)!;
  const fd = freshNamespace(target);
  try {
    await prepare(`/proc/self/fd/${fd}`);
    return bindNamed(target, fd, false)!;
  } finally {
    target.files.closeNamespace(fd);
  }
}

/**
 * Deletes the named namespace (its mount and file; the namespace itself lives on while processes or
 * open files hold it). Idempotent: returns false when there was nothing to delete.
 */
export function deleteNamed(name: string, options: NamedOptions = {}): boolean {
  validateNamespaceName(name);
  const files = options.files ?? systemFiles;
  const path = namedNamespacePath(name, options.dir ?? NAMED_NAMESPACE_DIR);
  try {
    const existed = files.exists(path);
    files.deleteNamed(path);
    return existed;
  } catch (error) {
    throw namespaceErrorFrom(error, describeRef(namedNamespace(name)), path);
  }
}

/**
 * Finishes a deletion of the named namespace that was cut short; true when there was one to finish.
 * `ip netns del`, and deleteNamed, unmount the namespace and then remove its file: a process killed
 * during the unmount (a slow syscall, waiting for the kernel's RCU readers; the kill takes effect as
 * it returns) leaves the file the namespace was mounted on, empty and of mode 0 as `ip netns add`
 * made it, with no namespace on it. Nothing ever removes it: the name shows in `ip netns list`, and
 * `ip netns add` refuses it, as the agent does (a file without a namespace may be someone's to
 * mount one on). Only such a file is removed, nothing else under the name. The one other moment
 * there is such a file is the few microseconds between `ip netns add` making it and mounting on
 * it: callers ask only of names their own earlier run used.
 */
export function finishInterruptedDeletion(name: string, options: NamedOptions = {}): boolean {
  const target = namedTarget(name, options);
  try {
    const stat = target.files.stat(target.path);
    if (!stat?.isFile || stat.mode !== 0 || stat.size !== 0) return false;
    if (target.files.inspect(target.path).fsMagic === NSFS_MAGIC) return false;
    target.files.deleteNamed(target.path);
    return true;
  } catch (error) {
    if (errnoCodeOf(error) === 'ENOENT') return false;
    throw namespaceErrorFrom(error, describeRef(target.ref), target.path);
  }
}

/**
 * The named namespaces that exist now, ours and others' (`ip netns list`), sorted by name. Entries
 * that are not namespaces (a file being created by `ip netns add`, a leftover) are left out.
 */
export function listNamed(options: NamedOptions = {}): NamedNamespace[] {
  const files = options.files ?? systemFiles;
  const dir = options.dir ?? NAMED_NAMESPACE_DIR;
  let names: string[];
  try {
    names = files.list(dir);
  } catch (error) {
    if (errnoCodeOf(error) === 'ENOENT') return [];
    throw namespaceErrorFrom(error, 'named namespaces', dir);
  }
  const found: NamedNamespace[] = [];
  for (const name of names.sort()) {
    if (namespaceNameProblem(name) !== undefined) continue;
    const path = namedNamespacePath(name, dir);
    try {
      found.push({
        name,
        path,
        identity: inspectNamespaceFile(path, describeRef(namedNamespace(name)), files),
      });
    } catch (error) {
      if (error instanceof NamespaceNotFoundError || error instanceof NotANamespaceError) continue;
      throw error;
    }
  }
  return found;
}
