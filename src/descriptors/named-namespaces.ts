/**
 * Named namespaces the configuration needs are created on demand, exactly as `ip netns add` makes
 * them. The one we create carries a mark (the alias of its `lo`), so that even after a restart the
 * agent deletes only namespaces it made, and only when nothing uses them any more.
 */
import { existsSync, readdirSync } from 'node:fs';
import { NetlinkHandle, type Link } from '../netlink/index.js';
import {
  createNamedPrepared,
  deleteNamed,
  NAMED_NAMESPACE_DIR,
  namespaceIdentity,
  namedNamespacePath as pathOfNamed,
} from '../netns/index.js';
import type { LinuxContext } from './context.js';
import { giveTapBack, givenBackOriginal } from './link-ops.js';
import { NamespaceInUseError, NamespaceReferencedError } from './errors.js';
import { trustedEntry } from './foreign-links.js';
import type { LinkOriginal, RecordedOriginal } from './originals.js';
import { ALIAS_PREFIX, isHalfMadeLink, ownedConfigName, tapTempNameOf } from './ownership.js';

export const NETNS_DIR = NAMED_NAMESPACE_DIR;

export function namedNamespacePath(name: string): string {
  return pathOfNamed(name);
}

/** The named namespaces there are (`ip netns list`), none when the directory is missing. */
export function namedNamespaceNames(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

/** Distinct from interface marks (`netns-agent:<label>:<config name>`), so no config name can match it. */
function creatorMark(label: string): string {
  return `${ALIAS_PREFIX}-namespace:${label}`;
}

async function withHandle<T>(
  name: string,
  run: (handle: NetlinkHandle) => Promise<T>,
  namespacePath = namedNamespacePath(name),
): Promise<T> {
  const handle = new NetlinkHandle({ namespacePath, label: `named namespace ${name}` });
  try {
    return await run(handle);
  } finally {
    handle.close();
  }
}

/**
 * Makes the namespace, marked; false when there is one already (not ours to make). The mark is set
 * before the namespace gets its name: one named by us is marked from its first moment, and a
 * failed mark, or an agent killed meanwhile, leaves no namespace behind (nothing unmarked that
 * would pass for someone else's for ever).
 */
export async function createNamedNamespace(ctx: LinuxContext, name: string): Promise<boolean> {
  // One there already, or made by someone meanwhile, is theirs. (A file without a namespace on it,
  // someone's half-made one, is refused: NamespaceExistsError.)
  if (existsSync(namedNamespacePath(name))) return false;
  const made = await createNamedPrepared(name, (namespacePath) =>
    withHandle(
      name,
      async (handle) => {
        const lo = await handle.linkGet('lo');
        if (lo) await handle.linkSetAlias(lo.index, creatorMark(ctx.label));
      },
      namespacePath,
    ),
  );
  return made.created;
}

/**
 * The label of the agent that created the namespace (the mark on its `lo`), if one did: when that
 * agent deletes it (none of its items need it any more), the namespace was not taken away by a user.
 */
export async function creatorOf(name: string): Promise<string | undefined> {
  const prefix = creatorMark('');
  try {
    const alias = await withHandle(name, async (handle) => (await handle.linkGet('lo'))?.alias);
    return alias?.startsWith(prefix) ? alias.slice(prefix.length) : undefined;
  } catch {
    return undefined;
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
  // Items that name it through its file need it as much as those that name it (no longer any).
  const users = ctx.fileUsersOfNamed(name);
  if (users.length > 0) throw new NamespaceReferencedError(name, users);
  await giveBackTaps(ctx, name);
  // "Nothing uses it any more" includes others: links another agent (or someone by hand) put there
  // would go with it.
  const others = await linksOfOthers(ctx, name);
  if (others.length > 0) throw new NamespaceInUseError(name, others);
  deleteNamed(name);
}

/** Links of the namespace that are neither its `lo` nor ours (marked, or half-made by us). */
async function linksOfOthers(ctx: LinuxContext, name: string): Promise<string[]> {
  return (await namespaceOwnership(name, ctx.label)).others;
}

/**
 * Who made a named namespace (the creator mark on its `lo`), and the links in it that would keep the
 * agent of `label` from deleting it: all but `lo` and the agent's own (marked, or half made by it).
 * One link dump; read-only (a plan asks it too). Throws when the namespace cannot be read.
 */
export async function namespaceOwnership(
  name: string,
  label: string,
): Promise<{ creator: string | undefined; others: string[] }> {
  const links = await withHandle(name, (handle) => handle.linkList());
  const prefix = creatorMark('');
  const alias = links.find((link) => link.name === 'lo')?.alias;
  return {
    creator: alias?.startsWith(prefix) ? alias.slice(prefix.length) : undefined,
    others: links
      .filter(
        (link) =>
          link.name !== 'lo' &&
          ownedConfigName(label, link.alias) === undefined &&
          !isHalfMadeLink(link, label),
      )
      .map((link) => link.name),
  };
}

/**
 * TAPs we attached in a namespace about to be deleted are given back first (down, unmarked, what
 * they were before when the book knows it, under their temporary name in our own namespace): a
 * TAP is never ours to delete, and it would go with the namespace. Their items normally do this
 * before the namespace goes; this is for a restart after the store lost both the TAP's item and
 * the namespace's last user, when the namespace is not one the agent looks into.
 */
/** A TAP's original as its book entry says what its item set (an older book's: all of it). */
function givenBackFromBook(entry: RecordedOriginal | undefined, link: Link): LinkOriginal | undefined {
  return entry && (entry.set ? givenBackOriginal(entry.original, entry.set, link) : entry.original);
}

async function giveBackTaps(ctx: LinuxContext, name: string): Promise<void> {
  const identity = namespaceIdentity(namedNamespacePath(name));
  const home = ctx.views.get('default');
  if (identity === undefined || !home) return;
  await withHandle(name, async (handle) => {
    for (const link of await handle.linkList()) {
      if (link.kind !== 'tun' || ownedConfigName(ctx.label, link.alias) === undefined) continue;
      const temp = tapTempNameOf(link.alias) ?? link.name;
      try {
        await giveTapBack(
          handle,
          link.index,
          temp,
          givenBackFromBook(trustedEntry(ctx, identity, link), link),
          home,
        );
      } catch (error) {
        // Gone from here is what was wanted: its own item may be giving it back at the same moment
        // (both removed in one change), or the move went through and the kernel then refused the
        // temporary name (another link holds it): the TAP is home under its host name, still
        // marked, and its item (or the next resync) renames it once the name is free. Any other
        // failure stops the namespace's deletion, the TAP still here and marked ours.
        if ((await handle.linkGet(link.index)) !== undefined) throw error;
      }
      ctx.originals.forget(identity, link.index);
    }
  });
}
