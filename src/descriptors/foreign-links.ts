/**
 * The links of others we configure (EXISTING, LOOPBACK, an AUTO_TAP's TAP) bear no mark of ours:
 * what each was before we configured it is kept in the book of originals (originals.ts), written
 * before the first change we make to it. A resync finds EXISTING and LOOPBACK links by host name;
 * a restarted agent takes their originals from the book, and undoes what it set on links the book
 * names that no item wants any more.
 *
 * The book is believed for a link only while each attribute we set on it (MTU, MAC, up) is what we
 * set or what it was: a namespace made again under a reused inode number, or a link someone else
 * reconfigured since, is not undone from a stale entry.
 */
import { namespaceId, parseNamespaceId, type LinuxInterface } from '../model/index.js';
import type { Link } from '../netlink/index.js';
import type { LinuxContext } from './context.js';
import type { EngineView, Retrieved } from './engine-contract.js';
import { desiredLinkAttributes, linkDifferences, linkOriginal, type InterfaceMetadata } from './link-ops.js';
import type { NamespaceView } from './namespace-views.js';
import { originalKey, type ForeignLinkType, type LinkOriginal, type RecordedOriginal } from './originals.js';

type Found = Retrieved<LinuxInterface, InterfaceMetadata>;

export function nsRefOf(id: string): LinuxInterface['namespace'] {
  return parseNamespaceId(id) ?? { kind: 'default' };
}

