/**
 * Interfaces (VETH, AUTO_TAP, LOOPBACK, DUMMY, EXISTING), keyed by their datastore key.
 *
 * A VETH pair is two items pointing at each other. The end whose name sorts first creates the pair
 * (both ends, each born in its namespace) once the other end is configured and its namespace open
 * (its "veth-end" marker); the other end waits for the first to be applied and then configures its
 * own side. Removing either end from the config removes the pair; the remaining end waits, and the
 * pair comes back when both are there again.
 */
import {
  describeNamespace,
  namespaceId,
  type AutoTapInterface,
  type LinuxInterface,
  type VethInterface,
} from '../model/index.js';
import { InterfaceNotFoundError } from './errors.js';
import { NetlinkError, type Link } from '../netlink/index.js';
import type { Dep, DerivedItem, EngineView, LinuxDescriptor } from './engine-contract.js';
import type { LinuxContext } from './context.js';
import {
  addressItem,
  linkFact,
  linkUpFact,
  namedNamespaceItem,
  namespaceFact,
  tapFact,
  vethEndItem,
} from './fact-keys.js';
import {
  adoptVethEnd,
  applyLinkDifferences,
  attachTap,
  configureForeignLink,
  createDummy,
  createVethPair,
  desiredLinkAttributes,
  givenBackAttributes,
  detachTap,
  isUnmarkedOwnLink,
  checkMtuRange,
  refreshedOriginal,
  restoreForeignLink,
  undoTapAttach,
  type InterfaceMetadata,
} from './link-ops.js';
import { retrieveInterfaces } from './interface-retrieve.js';
import { ownedConfigName, tapTempNameOf } from './ownership.js';
import { recordOriginal } from './foreign-links.js';
import type { NamespaceView } from './namespace-views.js';
import { AgentError } from '../errors.js';
import type { LinkOriginal } from './originals.js';
import { randomBytes } from 'node:crypto';

export class VethPeerMismatchError extends AgentError {
  readonly code = 'ERR_VETH_PEER_MISMATCH';
}

export class HostNameTakenError extends AgentError {
  readonly code = 'ERR_HOST_NAME_TAKEN';
}

/**
 * Why a host name cannot be taken: a link of another item of ours holds it (two items reaching one
 * namespace by different references: a named namespace and a process in it, a container sharing
 * the host's), or a link that is not ours.
 */
function nameTakenMessage(
  hostIfName: string,
  where: string,
  label: string,
  holderAlias: string | undefined,
): string {
  const holder = ownedConfigName(label, holderAlias);
  return holder === undefined
    ? `${hostIfName} already exists in ${where} and is not managed by this agent`
    : `${hostIfName} already exists in ${where}, held by item ${holder} of this agent (the same namespace, referenced another way?)`;
}

/** The first end (by config name) creates the pair. */
export function createsPair(value: VethInterface): boolean {
  return value.name < value.veth.peerIfName;
}

export function namespaceDependency(ref: LinuxInterface['namespace']): Dep {
  const what = ref.kind === 'microservice' ? `microservice ${ref.label}` : describeNamespace(ref);
  return { key: namespaceFact(namespaceId(ref)), reason: `waiting for ${what}`, recreateOnChange: true };
}

/**
 * What a route or an ARP entry through a link needs of it: that it exists, then that it is up (the
 * first unmet one gives the pending reason). Up again after it went down: the kernel flushed the
 * routes and neighbours through it meanwhile, so the item is made again (kernel-facts.ts). A link
 * named by its interface item (`itemKey`) is also waited for as that item: configured, not merely
 * a link of that host name, which may be someone else's while the item has failed.
 */
