/**
 * Small descriptors of items derived from interfaces: their IP addresses, the marker saying a VETH
 * end is configured and its namespace open, and the named namespaces they need.
 */
import { existsSync } from 'node:fs';
import {
  AF_INET6,
  IFA_F_DADFAILED,
  IFA_F_PERMANENT,
  NetlinkError,
  RT_SCOPE_LINK,
  type Address,
} from '../netlink/index.js';
import { ownedConfigName } from './ownership.js';
import type { LinuxContext } from './context.js';
import type { EngineView, LinuxDescriptor, Retrieved } from './engine-contract.js';
import { orphanKey, trustedEntry } from './foreign-links.js';
import { NAMED_NAMESPACE, addressItem, namedNamespaceItem, namespaceFact } from './fact-keys.js';
import type { InterfaceMetadata } from './link-ops.js';
import type { NamespaceView } from './namespace-views.js';
import { addAddress, addressCidr, isKernelLinkLocal, removeAddress } from './l3-ops.js';
import { prepareAddressRemoval } from './address-swap.js';
import { DuplicateAddressError } from './errors.js';
import { namespaceId, type LinuxInterface } from '../model/index.js';
import {
  createdByUs,
  creatorOf,
  createNamedNamespace,
  deleteNamedNamespace,
  namedNamespaceNames,
  namedNamespacePath,
} from './named-namespaces.js';

export interface AddressValue {
  interfaceKey: string;
  cidr: string;
  noDad: boolean;
  /** Its interface's removal deletes the link (VETH, DUMMY), and the address with it. */
  goesWithLink: boolean;
}

