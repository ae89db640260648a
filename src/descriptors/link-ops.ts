/**
 * The kernel side of interfaces: what each interface type does to links, through the netlink handle
 * of the namespace. No engine knowledge here; the descriptors decide when to call what.
 */
import {
  NetlinkError,
  meansNoSuchObject,
  type Link,
  type LinkAttributes,
  type NetlinkHandle,
} from '../netlink/index.js';
import type { LinuxInterface, VethInterface } from '../model/index.js';
import type { NamespaceView } from './namespace-views.js';
import {
  creatingGroup,
  DOOMED_GROUP,
  isHalfMadeLink,
  ownedConfigName,
  ownedGroup,
  ownerAlias,
  tapTempNameOf,
} from './ownership.js';
import {
  InterfaceNotFoundError,
  LinkKindUnsupportedError,
  MtuOutOfRangeError,
  NotATapError,
  TapNameTakenError,
} from './errors.js';
import type { LinkOriginal } from './originals.js';

/** What the engine keeps for an applied interface; dependents (addresses, routes) read the ifindex. */
export interface InterfaceMetadata {
  ifindex: number;
  namespaceId: string;
  /** Namespace identity the link lives in; a new identity under the same id means it is gone. */
  namespaceIdentity: string;
  hostIfName: string;
  /** Created by us (VETH, DUMMY): deleting it takes its addresses, routes and neighbours along. */
  owned?: boolean;
  /** VETH pair creator: the other end's ifindex as the kernel reported it at creation, and when. */
  peerIndex?: { ifindex: number; at: number };
  /** For EXISTING and AUTO_TAP: what the link was before we configured it, to undo on removal. */
  original?: LinkOriginal;
}

export function isGone(error: unknown): boolean {
  return error instanceof NetlinkError && meansNoSuchObject(error.errnoName);
}

/** The MTU the kernel gives a VETH or DUMMY it makes (ETH_DATA_LEN). */
export const KERNEL_DEFAULT_MTU = 1500;

/**
 * Properties of a link the config sets. An absent MTU is the kernel's default on links we make (a
 * VETH or DUMMY whose `mtu` is removed goes back to it) and is left alone on others' links (their
 * update gives back the original, see `givenBackAttributes`). An absent MAC keeps the link's.
 */
export function desiredLinkAttributes(value: LinuxInterface, label: string | undefined): LinkAttributes {
  const attrs: LinkAttributes = { up: value.enabled };
  if (value.mtu !== undefined) attrs.mtu = value.mtu;
  else if (value.type === 'VETH' || value.type === 'DUMMY') attrs.mtu = KERNEL_DEFAULT_MTU;
  if (value.physAddress !== undefined) attrs.mac = value.physAddress;
  if (label !== undefined)
    attrs.alias = ownerAlias(label, value.name, value.type === 'AUTO_TAP' ? value.tap.tempIfName : undefined);
  return attrs;
}

/**
 * A link of others (EXISTING, LOOPBACK, AUTO_TAP) whose config drops its `mtu` or `phys_address`:
 * what it had before we set them, as its removal would give back. A field that was never set is
 * not given back: the link's owner may have changed it since.
 */
export function givenBackAttributes(
  before: LinuxInterface,
  after: LinuxInterface,
  original: LinkOriginal | undefined,
): LinkAttributes {
  const attrs: LinkAttributes = {};
  if (!original) return attrs;
  // (-1: a resync's mark of a link found not right, not an MTU the config had.)
  if (before.mtu !== undefined && before.mtu > 0 && after.mtu === undefined) attrs.mtu = original.mtu;
  if (before.physAddress !== undefined && after.physAddress === undefined && original.mac)
    attrs.mac = original.mac;
  return attrs;
}

