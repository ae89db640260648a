/** Static ARP/NDP entries on an interface of the entry's namespace; they wait for it to be up. */
import { namespaceId, type LinuxArpEntry } from '../model/index.js';
import { IFF_LOOPBACK, IFF_POINTOPOINT, NetlinkError } from '../netlink/index.js';
import { InterfaceNotConfiguredError, NeighbourTakenError, NoNeighboursOnLinkError } from './errors.js';
import type { LinuxContext } from './context.js';
import type { EngineView, LinuxDescriptor, Retrieved } from './engine-contract.js';
import { viewsByNamespace, type NamespaceView } from './namespace-views.js';
import { linkDependencies, namedNamespaceNeeded, namespaceDependency } from './interface.js';
import {
  addNeighbour,
  isOwnNeighbour,
  neighbourlessLinkProblem,
  neighbourMatches,
  neighbourStateDrifted,
  neighbourStateName,
  removeNeighbour,
} from './l3-ops.js';
import { ownedConfigName } from './ownership.js';
import { neighbourPlace } from './own-entries.js';

export interface ArpMetadata {
  namespaceId: string;
  ifindex: number;
  address: string;
}

export function arpDescriptor(ctx: LinuxContext): LinuxDescriptor<LinuxArpEntry, ArpMetadata> {
  const hostNameOf = (engine: EngineView, name: string): string => ctx.hostNameOf(engine, name);
  /**
   * Items whose entry was removed while they still wanted it (their link went down): they hold it,
   * but what is there when they make it again is not theirs to replace without a look (someone may
   * have made a static entry meanwhile).
   */
  const removedWhileWanted = new Set<string>();
  /**
   * Holders whose link went away (deleted, to be made again: a new ifindex) while they still want
   * their entry on a link of that name: by namespace, host name and address. The link made again,
   * the holder is still the holder, whichever item is tried first.
   */
  const heldForLink = new Map<string, string>();
  const isRetriable = (error: unknown): boolean =>
    error instanceof InterfaceNotConfiguredError ||
    (error instanceof NetlinkError && (error.retriable || error.errnoName === 'ENODEV'));
  return {
    name: 'arp',
    keyPrefix: ctx.prefix('arp'),

    dependencies(_key, value, desired) {
      return [
        namespaceDependency(value.namespace),
        ...linkDependencies(
          value.namespace,
          ctx.hostNameOf(desired, value.interface),
          value.interface,
          ctx.interfaceItemOf(desired, value.interface, value.namespace),
          ctx.interfaceItemElsewhere(desired, value.interface, value.namespace),
        ),
      ];
    },

    derived: (_key, value) => namedNamespaceNeeded(value.namespace),

    async create(engine, key, value) {
      const view = ctx.view(value.namespace);
      const link = view.links.get(ctx.hostNameOf(engine, value.interface));
      if (!link)
        throw new NetlinkError(
          19,
          `neigh add ${value.ipAddress} dev ${value.interface} in ${view.description}`,
        );
      ctx.checkItemLink(engine, value.interface, value.namespace, view, link.index);
      // Refused before anything is noted or sent: the kernel would keep another entry than this one.
      const problem = neighbourlessLinkProblem(link, value.ipAddress);
      if (problem !== undefined)
        throw new NoNeighboursOnLinkError(
          `ARP entry ${value.ipAddress} on ${link.name} in ${view.description}: ${problem}`,
          key,
        );
      // Claims are by the interface as each item names it (model/claims.ts): two items can still
      // name one link two ways. The first to make the entry keeps it while it still wants it there:
      // applied there, being made, or waiting with the other for the link to come up again (both
      // name one link, so they wait together: the holder is not the one that happens to run first).
      // A note its item outlived blocks nobody.
      const wantsHere = (other: string): boolean =>
        wantsEntryAt(engine, other, view, link.index, value.ipAddress, hostNameOf);
      // A holder deleted while its link was away (never made again) holds nothing: its notes go,
      // so that the map does not keep them for ever.
      for (const [where, holder] of heldForLink)
        if (engine.value(holder) === undefined) heldForLink.delete(where);
      const byName = neighbourIdentity(view.id, value.ipAddress, link.name);
      const waiting = heldForLink.get(byName);
      if (waiting !== undefined && (waiting === key || !wantsHere(waiting))) heldForLink.delete(byName);
      // Its holder's link was made again: the note follows it to the new ifindex.
      if (waiting !== undefined && ctx.neighbourAt(view.id, link.index, value.ipAddress) === undefined)
        ctx.noteNeighbour(view.id, link.index, value.ipAddress, waiting);
      if (waiting === key) removedWhileWanted.add(key);
      const noted = ctx.neighbourAt(view.id, link.index, value.ipAddress);
      const holds = (other: string): boolean => {
        const meta = engine.metadata<ArpMetadata>(other);
        // Not applied: being made, or waiting for the link with this item.
        if (meta === undefined) return wantsHere(other);
        return (
          engine.value(other) !== undefined &&
          meta.namespaceId === view.id &&
          meta.ifindex === link.index &&
          meta.address === value.ipAddress
        );
      };
      const holder = noted === key || (noted !== undefined && holds(noted)) ? noted : undefined;
      if (holder !== undefined && holder !== key)
        throw new NeighbourTakenError(
          `ARP entry ${value.ipAddress} on ${link.name} in ${view.description} is already configured by ${holder}`,
          { key, field: 'interface' },
        );
      // Noted before the request: another item's create running meanwhile sees it taken.
      ctx.noteNeighbour(view.id, link.index, value.ipAddress, key);
      const madeAgain = removedWhileWanted.delete(key);
      try {
        // Our entry someone replaced (drift): ours to put back over theirs.
        await ctx.ownEntries.making(
          'neighbour',
          view.identity,
          neighbourPlace(link.index, value.ipAddress),
          () => addNeighbour(view, link.index, value, ctx.label, holder === key && !madeAgain),
        );
      } catch (error) {
        // Not made: it holds nothing, and an item that failed as it held the entry may have it.
        // A transient refusal (EBUSY...) is retried: the entry stays the holder's meanwhile.
        if (!isRetriable(error) && ctx.neighbourAt(view.id, link.index, value.ipAddress) === key) {
          ctx.forgetNeighbour(view.id, link.index, value.ipAddress);
          ctx.neighbourReleased(view.id, key);
        }
        throw error;
      }
      return { namespaceId: view.id, ifindex: link.index, address: value.ipAddress };
    },

    needsRecreate: (_key, before, after) =>
      before.ipAddress !== after.ipAddress ||
      before.interface !== after.interface ||
      namespaceId(before.namespace) !== namespaceId(after.namespace),

    async update(_engine, _key, _before, after, meta) {
      const view = ctx.view(after.namespace);
      await addNeighbour(view, meta.ifindex, after, ctx.label, true);
      return meta;
    },

    async delete(engine, key, _value, meta) {
      const view = ctx.views.get(meta.namespaceId);
      // Forgotten once the entry is gone: a removal that fails keeps the item applied, and the
      // entry its own. Kept while the item still wants the entry there (it goes pending as its
      // link goes down): made again when the link comes back, it is still the holder's.
      if (!ctx.linkGoingAway(engine, view, meta.ifindex))
        await removeNeighbour(view, meta.ifindex, meta.address);
      if (view)
        ctx.ownEntries.noteRemoved('neighbour', view.identity, neighbourPlace(meta.ifindex, meta.address));
      if (view && wantsEntryAt(engine, key, view, meta.ifindex, meta.address, hostNameOf))
        removedWhileWanted.add(key);
      else {
        removedWhileWanted.delete(key);
        const wanted = engine.value<LinuxArpEntry>(key);
        // Its link goes (to be made again) while it still wants the entry on a link of that name.
        if (
          ctx.neighbourAt(meta.namespaceId, meta.ifindex, meta.address) === key &&
          wanted !== undefined &&
          namespaceId(wanted.namespace) === meta.namespaceId &&
          wanted.ipAddress === meta.address &&
          view?.links.get(hostNameOf(engine, wanted.interface))?.index !== meta.ifindex
        )
          heldForLink.set(
            neighbourIdentity(meta.namespaceId, meta.address, hostNameOf(engine, wanted.interface)),
            key,
          );
        ctx.forgetNeighbour(meta.namespaceId, meta.ifindex, meta.address);
      }
    },

    async retrieve(engine, desired) {
      const found: Retrieved<LinuxArpEntry, ArpMetadata>[] = [];
      // Every namespace's dump at once: each view has its own socket, so the round trips overlap.
      // Each namespace once, whatever references it is open under (viewsByNamespace).
      const groups = viewsByNamespace(ctx.views.all());
      const dumps = await Promise.all(groups.map(([view]) => view!.handle.neighList()));
      // The wanted entries by namespace, address and host interface: looked up, not searched.
      // Several items can want one entry (naming its link two ways): the one whose value the
      // kernel holds keeps it (the others then fail as taken), not the one whose key sorts first.
      const wanted = new Map<string, { key: string; value: LinuxArpEntry; viewId: string }[]>();
      for (const d of desired) {
        const itsView = ctx.views.get(namespaceId(d.value.namespace));
        if (!itsView) continue;
        const id = neighbourIdentity(
          itsView.identity,
          d.value.ipAddress,
          ctx.hostNameOf(engine, d.value.interface),
        );
        const list = wanted.get(id);
        if (list) list.push({ ...d, viewId: itsView.id });
        else wanted.set(id, [{ ...d, viewId: itsView.id }]);
      }
      // Applied IPv4 items by namespace and link: on a loopback or point-to-point link the kernel
      // files an IPv4 entry under 0.0.0.0, and one there is such an item's while it stands (create
      // refuses them now; taken for an orphan, it was removed and made again in a loop).
      const standing = new Map<string, { key: string; value: LinuxArpEntry; viewId: string }>();
      for (const d of desired) {
        const meta = engine.metadata<ArpMetadata>(d.key);
        const itsView = meta && ctx.views.get(meta.namespaceId);
        if (itsView && !meta.address.includes(':'))
          standing.set(`${itsView.identity}\n${meta.ifindex}`, { ...d, viewId: meta.namespaceId });
      }
      for (const [i, [view]] of groups.entries()) {
        if (!view) continue;
        // Ours: another label's entries (on its links) are that agent's to keep or remove. (An
        // entry always names its link, unlike a route naming no interface.)
        const entries = dumps[i]!.filter((n) => isOwnNeighbour(ctx.label, view.links, n));
        for (const entry of entries) {
          const link = view.links.get(entry.index);
          const candidates = link && wanted.get(neighbourIdentity(view.identity, entry.address, link.name));
          const rekeyed =
            entry.address === '0.0.0.0' && ((link?.flags ?? 0) & (IFF_LOOPBACK | IFF_POINTOPOINT)) !== 0
              ? standing.get(`${view.identity}\n${entry.index}`)
              : undefined;
          const match =
            candidates?.find((c) => neighbourMatches(entry, c.value)) ?? candidates?.[0] ?? rekeyed;
          // Under the reference its item names.
          const viewId = match?.viewId ?? view.id;
          const metadata = { namespaceId: viewId, ifindex: entry.index, address: entry.address };
          if (match) {
            ctx.noteNeighbour(viewId, entry.index, entry.address, match.key);
            ctx.ownEntries.noteMade('neighbour', view.identity, neighbourPlace(entry.index, entry.address));
            found.push({
              key: match.key,
              value: neighbourMatches(entry, match.value)
                ? match.value
                : {
                    ...match.value,
                    hwAddress: entry.mac ?? '',
                    ...(neighbourStateDrifted(entry, match.value)
                      ? { state: neighbourStateName(entry.state) }
                      : {}),
                  },
              metadata,
              managed: true,
            });
          } else if (
            ownedConfigName(ctx.label, link?.alias) !== undefined ||
            ctx.ownEntries.takeOrphan('neighbour', view.identity, neighbourPlace(entry.index, entry.address))
          ) {
            // Not wanted any more: an orphan the engine removes. On a link no agent marked, only one
            // this process made (or found at its first read of the namespace): another label's
            // there looks the same (own-entries.ts).
            const orphanKey = `${ctx.prefix('arp')}.orphan-${view.id.replace(/\//g, '_')}-${entry.index}-${entry.address}`;
            found.push({
              key: orphanKey,
              value: {
                name: orphanKey,
                namespace: { kind: 'default' },
                interface: link?.name ?? '',
                family: 4,
                ipAddress: entry.address,
                hwAddress: entry.mac ?? '',
                state: 'PERMANENT',
              },
              metadata,
              managed: true,
            });
          }
        }
        ctx.ownEntries.noteRead('neighbour', view.identity);
      }
      return found;
    },

    isRetriable,
  };
}

/** Whether an item's desired value is the entry of `address` on link `ifindex` of `view`. */
function wantsEntryAt(
  engine: EngineView,
  key: string,
  view: NamespaceView,
  ifindex: number,
  address: string,
  hostNameOf: (engine: EngineView, name: string) => string,
): boolean {
  const wanted = engine.value<LinuxArpEntry>(key);
  return (
    wanted !== undefined &&
    namespaceId(wanted.namespace) === view.id &&
    wanted.ipAddress === address &&
    view.links.get(hostNameOf(engine, wanted.interface))?.index === ifindex
  );
}

function neighbourIdentity(nsId: string, address: string, hostIfName: string): string {
  return `${nsId}\n${address}\n${hostIfName}`;
}