export function linkDependencies(
  ref: LinuxInterface['namespace'],
  hostIfName: string,
  interfaceName: string,
  itemKey: string | undefined,
  elsewhere?: LinuxInterface['namespace'],
): Dep[] {
  const nsId = namespaceId(ref);
  const where = describeNamespace(ref);
  // An interface item of that name lives in another namespace: the wait may never end, say why.
  const note = elsewhere
    ? ` (the interface item ${interfaceName} is in ${describeNamespace(elsewhere)})`
    : '';
  const deps: Dep[] = [
    {
      key: linkFact(nsId, hostIfName),
      reason: `waiting for interface ${interfaceName} to exist in ${where}${note}`,
    },
    {
      key: linkUpFact(nsId, hostIfName),
      reason: `waiting for interface ${interfaceName} to be up in ${where}`,
      recreateOnChange: true,
    },
  ];
  if (itemKey !== undefined)
    deps.push({ key: itemKey, reason: `waiting for interface ${interfaceName} to be configured` });
  return deps;
}

/** Items derived from an interface: its addresses, its VETH end marker, the named namespace it needs. */
export function interfaceDerived(key: string, value: LinuxInterface): DerivedItem[] {
  const derived: DerivedItem[] = value.ipAddresses.map((cidr) => ({
    key: addressItem(key, cidr),
    value: {
      interfaceKey: key,
      cidr,
      noDad: value.type !== 'EXISTING' && value.type !== 'AUTO_TAP',
      goesWithLink: value.type === 'VETH' || value.type === 'DUMMY',
    },
    descriptor: 'address',
  }));
  // Only the end that waits for the other to make the pair has a marker: the maker depends on it.
  if (value.type === 'VETH' && !createsPair(value)) {
    derived.push({
      key: vethEndItem(key),
      value: { namespace: namespaceId(value.namespace) },
      descriptor: 'veth-end',
    });
  }
  derived.push(...namedNamespaceNeeded(value.namespace));
  return derived;
}

/** A named namespace is created on demand for the items that live in it. */
export function namedNamespaceNeeded(ref: LinuxInterface['namespace']): DerivedItem[] {
  return ref.kind === 'named'
    ? [{ key: namedNamespaceItem(ref.name), value: { name: ref.name }, descriptor: 'named-namespace' }]
    : [];
}

