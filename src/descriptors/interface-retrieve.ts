/**
 * What the kernel holds of the interfaces, for a resync (the interface descriptor's retrieve): our
 * links (found by their mark) in every open namespace, each reported as its item would see it (right
 * as it is, or with what must change), those no item wants (removed), VETH ends paired with another
 * end than their items say (made again), and the links of others our items configure.
 */
import { namespaceId, type LinuxInterface } from '../model/index.js';
import type { Link, NetlinkHandle } from '../netlink/index.js';
import type { EngineView, Retrieved } from './engine-contract.js';
import type { LinuxContext } from './context.js';
import { viewsByNamespace } from './namespace-views.js';
import { desiredLinkAttributes, linkDifferences, type InterfaceMetadata } from './link-ops.js';
import { otherAgentOf, ownedConfigName, tapTempNameOf } from './ownership.js';
import {
  foreignLinksIn,
  foreignLinksNoLongerWanted,
  nsRefOf,
  originalFor,
  settingsDropped,
} from './foreign-links.js';
import type { RecordedOriginal } from './originals.js';

export async function retrieveInterfaces(
  ctx: LinuxContext,
  engine: EngineView,
  desired: { key: string; value: LinuxInterface }[],
): Promise<Retrieved<LinuxInterface, InterfaceMetadata>[]> {
  // Our own last changes were acknowledged before their events were read: read those first.
  for (const view of ctx.views.all()) view.links.catchUp();
  const byName = new Map(desired.map((d) => [d.value.name, d]));
  // The TAPs attached and the links we made (VETH ends, DUMMYs), by namespace and ifindex: one
  // whose mark someone else cleared is still its item's (a TAP's fact stays, kernel-facts.ts),
  // found here so that the mark is put back in place; before, a VETH or DUMMY unmarked so was no
  // longer healed, and the next start took it for someone else's. (Not after a restart: an
  // unmarked link is then someone else's.)
  const appliedUnmarkable = new Map<string, { name: string; kind: string }>();
  for (const d of desired) {
    const kind = markedKinds[d.value.type];
    const meta = kind !== undefined ? engine.metadata<InterfaceMetadata>(d.key) : undefined;
    if (meta && kind !== undefined)
      appliedUnmarkable.set(`${meta.namespaceIdentity}\n${meta.ifindex}`, { name: d.value.name, kind });
  }
  const found: Retrieved<LinuxInterface, InterfaceMetadata>[] = [];
  // Our VETH ends by config name, with where their wanted item's entry is in `found`: which
  // end a link is paired with is checked once every namespace is read (below).
  const vethEnds = new Map<string, VethEndFound>();
  // Each namespace once, whatever references it is open under (viewsByNamespace).
  for (const [view] of viewsByNamespace(ctx.views.all())) {
    if (!view) continue;
    for (const link of view.links.list()) {
      const name =
        ownedConfigName(ctx.label, link.alias) ??
        (otherAgentOf(ctx.label, link.alias) === undefined
          ? unmarkedApplied(appliedUnmarkable.get(`${view.identity}\n${link.index}`), link)
          : undefined);
      const wanted = name !== undefined ? byName.get(name) : undefined;
      const vethEnd: VethEndFound | undefined =
        name !== undefined && link.kind === 'veth' ? { identity: view.identity, link } : undefined;
      if (name !== undefined && vethEnd) vethEnds.set(name, vethEnd);
      const meta: InterfaceMetadata = {
        ifindex: link.index,
        namespaceId: view.id,
        namespaceIdentity: view.identity,
        hostIfName: link.name,
        // A TAP is someone else's even when marked: what sits on it is taken off, not left to
        // go with it.
        owned: link.kind !== 'tun',
      };
      const recorded = link.kind === 'tun' ? ctx.originals.get(view.identity, link.index) : undefined;
      if (recorded) meta.original = recorded.original;
      if (name !== undefined && !wanted) {
        // Ours, no longer wanted: report it so that it is removed.
        found.push({
          key: ctx.interfaceKey(name),
          value: orphanValue(name, link, nsRefOf(view.id), recorded),
          metadata: meta,
          managed: true,
        });
        continue;
      }
      if (!wanted) continue;
      const value = wanted.value;
      // A TAP whose mark names another temporary name than its item now does (changed in the
      // store while the agent was down): another temporary name is another TAP, so the item is
      // made again (needsRecreate), as at run time. Reported as the link is, as a removal would
      // see it: given back under the name in its mark, with what the book says its item set,
      // not under the new name nor with the new value's settings.
      const markedTemp = link.kind === 'tun' ? tapTempNameOf(link.alias) : undefined;
      if (value.type === 'AUTO_TAP' && markedTemp !== undefined && markedTemp !== value.tap.tempIfName) {
        found.push({
          key: wanted.key,
          value: orphanValue(value.name, link, nsRefOf(view.id), recorded),
          metadata: meta,
          managed: true,
        });
        continue;
      }
      if (recorded && value.type === 'AUTO_TAP') meta.original = originalFor(recorded, value, link);
      // In the namespace its value names, under whichever reference: reported under that one.
      const wantedView = ctx.views.get(namespaceId(value.namespace));
      const sameNamespace = wantedView !== undefined && wantedView.identity === view.identity;
      if (sameNamespace) meta.namespaceId = wantedView.id;
      const rightLink = (l: Link): boolean =>
        l.name === value.hostIfName &&
        Object.keys(linkDifferences(l, desiredLinkAttributes(value, ctx.label))).length === 0;
      // The registry follows the kernel's events and may lag behind our own last change (its
      // event not read yet): ask the kernel before calling a link wrong.
      // A TAP whose item dropped its MTU or MAC while the agent was down gets its own back.
      const dropped = value.type === 'AUTO_TAP' ? settingsDropped(recorded, value, link) : undefined;
      const right =
        sameNamespace &&
        dropped === undefined &&
        (rightLink(link) || (await freshLinkIsRight(view.handle, link.index, rightLink)));
      if (vethEnd && value.type === 'VETH') vethEnd.at = found.length;
      found.push({
        key: wanted.key,
        value: right ? value : { ...value, mtu: -1, ...dropped },
        metadata: meta,
        managed: true,
      });
    }
  }
  markMispairedEnds(found, vethEnds);
  found.push(...foreignLinksIn(ctx, engine, desired));
  found.push(...foreignLinksNoLongerWanted(ctx, desired, found));
  return found;
}