/** The attributes among `wanted` that the link does not have yet (nothing to send when empty). */
export function linkDifferences(link: Link, wanted: LinkAttributes): LinkAttributes {
  const diff: LinkAttributes = {};
  if (wanted.up !== undefined && wanted.up !== link.up) diff.up = wanted.up;
  if (wanted.mtu !== undefined && wanted.mtu !== link.mtu) diff.mtu = wanted.mtu;
  if (wanted.mac !== undefined && wanted.mac !== link.mac) diff.mac = wanted.mac;
  if (wanted.alias !== undefined && wanted.alias !== (link.alias ?? '')) diff.alias = wanted.alias;
  if (wanted.name !== undefined && wanted.name !== link.name) diff.name = wanted.name;
  if (wanted.alias !== undefined && link.group === DOOMED_GROUP) diff.group = 0;
  return diff;
}

export async function applyLinkDifferences(
  view: NamespaceView,
  link: Link,
  wanted: LinkAttributes,
): Promise<void> {
  const diff = linkDifferences(link, wanted);
  if (Object.keys(diff).length === 0) return;
  // The kernel renames only a link that is down (EBUSY): down, rename, then up again below.
  if (diff.name !== undefined && link.up) {
    await view.handle.linkSet(link.index, { up: false });
    await view.handle.linkSet(link.index, { name: diff.name });
    delete diff.name;
    diff.up ??= true;
  }
  // A MAC change needs the link down on some drivers; set it before bringing the link up.
  if (diff.mac !== undefined && link.up && diff.up !== false) {
    await view.handle.linkSet(link.index, { mac: diff.mac });
    delete diff.mac;
    if (Object.keys(diff).length === 0) return;
  }
  await setLink(view, link.index, diff);
}

/**
 * Sets a link's attributes; a new alias or group is told to the namespace's link registry, which
 * hears of them from the kernel only when the link is up (LinkRegistry.noteUnannounced).
 */
async function setLink(
  view: Pick<NamespaceView, 'handle' | 'links'>,
  index: number,
  attrs: Omit<LinkAttributes, 'namespaceFd' | 'namespacePid'>,
): Promise<void> {
  await view.handle.linkSet(index, attrs);
  // Up (or set up by this request), the link's event says them: nothing to note (W1 marks 2000).
  const announced = attrs.up === true || (attrs.up === undefined && view.links.get(index)?.up === true);
  if ((attrs.alias !== undefined || attrs.group !== undefined) && !announced)
    view.links.noteUnannounced(index, { alias: attrs.alias, group: attrs.group });
}

/** A link by name, asking the kernel (the registry may lag behind our own last request). */
export async function findLink(view: NamespaceView, name: string): Promise<Link | undefined> {
  return view.handle.linkGet(name);
}

/**
 * Links we created whose mark (alias, a request of its own) could not be set and that could not be
 * deleted again either. Unmarked they look like someone else's, which the next attempt would refuse
 * for good (HostNameTakenError): it takes these as ours instead. Only until the process ends.
 */
const unmarkedOwnLinks = new WeakMap<NamespaceView, Set<number>>();

/** True for a link of ours that lacks its mark (see unmarkedOwnLinks). */
export function isUnmarkedOwnLink(view: NamespaceView, ifindex: number, label: string): boolean {
  const link = view.links.get(ifindex);
  if (link && isHalfMadeLink(link, label)) return true; // left by a killed agent
  return unmarkedOwnLinks.get(view)?.has(ifindex) ?? false;
}

/** Marks a link just created as ours; if that fails it is deleted again (or remembered as ours). */
async function markNewLink(view: NamespaceView, ifindex: number, label: string, name: string): Promise<void> {
  try {
    await setLink(view, ifindex, { alias: ownerAlias(label, name), group: ownedGroup(label) });
    unmarkedOwnLinks.get(view)?.delete(ifindex);
  } catch (error) {
    try {
      await view.handle.linkDel(ifindex);
    } catch {
      let set = unmarkedOwnLinks.get(view);
      if (!set) unmarkedOwnLinks.set(view, (set = new Set()));
      set.add(ifindex);
    }
    throw error;
  }
}

function metadata(view: NamespaceView, link: Link, hostIfName: string, owned = true): InterfaceMetadata {
  return { ifindex: link.index, namespaceId: view.id, namespaceIdentity: view.identity, hostIfName, owned };
}