export function interfaceDescriptor(ctx: LinuxContext): LinuxDescriptor<LinuxInterface, InterfaceMetadata> {
  return {
    name: 'interface',
    keyPrefix: ctx.prefix('interface'),
    handles: (key) => !key.includes('/address/') && !key.endsWith('/veth-end'),

    dependencies(_key, value) {
      const deps: Dep[] = [namespaceDependency(value.namespace)];
      const nsId = namespaceId(value.namespace);
      switch (value.type) {
        case 'VETH': {
          const peerKey = ctx.interfaceKey(value.veth.peerIfName);
          deps.push({
            key: createsPair(value) ? vethEndItem(peerKey) : peerKey,
            reason: `waiting for VETH peer ${value.veth.peerIfName} to be configured`,
            recreateOnChange: true,
          });
          break;
        }
        case 'AUTO_TAP':
          deps.push({
            // The TAP at home under its temporary name, or ours (marked) in the item's namespace
            // whatever its name there: not its host name, so that a new host name renames it in
            // place rather than giving it back and taking it again.
            anyOf: [linkFact('default', value.tap.tempIfName), tapFact(nsId, value.tap.tempIfName)],
            reason: `waiting for TAP ${value.tap.tempIfName} to appear`,
          });
          break;
        case 'EXISTING':
          deps.push({
            key: linkFact(nsId, value.hostIfName),
            reason: `waiting for interface ${value.hostIfName} to exist in ${describeNamespace(value.namespace)}`,
          });
          break;
        default:
      }
      return deps;
    },

    derived: interfaceDerived,

    // The links it deletes (a VETH, a DUMMY) or gives back under their temporary name (a TAP):
    // the host name names no link of that namespace once the item goes. EXISTING links and the
    // namespace's lo stay.
    withdraws(_key, value) {
      if (value.type === 'EXISTING' || value.type === 'LOOPBACK') return [];
      const nsId = namespaceId(value.namespace);
      // A TAP given back where it is, under the name it has: the link of that name stays.
      if (value.type === 'AUTO_TAP' && nsId === 'default' && value.hostIfName === value.tap.tempIfName)
        return [];
      return [linkFact(nsId, value.hostIfName), linkUpFact(nsId, value.hostIfName)];
    },

    async create(engine, key, value) {
      const view = ctx.view(value.namespace);
      const existing = view.links.get(value.hostIfName);
      const owner = !existing
        ? undefined
        : isUnmarkedOwnLink(view, existing.index, ctx.label)
          ? value.name
          : ownedConfigName(ctx.label, existing.alias);
      switch (value.type) {
        case 'VETH': {
          const peer = engine.value<LinuxInterface>(ctx.interfaceKey(value.veth.peerIfName));
          if (!peer || peer.type !== 'VETH' || peer.veth.peerIfName !== value.name) {
            throw new VethPeerMismatchError(
              `VETH ${value.name} names ${value.veth.peerIfName} as its peer, but ${value.veth.peerIfName} ` +
                (peer?.type === 'VETH' ? `names ${peer.veth.peerIfName}` : 'is not a VETH'),
              { field: 'veth.peer_if_name' },
            );
          }
          if (!createsPair(value)) {
            const creator = engine.metadata<InterfaceMetadata>(ctx.interfaceKey(value.veth.peerIfName));
            try {
              return await adoptVethEnd(ctx.label, value, view, creator?.peerIndex);
            } catch (error) {
              if (error instanceof InterfaceNotFoundError && creator) await endLonePair(ctx, peer, creator);
              throw error;
            }
          }
          if (existing && owner !== value.name) {
            throw new HostNameTakenError(
              nameTakenMessage(value.hostIfName, view.description, ctx.label, existing.alias),
              { field: 'host_if_name' },
            );
          }
          if (existing) {
            // Ours from before (e.g. a half-finished run): start from scratch, as its peer may be wrong.
            await ctx.deletes.delete(view, existing.index, { amidCreations: true });
          }
          const peerView = ctx.view(peer.namespace);
          await clearPeerName(ctx, engine, peer, peerView);
          return createVethPair(ctx.label, value, peer, view, peerView);
        }
        case 'DUMMY':
          if (existing && owner !== value.name) {
            throw new HostNameTakenError(
              nameTakenMessage(value.hostIfName, view.description, ctx.label, existing.alias),
              { field: 'host_if_name' },
            );
          }
          if (existing) {
            await applyLinkDifferences(view, existing, desiredLinkAttributes(value, ctx.label));
            return {
              ifindex: existing.index,
              namespaceId: view.id,
              namespaceIdentity: view.identity,
              hostIfName: value.hostIfName,
            };
          }
          return createDummy(ctx.label, value, view);
        case 'AUTO_TAP': {
          // Nothing half-done with a link of others: a TAP taken and then refused a setting (an MTU
          // above its maximum) is given back at once, as a failed item is not applied and its
          // deletion would have nothing to undo.
          const recorded: number[] = [];
          const ownView = ctx.view({ kind: 'default' });
          // A link that has the host name already is taken only when it is this item's TAP (a
          // restart finds it attached), or the TAP itself, given back where it is under that name.
          // Someone's veth of that name (or the host's eth0) is not taken over, renamed or moved.
          const itsTap = existing?.kind === 'tun' && owner === value.name;
          const tapAtHome = view.id === ownView.id && value.hostIfName === value.tap.tempIfName;
          if (existing && !itsTap && !tapAtHome)
            throw new HostNameTakenError(
              owner === value.name
                ? `${value.hostIfName} in ${view.description} bears this item's mark but is a link of kind ${existing.kind ?? 'none (a device)'}, not a TAP: not taken`
                : nameTakenMessage(value.hostIfName, view.description, ctx.label, existing.alias),
              { field: 'host_if_name' },
            );
          try {
            return await attachTap(ctx.label, value, ownView, view, (link, original) => {
              recorded.push(link.index);
              return recordOriginal(ctx, key, 'AUTO_TAP', value, view, link, original);
            });
          } catch (error) {
            // Nothing recorded: nothing was changed by this attempt (refused before it took anything).
            if (recorded.length === 0) throw error;
            const original = ctx.originals.get(view.identity, recorded[0]!);
            // An undo that fails too leaves the TAP marked ours where it is, and its book entry
            // kept: the next attempt takes it from there and trusts the entry for what it was.
            const undone = await undoTapAttach(
              ctx.label,
              value as AutoTapInterface,
              ownView,
              view,
              original?.original,
            ).then(
              () => true,
              () => false,
            );
            if (undone) for (const index of recorded) ctx.originals.forget(view.identity, index);
            throw error;
          }
        }
        case 'LOOPBACK':
        case 'EXISTING': {
          const type = value.type;
          let touched: { index: number; original: LinkOriginal } | undefined;
          let meta: InterfaceMetadata;
          try {
            meta = await configureForeignLink(value, view, (link) => {
              const original = recordOriginal(ctx, key, type, value, view, link);
              touched = { index: link.index, original };
              return original;
            });
          } catch (error) {
            // What was set before the refusal (a MAC before a refused MTU) is undone: a failed item
            // is not applied, and its deletion would have nothing to undo.
            if (touched) {
              const { index, original } = touched;
              const undone: InterfaceMetadata = {
                ifindex: index,
                namespaceId: view.id,
                namespaceIdentity: view.identity,
                hostIfName: value.hostIfName,
                owned: false,
                original,
              };
              // An undo that fails too keeps the book entry: the next attempt, or the item's
              // removal, trusts it for what the link was (not what it is now, half set).
              const restored = await restoreForeignLink(view, undone, type === 'LOOPBACK', value).then(
                () => true,
                () => false,
              );
              if (restored) ctx.originals.forget(view.identity, index);
            }
            throw error;
          }
          ctx.noteForeignLink(view.id, meta.ifindex, key);
          return meta;
        }
      }
    },

    needsRecreate(_key, before, after, metadata) {
      if (before.type !== after.type) return true;
      // Found in another namespace than its value's (someone moved it, `ip link set ... netns`):
      // made again where it belongs. The namespaces themselves are compared, not their references
      // (one namespace may be named two ways, by name and by a pid in it).
      const wantedView = ctx.views.get(namespaceId(after.namespace));
      if (
        metadata !== undefined &&
        wantedView !== undefined &&
        metadata.namespaceIdentity !== wantedView.identity
      )
        return true;
      // Ours (a TAP we took too) are renamed in place (same ifindex); another host name of someone
      // else's is another link.
      const renamedInPlace = after.type === 'VETH' || after.type === 'DUMMY' || after.type === 'AUTO_TAP';
      if (before.hostIfName !== after.hostIfName && !renamedInPlace) return true;
      if (namespaceId(before.namespace) !== namespaceId(after.namespace)) return true;
      if (before.type === 'VETH' && after.type === 'VETH')
        return before.veth.peerIfName !== after.veth.peerIfName;
      if (before.type === 'AUTO_TAP' && after.type === 'AUTO_TAP')
        return before.tap.tempIfName !== after.tap.tempIfName;
      return false;
    },

    async update(engine, key, before, after, metadata) {
      const view = ctx.view(after.namespace);
      const link = await view.handle.linkGet(metadata.ifindex);
      if (!link) throw new NetlinkError(19, `link get #${metadata.ifindex} in ${view.description}`);
      // Refused before anything changes: the value before stays whole in the kernel.
      checkMtuRange(after, link, view.description);
      const foreign = after.type === 'EXISTING' || after.type === 'LOOPBACK';
      const wanted = desiredLinkAttributes(after, foreign ? undefined : ctx.label);
      // Ours are found by their mark: one renamed by someone else gets its name back, and a new
      // host name in the config renames the link (down, rename, up: the kernel's rule).
      if (!foreign) wanted.name = after.hostIfName;
      if (!foreign && link.name !== after.hostIfName) {
        // Refused before the link is set down: a rename to a name another link holds would fail
        // (EEXIST) with the link left down.
        const holder = await view.handle.linkGet(after.hostIfName);
        if (holder && holder.index !== link.index && !(await moveAsideOurs(ctx, engine, view, holder)))
          throw new HostNameTakenError(
            nameTakenMessage(after.hostIfName, view.description, ctx.label, holder.alias),
            { field: 'host_if_name' },
          );
      }
      // A link of others: the book learns what we are to set before we set it.
      const original =
        after.type === 'EXISTING' || after.type === 'LOOPBACK' || after.type === 'AUTO_TAP'
          ? recordOriginal(
              ctx,
              key,
              after.type,
              after,
              view,
              link,
              metadata.original && refreshedOriginal(metadata.original, before, after, link),
            )
          : metadata.original;
      if (after.type === 'EXISTING' || after.type === 'LOOPBACK' || after.type === 'AUTO_TAP')
        Object.assign(wanted, givenBackAttributes(before, after, original));
      await applyLinkDifferences(view, link, wanted);
      return {
        ...metadata,
        hostIfName: after.hostIfName,
        ...(original ? { original } : {}),
      };
    },

    async delete(engine, _key, value, metadata) {
      ctx.forgetForeignLink(metadata.namespaceId, metadata.ifindex);
      const view = ctx.views.get(metadata.namespaceId);
      if (!view || view.identity !== metadata.namespaceIdentity) {
        // A TAP is never gone with its namespace (the kernel moves it home): one a failed give-back
        // left home under its host name is given back there.
        if (value.type === 'AUTO_TAP')
          await detachTap(value as AutoTapInterface, ctx.view({ kind: 'default' }), undefined, metadata);
        // Gone with its namespace (a namespace that comes back is another one, with other links).
        ctx.originals.forget(metadata.namespaceIdentity, metadata.ifindex);
        return;
      }
      switch (value.type) {
        case 'VETH': {
          // Deleting either end removes the pair. Delete through the creating end's namespace when
          // it is known: a hub's many pairs then go in one bulk deletion instead of one per peer
          // namespace (each bulk deletion costs an RCU grace period under the rtnl lock).
          if (!createsPair(value)) {
            const peer = engine.metadata<InterfaceMetadata>(ctx.interfaceKey(value.veth.peerIfName));
            const peerView = peer ? ctx.views.get(peer.namespaceId) : undefined;
            if (peer && peerView && peerView.identity === peer.namespaceIdentity) {
              await ctx.deletes.delete(peerView, peer.ifindex);
              // This end went with it: what sits on it (addresses) finds it gone without asking.
              ctx.deletes.noteDeleted(view, metadata.ifindex);
              return;
            }
          }
          return ctx.deletes.delete(view, metadata.ifindex);
        }
        case 'DUMMY':
          return ctx.deletes.delete(view, metadata.ifindex);
        case 'AUTO_TAP':
          await detachTap(value as AutoTapInterface, ctx.view({ kind: 'default' }), view, metadata, () =>
            tapElsewhere(ctx, value as AutoTapInterface, view),
          );
          return ctx.originals.forget(metadata.namespaceIdentity, metadata.ifindex);
        case 'LOOPBACK':
        case 'EXISTING':
          // A link gone from its namespace (moved out: its item waits for it) keeps its entry, for
          // when it comes back with what we set still on it; a resync forgets it once no item wants it.
          if ((await restoreForeignLink(view, metadata, value.type === 'LOOPBACK', value)) === 'gone') return;
          return ctx.originals.forget(metadata.namespaceIdentity, metadata.ifindex);
      }
    },

    retrieve: (engine, desired) => retrieveInterfaces(ctx, engine, desired),

    isRetriable(error) {
      // EEXIST here is a name still held by a link being deleted (deletion finishes asynchronously,
      // e.g. with its dying namespace): a name taken by someone else was refused before creating.
      // ENODEV: the link vanished under us (its namespace is going); the next attempt sees why.
      if (error instanceof NetlinkError && ['EEXIST', 'ENODEV', 'EBUSY'].includes(error.errnoName))
        return true;
      return error instanceof AgentError ? error.retriable : false;
    },
  };
}