function lastSegment(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

export interface AddressMetadata {
  ifindex: number;
  namespaceId: string;
  /** On a link of others, there before we asked for it: not ours to take off. */
  theirs?: boolean;
}

export function addressDescriptor(ctx: LinuxContext): LinuxDescriptor<AddressValue, AddressMetadata> {
  return {
    name: 'address',
    keyPrefix: ctx.prefix('interface'),
    handles: (key) => key.includes('/address/'),
    dependencies(_key, value) {
      return [
        {
          key: value.interfaceKey,
          reason: `waiting for interface ${lastSegment(value.interfaceKey)} to be configured`,
          recreateOnChange: true,
          // The kernel drops an address with its link: a teardown deletes the link first. Not
          // for interfaces whose removal leaves the link (EXISTING, LOOPBACK, AUTO_TAP).
          removedWithIt: value.goesWithLink,
        },
      ];
    },
    async create(engine, key, value) {
      const meta = engine.metadata<InterfaceMetadata>(value.interfaceKey);
      const view = meta ? ctx.views.get(meta.namespaceId) : undefined;
      if (!meta || !view) throw new Error(`interface ${lastSegment(value.interfaceKey)} is not applied`);
      const placed = { ifindex: meta.ifindex, namespaceId: meta.namespaceId };
      if (value.goesWithLink) {
        await addAddress(view, meta.ifindex, value.cidr, value.noDad);
        return placed;
      }
      // On a link of others: one there already is theirs (we only undo what we set); one we add is
      // kept in the book of originals before it is added, to be taken off even after a restart.
      const there = (await view.handle.addrList({ index: meta.ifindex })).find(
        (a) => a.index === meta.ifindex && addressCidr(a) === value.cidr,
      );
      const ours = ctx.originals.get(view.identity, meta.ifindex)?.addresses?.includes(value.cidr) ?? false;
      if (there && !ours) return { ...placed, theirs: true };
      if (there && there.flags & IFA_F_DADFAILED) {
        // Ours, unusable: another host has it. Taken off, and added again (checked anew) later.
        await removeAddress(view, meta.ifindex, value.cidr);
        ctx.originals.noteAddress(view.identity, meta.ifindex, value.cidr, false);
        const link = view.links.get(meta.ifindex);
        throw new DuplicateAddressError(
          value.cidr,
          link?.name ?? `link ${meta.ifindex}`,
          ctx.duplicateAddresses.failed(key),
        );
      }
      ctx.originals.noteAddress(view.identity, meta.ifindex, value.cidr, true);
      try {
        await addAddress(view, meta.ifindex, value.cidr, value.noDad);
      } catch (error) {
        ctx.originals.noteAddress(view.identity, meta.ifindex, value.cidr, false);
        throw error;
      }
      return placed;
    },
    async delete(engine, key, value, meta) {
      ctx.duplicateAddresses.forget(key);
      const view = ctx.views.get(meta.namespaceId);
      if (meta.theirs || ctx.linkGoingAway(engine, view, meta.ifindex)) return;
      // The kernel's own link-local address of a link of ours, listed by the item: the kernel's.
      if (value.goesWithLink && isKernelLinkLocal(value.cidr, view?.links.get(meta.ifindex)?.mac)) return;
      // Readdressed: the new addresses first, or the kernel flushes the link's routes and entries.
      const wantedBy = engine.value<LinuxInterface>(value.interfaceKey);
      const applied = engine.metadata<InterfaceMetadata>(value.interfaceKey);
      // Only where the interface stays on this link: not one going, moving, or made again as
      // another type (EXISTING -> VETH); ours may be renamed in place (same ifindex), another
      // host name of someone else's is another link.
      const ours = wantedBy?.type === 'VETH' || wantedBy?.type === 'DUMMY';
      const stays =
        wantedBy !== undefined &&
        ours === value.goesWithLink &&
        namespaceId(wantedBy.namespace) === meta.namespaceId &&
        applied?.ifindex === meta.ifindex &&
        (ours || view?.links.get(meta.ifindex)?.name === wantedBy.hostIfName);
      if (view && stays) {
        const added = ctx.originals.get(view.identity, meta.ifindex)?.addresses ?? [];
        await prepareAddressRemoval(
          view,
          meta.ifindex,
          value.cidr,
          wantedBy,
          ours,
          (cidr) => ctx.originals.noteAddress(view.identity, meta.ifindex, cidr, true),
          (cidr) => !added.includes(cidr),
        );
      }
      await removeAddress(view, meta.ifindex, value.cidr);
      if (view && !value.goesWithLink)
        ctx.originals.noteAddress(view.identity, meta.ifindex, value.cidr, false);
    },
    // EACCES: IPv6 is disabled on the link, a setting whose change sends no event: tried again on
    // the usual backoff, not left failed until the agent restarts. ENODEV: the link went meanwhile.
    isRetriable: (error) =>
      error instanceof NetlinkError && (error.retriable || ['EACCES', 'ENODEV'].includes(error.errnoName)),
    async retrieve(engine, desired) {
      const found = [];
      const byInterface = new Map<string, { key: string; value: AddressValue }[]>();
      for (const d of desired) {
        const list = byInterface.get(d.value.interfaceKey) ?? [];
        list.push(d);
        byInterface.set(d.value.interfaceKey, list);
      }
      // One address dump per namespace, not one per interface.
      const perView = new Map<string, Promise<Address[]>>();
      const listIn = (view: NamespaceView): Promise<Address[]> => {
        let list = perView.get(view.id);
        if (!list) perView.set(view.id, (list = view.handle.addrList()));
        return list;
      };
      // With their flags: one that failed duplicate address detection is there but not usable.
      const presentSets = new Map<string, Promise<Map<string, number>>>();
      const presentIn = (view: NamespaceView): Promise<Map<string, number>> => {
        let present = presentSets.get(view.id);
        if (!present) {
          present = listIn(view).then(
            (list) => new Map(list.map((a) => [`${a.index}#${addressCidr(a)}`, a.flags])),
          );
          presentSets.set(view.id, present);
        }
        return present;
      };
      const wantedOnLinks = new Set<string>();
      for (const [interfaceKey, items] of byInterface) {
        const meta = engine.metadata<InterfaceMetadata>(interfaceKey);
        const view = meta ? ctx.views.get(meta.namespaceId) : undefined;
        if (!meta || !view) continue;
        const set = await presentIn(view);
        for (const item of items) {
          wantedOnLinks.add(`${view.identity}#${meta.ifindex}#${item.value.cidr}`);
          const flags = set.get(`${meta.ifindex}#${item.value.cidr}`);
          // One that failed detection is made again: its create says why, and takes it off.
          if (flags !== undefined && !(flags & IFA_F_DADFAILED)) {
            // On a link of others the book knows, an address it does not list as ours is theirs.
            const book = item.value.goesWithLink ? undefined : ctx.originals.get(view.identity, meta.ifindex);
            const theirs = book !== undefined && !(book.addresses ?? []).includes(item.value.cidr);
            found.push({
              key: item.key,
              value: item.value,
              metadata: {
                ifindex: meta.ifindex,
                namespaceId: meta.namespaceId,
                ...(theirs ? { theirs } : {}),
              },
              managed: true,
            });
          }
        }
      }
      found.push(...(await addressesNoLongerWanted(ctx, engine, wantedOnLinks, presentIn)));
      if (ctx.startingResync)
        found.push(...(await strayAddressesOfOwnLinks(ctx, engine, wantedOnLinks, listIn)));
      return found;
    },
  };
}

/**
 * Addresses the book of originals says we added to links of others, that no item wants on that link
 * now (e.g. their EXISTING item was deleted while the agent was down, or lists them no more):
 * reported, so that they are taken off. One recorded but no longer in the kernel is forgotten; an
 * entry the book cannot believe any more is left to the interfaces' resync, which forgets it.
 */
async function addressesNoLongerWanted(
  ctx: LinuxContext,
  engine: EngineView,
  wantedOnLinks: ReadonlySet<string>,
  presentIn: (view: NamespaceView) => Promise<ReadonlyMap<string, number>>,
): Promise<Retrieved<AddressValue, AddressMetadata>[]> {
  const orphans: Retrieved<AddressValue, AddressMetadata>[] = [];
  for (const entry of ctx.originals.all()) {
    const view = ctx.views.get(entry.namespaceId);
    if (!entry.addresses?.length || !view || view.identity !== entry.namespaceIdentity) continue;
    const link = view.links.get(entry.ifindex);
    if (!link || !trustedEntry(ctx, view.identity, link)) continue;
    const present = await presentIn(view);
    // Under the interface item that has the link now, else under the one removed for it.
    const holder = engine.metadata<InterfaceMetadata>(entry.key);
    const interfaceKey =
      holder?.ifindex === entry.ifindex && holder.namespaceIdentity === entry.namespaceIdentity
        ? entry.key
        : orphanKey(entry, (key) => engine.value(key) !== undefined);
    for (const cidr of entry.addresses) {
      if (wantedOnLinks.has(`${entry.namespaceIdentity}#${entry.ifindex}#${cidr}`)) continue;
      if (!present.has(`${entry.ifindex}#${cidr}`)) {
        ctx.originals.noteAddress(entry.namespaceIdentity, entry.ifindex, cidr, false);
        continue;
      }
      orphans.push(addressToTakeOff(interfaceKey, cidr, false, entry.ifindex, entry.namespaceId));
    }
  }
  return orphans;
}

/** An address of ours in the kernel that no item wants, reported so that the engine removes it. */
function addressToTakeOff(
  interfaceKey: string,
  cidr: string,
  goesWithLink: boolean,
  ifindex: number,
  namespaceId: string,
): Retrieved<AddressValue, AddressMetadata> {
  return {
    key: addressItem(interfaceKey, cidr),
    value: { interfaceKey, cidr, noDad: false, goesWithLink },
    metadata: { ifindex, namespaceId },
    managed: true,
  };
}

/**
 * Addresses on links we made (VETH, DUMMY) that no item wants, at the start: the value listed them
 * when the agent stopped, and lists them no more (a change made while it was down). The link is
 * ours, so are the addresses on it then; reported, so that they are taken off. Left alone: what the
 * kernel gives every link (IPv6 link-local) and addresses it made for a while (not IFA_F_PERMANENT).
 */
async function strayAddressesOfOwnLinks(
  ctx: LinuxContext,
  engine: EngineView,
  wantedOnLinks: ReadonlySet<string>,
  listIn: (view: NamespaceView) => Promise<Address[]>,
): Promise<Retrieved<AddressValue, AddressMetadata>[]> {
  const stray: Retrieved<AddressValue, AddressMetadata>[] = [];
  for (const view of ctx.views.all()) {
    const own = new Map<number, string>();
    for (const link of view.links.list()) {
      const name = ownedConfigName(ctx.label, link.alias);
      if (name === undefined) continue;
      const key = ctx.interfaceKey(name);
      const meta = engine.metadata<InterfaceMetadata>(key);
      if (meta?.owned === true && meta.ifindex === link.index && meta.namespaceId === view.id)
        own.set(link.index, key);
    }
    if (own.size === 0) continue;
    for (const address of await listIn(view)) {
      const interfaceKey = own.get(address.index);
      if (interfaceKey === undefined || (address.flags & IFA_F_PERMANENT) === 0) continue;
      if (address.family === AF_INET6 && address.scope === RT_SCOPE_LINK) continue;
      const cidr = addressCidr(address);
      if (wantedOnLinks.has(`${view.identity}#${address.index}#${cidr}`)) continue;
      stray.push(addressToTakeOff(interfaceKey, cidr, true, address.index, view.id));
    }
  }
  return stray;
}

/** Exists while its VETH end is configured and its namespace is there; the other end waits on it. */
export function vethEndDescriptor(ctx: LinuxContext): LinuxDescriptor<{ namespace: string }, null> {
  return {
    name: 'veth-end',
    keyPrefix: ctx.prefix('interface'),
    handles: (key) => key.endsWith('/veth-end'),
    dependencies(_key, value) {
      return [
        {
          key: namespaceFact(value.namespace),
          reason: `waiting for ${value.namespace.replace('/', ' namespace ')}`,
          recreateOnChange: true,
        },
      ];
    },
    create: async () => null,
    delete: async () => undefined,
    // Nothing in the kernel: the marker holds while its namespace is open. Saying so on resync
    // keeps a restart over a right state free of (no-op) creates in the transaction record.
    async retrieve(_engine, desired) {
      return desired
        .filter((d) => ctx.views.get(d.value.namespace) !== undefined)
        .map((d) => ({ key: d.key, value: d.value, metadata: null, managed: true }));
    },
  };
}

export interface NamedNamespaceMetadata {
  /** True when the agent created it (and may delete it once nothing uses it). */
  created: boolean;
  /**
   * Found made by another agent (label): its deletion is that agent's (none of its items need it
   * any more), not a user's, and this agent makes it again for its own items.
   */
  madeBy?: string;
}

/** A named namespace, created on demand; deleted only if we created it and nothing needs it. */
export function namedNamespaceDescriptor(
  ctx: LinuxContext,
): LinuxDescriptor<{ name: string }, NamedNamespaceMetadata> {
  return {
    name: 'named-namespace',
    keyPrefix: [NAMED_NAMESPACE],
    dependencies: () => [],
    async create(_engine, _key, value) {
      if (await createNamedNamespace(ctx, value.name)) return { created: true };
      const madeBy = await creatorOf(value.name);
      return madeBy !== undefined && madeBy !== ctx.label ? { created: false, madeBy } : { created: false };
    },
    async delete(_engine, _key, value) {
      // Deletes only a namespace that carries our creator mark, whatever this run remembers.
      await deleteNamedNamespace(ctx, value.name);
    },
    async retrieve(engine, desired) {
      // One this run has applied and someone deleted is not made again by a resync (e.g. after a
      // datastore outage) behind the user's back: its items wait for it. A start makes it again;
      // so does this run when the one deleted was another agent's (its own cleanup).
      const found: Retrieved<{ name: string }, NamedNamespaceMetadata>[] = desired
        .filter((d) => {
          if (existsSync(namedNamespacePath(d.value.name))) return true;
          const applied = engine.metadata<NamedNamespaceMetadata>(d.key);
          return applied !== undefined && applied.madeBy === undefined;
        })
        .map((d) => ({
          key: d.key,
          value: d.value,
          metadata: engine.metadata<NamedNamespaceMetadata>(d.key) ?? { created: false },
          managed: true,
        }));
      // Ours and no longer needed (the store changed while the agent was down): removed. Only
      // namespaces bearing our creator mark are reported, so only those are ever deleted.
      const wanted = new Set(desired.map((d) => d.value.name));
      const others = namedNamespaceNames().filter((name) => !wanted.has(name));
      const ours = await Promise.all(others.map((name) => createdByUs(ctx, name)));
      others.forEach((name, i) => {
        if (ours[i])
          found.push({
            key: namedNamespaceItem(name),
            value: { name },
            metadata: { created: true },
            managed: true,
          });
      });
      return found;
    },
  };
}