/**
 * Creates both ends of a VETH pair in one request, from the side that owns the creation: each end
 * born in its own namespace with its name, MTU and MAC; this end also up (the kernel cannot bring the
 * peer up in the same request), and marked as ours.
 */
export async function createVethPair(
  label: string,
  self: VethInterface,
  peer: VethInterface,
  view: NamespaceView,
  peerView: NamespaceView,
): Promise<InterfaceMetadata> {
  const attrs = desiredLinkAttributes(self, undefined);
  const peerAttrs = desiredLinkAttributes(peer, undefined);
  const add = (peerFd: number | undefined) =>
    view.handle.linkAddVeth({
      name: self.hostIfName,
      group: creatingGroup(label),
      ...(attrs.mtu !== undefined ? { mtu: attrs.mtu } : {}),
      ...(attrs.mac !== undefined ? { mac: attrs.mac } : {}),
      up: self.enabled,
      peer: {
        name: peer.hostIfName,
        ...(peerAttrs.mtu !== undefined ? { mtu: peerAttrs.mtu } : {}),
        ...(peerAttrs.mac !== undefined ? { mac: peerAttrs.mac } : {}),
        ...(peerFd !== undefined ? { namespaceFd: peerFd } : {}),
      },
    });
  const link = await (peerView.id !== view.id ? peerView.file.use(add) : add(undefined));
  if (!link) throw new InterfaceNotFoundError(self.hostIfName, view.description, 'new VETH end');
  await markNewLink(view, link.index, label, self.name);
  const meta = metadata(view, link, self.hostIfName);
  return link.parentIndex ? { ...meta, peerIndex: { ifindex: link.parentIndex, at: Date.now() } } : meta;
}

/** How long after the pair's creation the other end's ifindex is trusted without asking. */
const PEER_INDEX_FRESH_MS = 2000;

/** Configures this end of a VETH pair its peer created: up/down, MTU/MAC if they differ, our mark. */
export async function adoptVethEnd(
  label: string,
  self: VethInterface,
  view: NamespaceView,
  createdAs?: { ifindex: number; at: number },
): Promise<InterfaceMetadata> {
  if (createdAs && Date.now() - createdAs.at < PEER_INDEX_FRESH_MS) {
    // Just born with the MTU and MAC asked for, down: only its state and our mark are missing.
    try {
      await setLink(view, createdAs.ifindex, { up: self.enabled, alias: ownerAlias(label, self.name) });
      return {
        ifindex: createdAs.ifindex,
        namespaceId: view.id,
        namespaceIdentity: view.identity,
        hostIfName: self.hostIfName,
        owned: true,
      };
    } catch (error) {
      if (!isGone(error)) throw error; // gone meanwhile: look it up below
    }
  }
  // Asked, not taken from the registry: right after a re-creation it may still hold the old end.
  const link = await findLink(view, self.hostIfName);
  if (!link || link.kind !== 'veth')
    throw new InterfaceNotFoundError(self.hostIfName, view.description, 'VETH end');
  await applyLinkDifferences(view, link, desiredLinkAttributes(self, label));
  return metadata(view, link, self.hostIfName);
}

export async function createDummy(
  label: string,
  self: LinuxInterface,
  view: NamespaceView,
): Promise<InterfaceMetadata> {
  const attrs = desiredLinkAttributes(self, undefined);
  const link = await view.handle
    .linkAddDummy({
      name: self.hostIfName,
      group: creatingGroup(label),
      ...(attrs.mtu !== undefined ? { mtu: attrs.mtu } : {}),
      ...(attrs.mac !== undefined ? { mac: attrs.mac } : {}),
      up: self.enabled,
    })
    .catch((error: unknown) => {
      // A kernel without the dummy module: said on the item's type, not as a bare errno.
      if (error instanceof NetlinkError && error.errnoName === 'EOPNOTSUPP')
        throw new LinkKindUnsupportedError('DUMMY', 'dummy', view.description, error);
      throw error;
    });
  if (!link) throw new InterfaceNotFoundError(self.hostIfName, view.description, 'new interface');
  await markNewLink(view, link.index, label, self.name);
  return metadata(view, link, self.hostIfName);
}