/**
 * This end is not where its pair put it (someone moved it into another namespace) while the other
 * end, ours, is still in place: a pair cannot be mended, so that end goes (taking this one wherever
 * it is), and the pair is made again as for any link of ours deleted by someone. Not right after the
 * pair was made: this end may not be visible yet.
 */
async function endLonePair(
  ctx: LinuxContext,
  creatorValue: VethInterface,
  creator: InterfaceMetadata,
): Promise<void> {
  if (creator.peerIndex && Date.now() - creator.peerIndex.at < LONE_PAIR_GRACE_MS) return;
  const creatorView = ctx.views.get(creator.namespaceId);
  const link = await creatorView?.handle.linkGet(creator.ifindex);
  if (!creatorView || !link || ownedConfigName(ctx.label, link.alias) !== creatorValue.name) return;
  await ctx.deletes.delete(creatorView, link.index, { amidCreations: true });
}

const LONE_PAIR_GRACE_MS = 2000;

/**
 * The other end's name must be free where the pair puts it. Held by our own end of this pair (this
 * end was moved away by someone, the other stayed): that one goes, and the pair is made anew.
 * Held by someone else's link: refused as a taken host name of the peer (tried again when a link
 * there goes, see linux-plugin.ts). Held by anything else of ours (an end of a pair being deleted,
 * one not marked yet) it is left to the kernel, whose EEXIST is retried.
 */