/** The link kind of each interface type whose link carries our mark. */
const markedKinds: Partial<Record<LinuxInterface['type'], string>> = {
  AUTO_TAP: 'tun',
  VETH: 'veth',
  DUMMY: 'dummy',
};

/** The config name of the applied item whose link this is, when it is still of its item's kind. */
function unmarkedApplied(
  applied: { name: string; kind: string } | undefined,
  link: Link,
): string | undefined {
  return applied !== undefined && applied.kind === link.kind ? applied.name : undefined;
}

/** A link of ours that is a VETH end, as a resync reads it. */
interface VethEndFound {
  /** Identity of its namespace (namespace-views.ts). */
  identity: string;
  link: Link;
  /** Index in the retrieved list of its wanted item's entry, when an item wants it. */
  at?: number;
}

/** Are these two links the two ends of one pair? */
function pairedEnds(a: VethEndFound, b: VethEndFound): boolean {
  // The kernel names the peer by ifindex, in the peer's namespace, and gives IFLA_LINK_NETNSID
  // only when that is another namespace. Each end naming the other's ifindex, in the same or
  // another namespace as that attribute says, is the pair; an nsid is not resolved to a
  // namespace, so two pairs whose ifindexes coincide crosswise in other namespaces would pass.
  return (
    a.link.parentIndex === b.link.index &&
    b.link.parentIndex === a.link.index &&
    (a.identity === b.identity) === (a.link.linkNetnsId === undefined)
  );
}

/**
 * Each VETH end is checked link by link (name, MTU, MAC, state), which says nothing of its peer:
 * pairs whose items traded peers while the agent was down (a-b and c-d configured, then a-c and
 * b-d) were taken as configured, each end still paired with its old peer. Such an end is reported
 * with the peer its link has, so that the engine makes it again (needsRecreate: another peer) and
 * its removal deletes the pair it is in. An end whose actual peer is no link of ours is left as
 * read (there is no name to give it; our two ends are always made together).
 */
function markMispairedEnds(
  found: Retrieved<LinuxInterface, InterfaceMetadata>[],
  vethEnds: ReadonlyMap<string, VethEndFound>,
): void {
  for (const end of vethEnds.values()) {
    if (end.at === undefined) continue;
    const entry = found[end.at]!;
    const value = entry.value;
    if (value.type !== 'VETH') continue;
    const wantedPeer = vethEnds.get(value.veth.peerIfName);
    if (!wantedPeer || pairedEnds(end, wantedPeer)) continue;
    const actual = [...vethEnds].find(([, other]) => other !== end && pairedEnds(end, other))?.[0];
    if (actual === undefined) continue;
    found[end.at] = { ...entry, value: { ...value, veth: { ...value.veth, peerIfName: actual } } };
  }
}

/**
 * The value a link of ours no item wants is removed under: a link we made is deleted; a TAP is
 * someone else's and is given back under the temporary name its mark names (its own name when the
 * mark has none: marked by an older version), with the MTU and MAC the book says its item set (all
 * of them for an entry of an older book).
 */
function orphanValue(
  name: string,
  link: Link,
  namespace: LinuxInterface['namespace'],
  recorded?: RecordedOriginal,
): LinuxInterface {
  const common = { name, description: '', enabled: false, ipAddresses: [], hostIfName: link.name, namespace };
  if (link.kind === 'tun') {
    const set = recorded ? (recorded.set ?? { mtu: recorded.original.mtu, mac: recorded.original.mac }) : {};
    return {
      ...common,
      ...(set.mtu !== undefined ? { mtu: set.mtu } : {}),
      ...(set.mac !== undefined ? { physAddress: set.mac } : {}),
      type: 'AUTO_TAP',
      tap: { tempIfName: tapTempNameOf(link.alias) ?? link.name },
    };
  }
  return { ...common, type: 'DUMMY' };
}

async function freshLinkIsRight(
  handle: NetlinkHandle,
  index: number,
  right: (link: Link) => boolean,
): Promise<boolean> {
  const fresh = await handle.linkGet(index).catch(() => undefined);
  return fresh !== undefined && right(fresh);
}