/** What configuring `value` sets on its link (and what a trusted book entry finds there). */
function whatWeSet(value: LinuxInterface): RecordedOriginal['set'] {
  const { up, mtu, mac } = desiredLinkAttributes(value, undefined);
  return {
    ...(up !== undefined ? { up } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    ...(mac ? { mac } : {}),
  };
}

/**
 * The book's entry for this link, if it can be believed: same name, and each attribute we set is
 * either what we set or what it was before (a change under way, or undone) — not a third value,
 * which means someone else has configured it since, or it is another link in a namespace made again.
 */
export function trustedEntry(
  ctx: LinuxContext,
  namespaceIdentity: string,
  link: Link,
): RecordedOriginal | undefined {
  const entry = sameLinkEntry(ctx, namespaceIdentity, link);
  if (!entry) return undefined;
  const { set = {}, setBefore = {}, original } = entry;
  const ours = (key: 'mtu' | 'mac' | 'up'): boolean =>
    set[key] === undefined ||
    link[key] === set[key] ||
    link[key] === original[key] ||
    (setBefore[key] !== undefined && link[key] === setBefore[key]);
  return ours('mtu') && ours('mac') && ours('up') ? entry : undefined;
}

function sameSet(a: RecordedOriginal['set'], b: RecordedOriginal['set']): boolean {
  return a?.mtu === b?.mtu && a?.mac === b?.mac && a?.up === b?.up;
}

/**
 * What a link was, from an entry not believed as a whole: each attribute still what we set, or what
 * it was, keeps the book's original; one someone else changed since (a third value) is theirs now,
 * and what the link has is its original. (An EXISTING link down before us, whose owner changed its
 * MTU while the agent was down, is still set down again when its item goes.)
 */
function mergedOriginal(entry: RecordedOriginal, link: Link): LinkOriginal {
  const { set = {}, original } = entry;
  const now = linkOriginal(link);
  const kept = (key: 'mtu' | 'mac' | 'up'): boolean => link[key] === set[key] || link[key] === original[key];
  return {
    ...now,
    ...(kept('mtu') ? { mtu: original.mtu } : {}),
    ...(kept('up') ? { up: original.up } : {}),
    ...(kept('mac') && original.mac ? { mac: original.mac } : {}),
  };
}

/**
 * A believed entry's original, for a value that now sets what the entry says we never set (its
 * `mtu` or `phys_address` added while the agent was down): that attribute's original is what the
 * link has now (its owner's, maybe changed since the entry was written). An entry of an older book
 * (no `set`) is taken as it is.
 */
function newlySetOriginal(
  entry: RecordedOriginal,
  setNow: RecordedOriginal['set'],
  link: Link,
): LinkOriginal {
  const { set, original } = entry;
  if (!set || !setNow) return original;
  return {
    ...original,
    ...(set.mtu === undefined && setNow.mtu !== undefined ? { mtu: link.mtu } : {}),
    ...(set.mac === undefined && setNow.mac !== undefined && link.mac ? { mac: link.mac } : {}),
  };
}

/** The original of a recorded link for `value` (see newlySetOriginal). */
export function originalFor(entry: RecordedOriginal, value: LinuxInterface, link: Link): LinkOriginal {
  return newlySetOriginal(entry, whatWeSet(value), link);
}

/** The book's entry for this link by place and name, believed or not. */
function sameLinkEntry(
  ctx: LinuxContext,
  namespaceIdentity: string,
  link: Link,
): RecordedOriginal | undefined {
  const entry = ctx.originals.get(namespaceIdentity, link.index);
  if (entry) return entry.hostIfName === link.name ? entry : undefined;
  return movedBackEntry(ctx, namespaceIdentity, link);
}

/**
 * The entry of a link that left its namespace (`ip link set ... netns`) while its item still wanted
 * it, and came back under another ifindex (its own was taken meanwhile): same namespace and name,
 * no link at the recorded ifindex, and the link still has an MTU or MAC we set that was not its
 * own. (A link its owner made again has the kernel's defaults, not what we set: it is another link,
 * and what it has is its original.)
 */
function movedBackEntry(
  ctx: LinuxContext,
  namespaceIdentity: string,
  link: Link,
): RecordedOriginal | undefined {
  const bearsOurs = ({ set = {}, original }: RecordedOriginal): boolean =>
    (set.mtu !== undefined && set.mtu !== original.mtu && link.mtu === set.mtu) ||
    (set.mac !== undefined && set.mac !== original.mac && link.mac === set.mac);
  return ctx.originals
    .all()
    .find(
      (entry) =>
        entry.namespaceIdentity === namespaceIdentity &&
        entry.hostIfName === link.name &&
        entry.type !== 'AUTO_TAP' &&
        bearsOurs(entry),
    );
}

/**
 * What the book says we set on a link and its value no longer asks for (`mtu` or `phys_address`
 * removed while the agent was down), still on the link and not what it was: as the value had it,
 * so that the item's update gives the original back. Undefined when there is none.
 */
export function settingsDropped(
  entry: RecordedOriginal | undefined,
  value: LinuxInterface,
  link: Link,
): { mtu?: number; physAddress?: string } | undefined {
  if (!entry?.set) return undefined;
  const { set, original } = entry;
  const dropped: { mtu?: number; physAddress?: string } = {};
  if (value.mtu === undefined && set.mtu !== undefined && link.mtu === set.mtu && set.mtu !== original.mtu)
    dropped.mtu = set.mtu;
  if (value.physAddress === undefined && set.mac && link.mac === set.mac && set.mac !== original.mac)
    dropped.physAddress = set.mac;
  return Object.keys(dropped).length > 0 ? dropped : undefined;
}

/**
 * Records, before we change it, what a link of others is (or what the book knew it was, when the
 * book can be believed); returns the original removal gives back.
 */
export function recordOriginal(
  ctx: LinuxContext,
  key: string,
  type: ForeignLinkType,
  value: LinuxInterface,
  view: NamespaceView,
  link: Link,
  /** What this run knows it was (its metadata): it has the last word. */
  known?: LinkOriginal,
): LinkOriginal {
  const believed = known ? undefined : trustedEntry(ctx, view.identity, link);
  const partly = known || believed ? undefined : sameLinkEntry(ctx, view.identity, link);
  const original =
    known ??
    (believed ? newlySetOriginal(believed, whatWeSet(value), link) : undefined) ??
    (partly ? mergedOriginal(partly, link) : linkOriginal(link));
  const before = sameLinkEntry(ctx, view.identity, link);
  // Back under another ifindex: the entry moves to the one it has now.
  if (before && before.ifindex !== link.index) ctx.originals.forget(view.identity, before.ifindex);
  const set = whatWeSet(value);
  // The link may have what we set before until the new value is applied (only the link's own
  // settings are checked then: what the book says it was, and what we set, before and now).
  const setBefore = before?.set && !sameSet(before.set, set) ? before.set : undefined;
  ctx.originals.record({
    key,
    type,
    namespaceId: view.id,
    namespaceIdentity: view.identity,
    ifindex: link.index,
    hostIfName: value.hostIfName,
    original,
    set,
    ...(setBefore ? { setBefore } : {}),
    // Addresses we added to this link stay ours to take off.
    addresses: before?.addresses ?? [],
  });
  return original;
}

export function foreignLinkMetadata(
  view: NamespaceView,
  link: Link,
  original: LinkOriginal,
): InterfaceMetadata {
  return {
    ifindex: link.index,
    namespaceId: view.id,
    namespaceIdentity: view.identity,
    hostIfName: link.name,
    owned: false,
    original,
  };
}

/**
 * The EXISTING and LOOPBACK links the configuration wants, found by host name. Found, they are not
 * configured again (a restart writes nothing when they are right), and removing the item still
 * undoes exactly what we set: the original comes from this run's metadata, else from the book.
 */
export function foreignLinksIn(
  ctx: LinuxContext,
  engine: EngineView,
  desired: readonly { key: string; value: LinuxInterface }[],
): Found[] {
  const found: Found[] = [];
  for (const { key, value } of desired) {
    if (value.type !== 'EXISTING' && value.type !== 'LOOPBACK') continue;
    const view = ctx.views.get(namespaceId(value.namespace));
    const link = view?.links.get(value.hostIfName);
    if (!view || !link) continue;
    const previous = engine.metadata<InterfaceMetadata>(key);
    const dropped = settingsDropped(trustedEntry(ctx, view.identity, link), value, link);
    const right =
      dropped === undefined &&
      Object.keys(linkDifferences(link, desiredLinkAttributes(value, undefined))).length === 0;
    const original =
      previous?.ifindex === link.index && previous.namespaceIdentity === view.identity && previous.original
        ? previous.original
        : recordOriginal(ctx, key, value.type, value, view, link);
    ctx.noteForeignLink(view.id, link.index, key);
    found.push({
      key,
      value: right ? value : { ...value, mtu: -1, ...dropped },
      metadata: foreignLinkMetadata(view, link, original),
      managed: true,
    });
  }
  return found;
}

/**
 * Links of others the book says we configured and that no item wants now (deleted, or given
 * another host name, while the agent was down): reported so that the engine removes them, which
 * undoes what we set. An entry whose key an item still has (for another link) is reported under a
 * key of its own. AUTO_TAPs are not here: they bear our mark and are found by it. An entry that
 * cannot be believed any more (link gone, renamed or reconfigured, namespace another one) is
 * forgotten.
 */
export function foreignLinksNoLongerWanted(
  ctx: LinuxContext,
  desired: readonly { key: string }[],
  found: readonly Found[],
): Found[] {
  const entries = ctx.originals.all();
  if (entries.length === 0) return [];
  const wantedKeys = new Set(desired.map((d) => d.key));
  const taken = new Set(found.map((f) => originalKey(f.metadata.namespaceIdentity, f.metadata.ifindex)));
  const orphans: Found[] = [];
  for (const entry of entries) {
    if (entry.type === 'AUTO_TAP' || taken.has(originalKey(entry.namespaceIdentity, entry.ifindex))) continue;
    const view = ctx.views.get(entry.namespaceId);
    if (!view) continue; // not looked at in this resync
    const sameNamespace = view.identity === entry.namespaceIdentity;
    const link = sameNamespace ? view.links.get(entry.ifindex) : undefined;
    // Moved out of its namespace (or renamed) while its item still wants it: kept for when it comes
    // back, maybe under another ifindex, with our MTU still on it (forgotten, the book would take
    // ours for the owner's).
    if (sameNamespace && link?.name !== entry.hostIfName && wantedKeys.has(entry.key)) continue;
    if (!link || !trustedEntry(ctx, view.identity, link)) {
      ctx.originals.forget(entry.namespaceIdentity, entry.ifindex);
      continue;
    }
    const key = orphanKey(entry, (k) => wantedKeys.has(k));
    const name = key.slice(key.lastIndexOf('/') + 1);
    // What we set is what removal gives back (an entry of an older book says nothing: all of it).
    const set = entry.set ?? { mtu: entry.original.mtu, mac: entry.original.mac };
    const common = {
      name,
      description: '',
      enabled: false,
      ipAddresses: [],
      hostIfName: link.name,
      ...(set.mtu !== undefined ? { mtu: set.mtu } : {}),
      ...(set.mac !== undefined ? { physAddress: set.mac } : {}),
    };
    orphans.push({
      key,
      value: { ...common, type: entry.type, namespace: nsRefOf(view.id) },
      metadata: foreignLinkMetadata(view, link, entry.original),
      managed: true,
    });
  }
  return orphans;
}

/** The key a link of others no item wants is removed under (see foreignLinksNoLongerWanted). */
export function orphanKey(entry: RecordedOriginal, isWanted: (key: string) => boolean): string {
  return isWanted(entry.key) ? `${entry.key}.was-${entry.hostIfName}-${entry.ifindex}` : entry.key;
}