async function clearPeerName(
  ctx: LinuxContext,
  engine: EngineView,
  peer: VethInterface,
  peerView: NamespaceView,
): Promise<void> {
  const holder = peerView.links.get(peer.hostIfName);
  if (!holder || ctx.deletes.wasDeleted(peerView, holder.index)) return;
  const owner = ownedConfigName(ctx.label, holder.alias);
  // The registry may lag a deletion of ours just made (a half-made pair's unmarked peer end): the
  // kernel has the last word before the name is called someone else's.
  if (
    owner === undefined &&
    !isUnmarkedOwnLink(peerView, holder.index, ctx.label) &&
    (await peerView.handle.linkGet(peer.hostIfName)) !== undefined
  ) {
    throw new HostNameTakenError(
      `${peer.hostIfName} (host name of its VETH peer ${peer.name}) already exists in ${peerView.description} and is not managed by this agent`,
      { field: 'veth.peer_if_name' },
    );
  }
  if (owner === peer.name) return await ctx.deletes.delete(peerView, holder.index, { amidCreations: true });
  // Another item of ours has the name: one being renamed in this change moves aside; else the two
  // reach one namespace by different references (a named namespace and a process in it), which
  // their claims could not tell (the kernel's bare EEXIST said nothing of it).
  if (owner !== undefined && !(await moveAsideOurs(ctx, engine, peerView, holder)))
    throw new HostNameTakenError(
      `${peer.hostIfName} (host name of its VETH peer ${peer.name}) already exists in ${peerView.description}, held by item ${owner} of this agent (the same namespace, referenced another way?)`,
      { field: 'veth.peer_if_name' },
    );
}

