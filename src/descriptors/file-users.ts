/**
 * A named namespace's file (FILE_REF_NS /var/run/netns/<name>) is that named namespace: items that
 * name it so use it as much as its NAMED_NS items do. A namespace the agent made is kept while they
 * are there (its deletion fails, waiting, see NamespaceReferencedError) and deleted once the last of
 * them goes. Before, it was deleted with its last NAMED_NS item, taking theirs with it.
 */
import { namespaceId, type NamespaceRef } from '../model/index.js';
import type { Engine } from '../scheduler/index.js';
import { NAMED_NAMESPACE } from './fact-keys.js';

/** The keys of the configuration's items in named namespace `name` through its file. */
export function fileUsersOfNamed(engine: Engine, name: string): string[] {
  const id = `named/${name}`;
  const users: string[] = [];
  for (const [key, ref] of fileReferences(engine)) if (namespaceId(ref) === id) users.push(key);
  return users;
}

/** The configuration's items that name a namespace by its file, with that reference. */
function* fileReferences(engine: Engine): Generator<[string, NamespaceRef]> {
  for (const status of engine.statusList()) {
    if (status.origin !== 'config') continue;
    const ref = engine.state.value<{ namespace?: NamespaceRef }>(status.key)?.namespace;
    if (ref?.kind === 'file') yield [status.key, ref];
  }
}

/**
 * Tries again the deletions of named namespaces kept for such items, once none is left. One pass
 * over the items, and only while some namespace is kept so (this runs after every transaction).
 */
export function retryReleasedNamespaces(engine: Engine): void {
  const kept = engine.failedKeys().filter((key) => {
    if (!key.startsWith(NAMED_NAMESPACE)) return false;
    const status = engine.status(key);
    return status?.error?.code === 'ERR_NAMESPACE_IN_USE' && status.nextRetryAt === undefined;
  });
  if (kept.length === 0) return;
  const used = new Set<string>();
  for (const [, ref] of fileReferences(engine)) used.add(namespaceId(ref));
  const due = kept.filter((key) => !used.has(`named/${key.slice(NAMED_NAMESPACE.length)}`));
  if (due.length > 0) engine.retryFailed(due);
}