/** Refuses, before anything is changed, an MTU outside the range the link's driver reports. */
export function checkMtuRange(self: LinuxInterface, link: Link, where: string): void {
  const mtu = self.mtu;
  if (mtu === undefined) return;
  if (
    (link.maxMtu !== undefined && link.maxMtu > 0 && mtu > link.maxMtu) ||
    (link.minMtu !== undefined && mtu < link.minMtu)
  )
    throw new MtuOutOfRangeError(mtu, `${link.name} in ${where}`, {
      ...(link.minMtu !== undefined ? { min: link.minMtu } : {}),
      ...(link.maxMtu ? { max: link.maxMtu } : {}),
    });
}

/** What a link of others is now, to be given back on removal. */
export function linkOriginal(link: Link): NonNullable<InterfaceMetadata['original']> {
  return { mtu: link.mtu, up: link.up, name: link.name, ...(link.mac ? { mac: link.mac } : {}) };
}

/**
 * Configures a link someone else made (EXISTING, LOOPBACK). `remember` records what it was before
 * the first change (src/descriptors/foreign-links.ts), so that removing the config undoes exactly
 * what we set, even after a restart. No owner mark: we never delete it.
 */
export async function configureForeignLink(
  self: LinuxInterface,
  view: NamespaceView,
  remember: (link: Link) => LinkOriginal,
): Promise<InterfaceMetadata> {
  const link = await findLink(view, self.hostIfName);
  if (!link) throw new InterfaceNotFoundError(self.hostIfName, view.description, 'interface');
  checkMtuRange(self, link, view.description);
  const original = remember(link);
  await applyLinkDifferences(view, link, desiredLinkAttributes(self, undefined));
  return { ...metadata(view, link, self.hostIfName, false), original };
}

export async function restoreForeignLink(
  view: NamespaceView,
  meta: InterfaceMetadata,
  keepUp: boolean,
  value: LinuxInterface,
): Promise<'restored' | 'gone'> {
  const link = await view.handle.linkGet(meta.ifindex);
  if (!link) return 'gone';
  if (!meta.original) return 'restored';
  // A loopback stays up, and goes up again if it was up before us (a user may have had it down).
  const up = keepUp ? link.up || meta.original.up : meta.original.up;
  const { mtu, mac } = givenBackOriginal(meta.original, setByValue(value), link);
  await applyLinkDifferences(view, link, { up, mtu, ...(mac ? { mac } : {}) });
  return 'restored';
}

/**
 * What a link of others gets back when its item goes: its original MTU and MAC where the item set
 * them (`set`), and what it has now where it did not (its owner's, maybe changed meanwhile).
 */
export function givenBackOriginal(
  original: LinkOriginal,
  set: { mtu?: unknown; mac?: unknown },
  link: Link,
): LinkOriginal {
  return {
    ...original,
    ...(set.mtu === undefined ? { mtu: link.mtu } : {}),
    ...(set.mac === undefined && link.mac ? { mac: link.mac } : {}),
  };
}

/** What the value of a link of others sets, as givenBackOriginal reads it. */
export function setByValue(value: LinuxInterface): { mtu?: number; mac?: string } {
  return {
    ...(value.mtu !== undefined ? { mtu: value.mtu } : {}),
    ...(value.physAddress !== undefined ? { mac: value.physAddress } : {}),
  };
}

/**
 * A link of others' original, as its value starts to set MTU or MAC: the original of a field the
 * value did not set before is what the link has now (its owner may have changed it since the
 * item was first configured).
 */
export function refreshedOriginal(
  original: LinkOriginal,
  before: LinuxInterface,
  after: LinuxInterface,
  link: Link,
): LinkOriginal {
  const refreshed = { ...original };
  if (before.mtu === undefined && after.mtu !== undefined) refreshed.mtu = link.mtu;
  if (before.physAddress === undefined && after.physAddress !== undefined && link.mac)
    refreshed.mac = link.mac;
  return refreshed;
}

