/**
 * Named namespaces the configuration needs are created on demand, exactly as `ip netns add` makes
 * them. The one we create carries a mark (the alias of its `lo`), so that even after a restart the
 * agent deletes only namespaces it made, and only when nothing uses them any more.
 */
import { NetlinkHandle } from '../netlink/index.js';
import {
  createNamed,
  deleteNamed,
  NAMED_NAMESPACE_DIR,
  namedNamespacePath as pathOfNamed,
} from '../netns/index.js';
import type { LinuxContext } from './context.js';
import { ALIAS_PREFIX } from './ownership.js';

export const NETNS_DIR = NAMED_NAMESPACE_DIR;

export function namedNamespacePath(name: string): string {
  return pathOfNamed(name);
}

/** Distinct from interface marks (`netns-agent:<label>:<config name>`), so no config name can match it. */
function creatorMark(label: string): string {
  return `${ALIAS_PREFIX}-namespace:${label}`;
}

async function withHandle<T>(name: string, run: (handle: NetlinkHandle) => Promise<T>): Promise<T> {
  const handle = new NetlinkHandle({
    namespacePath: namedNamespacePath(name),
    label: `named namespace ${name}`,
  });
  try {
    return await run(handle);
  } finally {
    handle.close();
  }
}

export async function createNamedNamespace(ctx: LinuxContext, name: string): Promise<void> {
  // Someone may have made it meanwhile: then it is theirs, and carries no mark of ours.
  if (!createNamed(name).created) return;
  try {
    await withHandle(name, async (handle) => {
      const lo = await handle.linkGet('lo');
      if (lo) await handle.linkSetAlias(lo.index, creatorMark(ctx.label));
    });
  } catch (error) {
    // Unmarked, it would pass for someone else's from now on and never be deleted by us: take it
    // back, so that the retry creates and marks it again.
    try {
      deleteNamed(name);
    } catch {
      // still there: left as it is (a namespace nobody marked), the retry finds it
    }
    throw error;
  }
}

/** True when this agent created the namespace (its mark is on `lo`). */
export async function createdByUs(ctx: LinuxContext, name: string): Promise<boolean> {
  try {
    return await withHandle(
      name,
      async (handle) => (await handle.linkGet('lo'))?.alias === creatorMark(ctx.label),
    );
  } catch {
    return false;
  }
}

export async function deleteNamedNamespace(ctx: LinuxContext, name: string): Promise<void> {
  if (!(await createdByUs(ctx, name))) return;
  deleteNamed(name);
}
