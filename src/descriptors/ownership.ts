/**
 * How the agent marks in the kernel itself what it made, so that after a restart (even with a store
 * that changed meanwhile) resync knows what is its own: links carry an alias naming the agent's
 * label and the config item; routes and neighbour entries carry our protocol number. What bears no
 * mark is never touched.
 */
export const ALIAS_PREFIX = 'netns-agent';

/** rtm_protocol / NDA_PROTOCOL of our routes and neighbours (free in iproute2's rt_protos). */
export const AGENT_PROTOCOL = 144;

/**
 * IFLA_GROUP a link is created in, until the request that sets its alias also moves it to its
 * owned group (the kernel ignores an alias in the creating request): a link left unmarked by an
 * agent killed in between is still known as ours after the restart. The group carries a hash of
 * the label, so that agents with other labels on the host never take each other's half-made links.
 */
export function creatingGroup(label: string): number {
  return (0x6e62 * 0x10000 + labelHash(label)) >>> 0;
}

/**
 * IFLA_GROUP of the links this agent created and marked. Not a mark of ownership (the alias is);
 * it lets a teardown delete a namespace's links of ours in one request, without moving each into
 * the doomed group first (src/descriptors/delete-batcher.ts). Links marked by earlier versions
 * stay in group 0 and are deleted the other way. All 32 bits of the label's hash, with the top bit
 * set (never 0, the doomed group or a creating group), so that two labels rarely share it.
 */
export function ownedGroup(label: string): number {
  return (fnv1a(`${label}\0owned`) | 0x80000000) >>> 0;
}

/** FNV-1a, 32 bits. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

/** FNV-1a of the label, folded to 16 bits. */
function labelHash(label: string): number {
  const hash = fnv1a(label);
  return (hash ^ (hash >>> 16)) & 0xffff;
}

/**
 * IFLA_GROUP only for links about to be deleted: the delete batcher moves them there and deletes
 * the group in one request (src/descriptors/delete-batcher.ts). A wanted link found in it (a removal
 * that failed half-way, then the item came back) is taken out again like any other difference.
 */
export const DOOMED_GROUP = 0x6e61; // 'na'

/**
 * The mark of a link. An AUTO_TAP's also names the temporary name it is given back under (config
 * names hold no whitespace): a TAP removed from the store while the agent was down is then returned
 * after the restart, never deleted (it is someone else's, e.g. VPP's).
 */
export function ownerAlias(label: string, configName: string, tapTempName?: string): string {
  const mark = `${ALIAS_PREFIX}:${label}:${configName}`;
  return tapTempName === undefined ? mark : `${mark} ${TAP_TEMP_NAME}${tapTempName}`;
}

const TAP_TEMP_NAME = 'tap=';

/** The config name an alias claims for this agent, or undefined when the link is not ours. */
export function ownedConfigName(label: string, alias: string | undefined): string | undefined {
  const prefix = `${ALIAS_PREFIX}:${label}:`;
  if (!alias?.startsWith(prefix)) return undefined;
  const end = alias.indexOf(' ', prefix.length);
  return end === -1 ? alias.slice(prefix.length) : alias.slice(prefix.length, end);
}

/** The label of the other agent (another label) whose mark the alias is, if it is one. */
export function otherAgentOf(label: string, alias: string | undefined): string | undefined {
  if (!alias?.startsWith(`${ALIAS_PREFIX}:`) || ownedConfigName(label, alias) !== undefined) return undefined;
  const end = alias.indexOf(':', ALIAS_PREFIX.length + 1);
  return end === -1 ? undefined : alias.slice(ALIAS_PREFIX.length + 1, end);
}

/**
 * Routes and neighbour entries carry our protocol number, which every agent on the host shares: one
 * on a link another agent marked (another label's VETH, TAP...) is that agent's, never ours to keep,
 * replace or remove. `linkAlias` is the alias of the entry's link (a route's output interface).
 */
export function isOwnEntry(
  label: string,
  protocol: number | undefined,
  linkAlias: string | undefined,
): boolean {
  return protocol === AGENT_PROTOCOL && otherAgentOf(label, linkAlias) === undefined;
}

/** The temporary name an AUTO_TAP's mark names, if any. */
export function tapTempNameOf(alias: string | undefined): string | undefined {
  if (alias === undefined) return undefined;
  const at = alias.indexOf(` ${TAP_TEMP_NAME}`);
  return at === -1 ? undefined : alias.slice(at + 1 + TAP_TEMP_NAME.length) || undefined;
}

/** A link an agent of this label created and did not live to mark: no alias, still in its group. */
export function isHalfMadeLink(link: { alias?: string; group?: number }, label: string): boolean {
  return !link.alias && link.group === creatingGroup(label);
}