/**
 * AUTO_TAP: the TAP someone else made under a temporary name in our namespace is renamed and moved
 * into its namespace in one request, then configured there. What it was is remembered before the
 * move (under the ifindex it keeps when that one is free there) and again after it, if it changed.
 */
export async function attachTap(
  label: string,
  self: LinuxInterface & { tap: { tempIfName: string } },
  ownView: NamespaceView,
  view: NamespaceView,
  remember: (link: Link, original?: LinkOriginal) => LinkOriginal,
): Promise<InterfaceMetadata> {
  let link = await findLink(view, self.hostIfName);
  let original: LinkOriginal;
  if (link) {
    checkMtuRange(self, link, view.description);
    original = remember(link);
  } else {
    const tap = await findLink(ownView, self.tap.tempIfName);
    if (!tap) throw new InterfaceNotFoundError(self.tap.tempIfName, ownView.description, 'TAP');
    // Only a TAP is taken: a temporary name that is the host's lo or eth0 must not take it down.
    if (tap.kind !== 'tun')
      throw new NotATapError(tap.name, tap.kind ?? 'none (a device)', ownView.description);
    checkMtuRange(self, tap, ownView.description);
    original = linkOriginal(tap);
    // Recorded under the place it is going to, unless another link has that ifindex there.
    const indexFree = view.id === ownView.id || !view.links.get(tap.index);
    if (indexFree) remember({ ...tap, name: self.hostIfName }, original);
    // Our mark first (it goes along with the move): a TAP of ours is never taken for someone else's.
    await setLink(ownView, tap.index, { alias: desiredLinkAttributes(self, label).alias ?? '' });
    if (tap.up) await ownView.handle.linkSetDown(tap.index);
    if (view.id === ownView.id) await ownView.handle.linkSetName(tap.index, self.hostIfName);
    else
      await view.file.use((fd) =>
        ownView.handle.linkSetNamespace(tap.index, { fd, path: view.file.path }, self.hostIfName),
      );
    link = await findLink(view, self.hostIfName);
    if (!link) throw new InterfaceNotFoundError(self.hostIfName, view.description, 'TAP');
    if (!indexFree || link.index !== tap.index) remember(link, original);
  }
  await applyLinkDifferences(view, link, desiredLinkAttributes(self, label));
  return { ...metadata(view, link, self.hostIfName, false), original };
}

/**
 * Undoes an attachTap that failed part way (a setting the TAP refused): the TAP, found by our mark
 * where it went or still at home, is given back as a removal would. Nothing of ours found: nothing
 * was done.
 */
export async function undoTapAttach(
  label: string,
  self: LinuxInterface & { tap: { tempIfName: string } },
  ownView: NamespaceView,
  view: NamespaceView,
  original: LinkOriginal | undefined,
): Promise<void> {
  const ours = (link: Link | undefined): link is Link =>
    link !== undefined && link.kind === 'tun' && ownedConfigName(label, link.alias) === self.name;
  const there = await view.handle.linkGet(self.hostIfName);
  if (ours(there)) {
    const home = view.id === ownView.id ? 'here' : ownView;
    return giveTapBack(view.handle, there.index, self.tap.tempIfName, original, home);
  }
  // Not moved yet (marked, maybe set down, before the move was refused): our mark goes.
  const home = await ownView.handle.linkGet(self.tap.tempIfName);
  if (ours(home)) await giveTapBack(ownView.handle, home.index, self.tap.tempIfName, original, 'here');
}

