/**
 * Network namespace references: what they are (ref.ts), how they resolve to a file and an identity
 * (resolve.ts), named namespaces made the `ip netns` way (named.ts), and watching their availability
 * (watcher.ts).
 */
export {
  NAMED_NAMESPACE_DIR,
  defaultNamespace,
  describeRef,
  fileNamespace,
  namedNamespace,
  namedNamespacePath,
  namespaceNameProblem,
  normalizeRef,
  pidNamespace,
  refKey,
  validateNamespaceName,
  validateRef,
  type NamespaceKind,
  type NamespaceRef,
} from './ref.js';
export { identityKey, sameNamespace, type NamespaceIdentity } from './identity.js';
export {
  InvalidNamespaceNameError,
  InvalidNamespaceRefError,
  NamespaceExistsError,
  NamespaceNotFoundError,
  NamespaceProcessExitedError,
  NamespacePermissionError,
  NamespaceSystemError,
  NotANamespaceError,
  namespaceErrorFrom,
} from './errors.js';
export { NamespaceFile, type FileDescriptors } from './namespace-file.js';
export { systemFiles, type FileStat, type NamespaceFiles, type NamespaceFileInfo } from './files.js';
export {
  defaultNamespacePath,
  inspectNamespaceFile,
  pathOf,
  resolve,
  resolveIfExists,
  namespaceIdentity,
  type ResolveOptions,
  type ResolvedNamespace,
} from './resolve.js';
export {
  createNamed,
  createNamedPrepared,
  deleteNamed,
  finishInterruptedDeletion,
  listNamed,
  type CreateNamedResult,
  type NamedNamespace,
  type NamedOptions,
} from './named.js';
export {
  NamespaceWatcher,
  type DirectoryWatch,
  type NamespaceAvailable,
  type NamespaceGone,
  type NamespaceReplaced,
  type NamespaceStatus,
  type NamespaceWatcherEvents,
  type NamespaceWatcherOptions,
} from './watcher.js';