/**
 * A link of ours holding the name another of ours is to take, and itself to be renamed (names
 * shifted or traded in one change): it is given a temporary name now, and its own update renames
 * it on from there, whichever of the two runs first. False when the holder is not such a link.
 */
async function moveAsideOurs(
  ctx: LinuxContext,
  engine: EngineView,
  view: NamespaceView,
  holder: Link,
): Promise<boolean> {
  const name = ownedConfigName(ctx.label, holder.alias);
  const wanted = name === undefined ? undefined : engine.value<LinuxInterface>(ctx.interfaceKey(name));
  if (!wanted || namespaceId(wanted.namespace) !== view.id || wanted.hostIfName === holder.name) return false;
  const temporary = `na-${holder.index.toString(36)}-${randomBytes(2).toString('hex')}`;
  await applyLinkDifferences(view, holder, { name: temporary });
  return true;
}

/** A TAP marked as this item's in another namespace we watch than `not` (someone moved it there). */
function tapElsewhere(
  ctx: LinuxContext,
  value: AutoTapInterface,
  not: NamespaceView,
): { view: NamespaceView; link: Link } | undefined {
  for (const view of ctx.views.all()) {
    if (view.identity === not.identity) continue;
    for (const link of view.links.list())
      if (
        link.kind === 'tun' &&
        ownedConfigName(ctx.label, link.alias) === value.name &&
        tapTempNameOf(link.alias) === value.tap.tempIfName
      )
        return { view, link };
  }
  return undefined;
}