/** Gives a TAP back: down, its temporary name again, in our own namespace, without our mark. */
export async function detachTap(
  self: LinuxInterface & { tap: { tempIfName: string } },
  ownView: NamespaceView,
  view: NamespaceView | undefined,
  meta: InterfaceMetadata,
  /** Where else a TAP of this item may be: one someone moved into another namespace we watch. */
  elsewhere: () => { view: NamespaceView; link: Link } | undefined = () => undefined,
): Promise<void> {
  const there = view ? await view.handle.linkGet(meta.ifindex) : undefined;
  if (there && view) {
    try {
      await giveBackFound(self, meta, view.handle, there, view.id === ownView.id ? 'here' : ownView);
      return;
    } catch (error) {
      // The deletion of the namespace we made for it may be giving it back at the same moment: the
      // link vanished from under us. That give-back can fail halfway too (below).
      if (!isGone(error) || (await view.handle.linkGet(meta.ifindex)) !== undefined) throw error;
    }
  }
  // Not there: a move that failed halfway (the kernel moved it home, then refused the temporary
  // name another link holds) left it in our own namespace under its host name, still marked: it
  // is renamed there once the name is free (EEXIST until then, retried).
  const home = await ownView.handle.linkGet(self.hostIfName);
  if (home !== undefined && home.kind === 'tun' && tapTempNameOf(home.alias) === self.tap.tempIfName)
    return giveBackFound(self, meta, ownView.handle, home, 'here');
  // Moved by someone into another namespace we watch, still marked ours: given back from there,
  // or it would stay there, its item waiting for it to appear at home for ever.
  const found = elsewhere();
  if (found)
    await giveBackFound(
      self,
      meta,
      found.view.handle,
      found.link,
      found.view.id === ownView.id ? 'here' : ownView,
    );
}

async function giveBackFound(
  self: LinuxInterface & { tap: { tempIfName: string } },
  meta: InterfaceMetadata,
  handle: NetlinkHandle,
  link: Link,
  home: Pick<NamespaceView, 'handle' | 'file'> | 'here',
): Promise<void> {
  // Only what the value set is given back: an MTU or MAC the TAP's owner changed meanwhile stays.
  const original = meta.original && givenBackOriginal(meta.original, setByValue(self), link);
  await giveTapBack(handle, link.index, self.tap.tempIfName, original, home);
}

/**
 * Gives a TAP back to whoever made it: down, what it was (MTU, MAC), under its temporary name in our
 * own namespace (`home`, or 'here' when it is there already). Our mark goes last, once it is home:
 * a TAP that could not be moved (its temporary name taken meanwhile) still says it is ours, so it
 * is tried again, and never goes with a namespace deleted under it.
 */
export async function giveTapBack(
  handle: NetlinkHandle,
  index: number,
  tempName: string,
  original: LinkOriginal | undefined,
  home: Pick<NamespaceView, 'handle' | 'file'> | 'here',
): Promise<void> {
  const restore: LinkAttributes = { up: false };
  if (original) {
    restore.mtu = original.mtu;
    if (original.mac) restore.mac = original.mac;
  }
  await handle.linkSet(index, restore);
  if (home === 'here') {
    await tempNameFree(tempName, () => handle.linkSetName(index, tempName));
    await handle.linkSet(index, { alias: '' });
    return;
  }
  await tempNameFree(tempName, () =>
    home.file.use((fd) => handle.linkSetNamespace(index, { fd, path: home.file.path }, tempName)),
  );
  const moved = await home.handle.linkGet(tempName);
  if (moved) await home.handle.linkSet(moved.index, { alias: '' });
}

/** The kernel's bare EEXIST of a give-back said as what it is: another link has the temporary name. */
async function tempNameFree(tempName: string, giveBack: () => Promise<void>): Promise<void> {
  try {
    await giveBack();
  } catch (error) {
    if (error instanceof NetlinkError && error.errnoName === 'EEXIST')
      throw new TapNameTakenError(tempName, error);
    throw error;
  }
}

/** Deletes a link we made; a link (or namespace) already gone counts as done. */
export async function deleteOwnLink(view: NamespaceView | undefined, meta: InterfaceMetadata): Promise<void> {
  if (!view || view.identity !== meta.namespaceIdentity) return;
  try {
    await view.handle.linkDel(meta.ifindex);
  } catch (error) {
    if (!isGone(error)) throw error;
  }
}
