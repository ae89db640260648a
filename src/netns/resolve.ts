/**
 * From a reference to the namespace it names: its file path and identity. The one place where
 * references meet the file system. A file is accepted only when it is a regular file on nsfs whose
 * namespace type is network: nothing else is opened (no directories, devices or FIFOs), so a wrong
 * path is refused rather than read.
 */
import { CLONE_NEWNET, NSFS_MAGIC, type NamespaceFileInfo } from '../native/binding.js';
import { NamespaceNotFoundError, NotANamespaceError, namespaceErrorFrom } from './errors.js';
import { systemFiles, type NamespaceFiles } from './files.js';
import { identityKey, type NamespaceIdentity } from './identity.js';
import {
  describeRef,
  NAMED_NAMESPACE_DIR,
  namedNamespacePath,
  validateRef,
  type NamespaceRef,
} from './ref.js';

/** statfs f_type of the file systems a path is likeliest on (linux/magic.h), for messages. */
const FILE_SYSTEM_NAMES = new Map<number, string>([
  [0xef53, 'ext4'],
  [0x01021994, 'tmpfs'],
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x794c7630, 'overlayfs'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x1373, 'devfs'],
  [0x6969, 'nfs'],
  [0x858458f6, 'ramfs'],
]);
export interface ResolvedNamespace {
  readonly ref: NamespaceRef;
  /** The namespace file; what the netlink layer opens to reach the namespace. */
  readonly path: string;
  readonly identity: NamespaceIdentity;
}

export interface ResolveOptions {
  /** The file-system effects; tests pass a fake. */
  files?: NamespaceFiles;
  /** Where named namespaces live; /var/run/netns unless a test says otherwise. */
  namedDir?: string;
}

/**
 * The agent's own namespace is its main thread's: /proc/self/ns/net is the thread group leader's
 * too, but naming the main thread explicitly keeps the path right whichever thread looks at it.
 */
export function defaultNamespacePath(): string {
  return `/proc/${process.pid}/task/${process.pid}/ns/net`;
}

/** The file a (valid) reference names. Throws InvalidNamespace*Error when it is not valid. */
export function pathOf(ref: NamespaceRef, namedDir = NAMED_NAMESPACE_DIR): string {
  validateRef(ref);
  switch (ref.kind) {
    case 'default':
      return defaultNamespacePath();
    case 'named':
      return namedNamespacePath(ref.name, namedDir);
    case 'pid':
      return `/proc/${ref.pid}/ns/net`;
    case 'file':
      return ref.path;
  }
}

const NAMESPACE_TYPES = new Map<number, string>([
  [0x00020000, 'mount'],
  [0x02000000, 'cgroup'],
  [0x04000000, 'uts'],
  [0x08000000, 'ipc'],
  [0x10000000, 'user'],
  [0x20000000, 'pid'],
  [0x00000080, 'time'],
]);

/**
 * Identity of the network namespace file at path, or a typed error: NamespaceNotFoundError,
 * NamespacePermissionError, NotANamespaceError, NamespaceSystemError. `what` names the reference.
 */
export function inspectNamespaceFile(
  path: string,
  what: string,
  files: NamespaceFiles = systemFiles,
): NamespaceIdentity {
  let info: NamespaceFileInfo;
  try {
    // stat first: it opens nothing, so directories, devices and FIFOs are refused untouched.
    const stat = files.stat(path);
    if (stat === undefined) throw new NamespaceNotFoundError(what, { path });
    if (!stat.isFile) throw new NotANamespaceError(what, path, 'not a regular file');
    info = files.inspect(path);
  } catch (error) {
    throw namespaceErrorFrom(error, what, path);
  }
  if (info.fsMagic !== NSFS_MAGIC) {
    throw new NotANamespaceError(
      what,
      path,
      `on a file system of type ${FILE_SYSTEM_NAMES.get(info.fsMagic) ?? `0x${info.fsMagic.toString(16)}`}, not nsfs`,
    );
  }
  if (info.nsType !== CLONE_NEWNET) {
    const type = NAMESPACE_TYPES.get(info.nsType) ?? `0x${info.nsType.toString(16)}`;
    throw new NotANamespaceError(what, path, `a ${type} namespace`);
  }
  return { dev: info.dev, ino: info.ino };
}

const defaultByFiles = new WeakMap<NamespaceFiles, ResolvedNamespace>();

/**
 * Resolves a reference: its path and identity, or a typed error. The default namespace is looked
 * at once (the main thread never leaves it) and remembered.
 */
export function resolve(ref: NamespaceRef, options: ResolveOptions = {}): ResolvedNamespace {
  const files = options.files ?? systemFiles;
  if (ref.kind === 'default') {
    const known = defaultByFiles.get(files);
    if (known) return known;
  }
  const path = pathOf(ref, options.namedDir);
  const resolved: ResolvedNamespace = {
    ref,
    path,
    identity: inspectNamespaceFile(path, describeRef(ref), files),
  };
  if (ref.kind === 'default') defaultByFiles.set(files, resolved);
  return resolved;
}

/** Like resolve(), but undefined instead of NamespaceNotFoundError (other errors still throw). */
export function resolveIfExists(
  ref: NamespaceRef,
  options: ResolveOptions = {},
): ResolvedNamespace | undefined {
  try {
    return resolve(ref, options);
  } catch (error) {
    if (error instanceof NamespaceNotFoundError) return undefined;
    throw error;
  }
}

/**
 * The identity key of the network namespace a file (null: this process's own) holds, or undefined
 * when there is none there or it is not a network namespace.
 */
export function namespaceIdentity(path: string | null): string | undefined {
  const ref: NamespaceRef = path === null ? { kind: 'default' } : { kind: 'file', path };
  try {
    const resolved = resolveIfExists(ref);
    return resolved ? identityKey(resolved.identity) : undefined;
  } catch {
    return undefined; // not a network namespace (or not ours to read): not available
  }
}
