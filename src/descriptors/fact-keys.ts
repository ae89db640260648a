/**
 * Keys of the engine's items that are not configuration: outside facts (a namespace is available, a
 * link exists or is up, a gateway is reachable) and items derived from a configuration value (its
 * addresses, the VETH end marker, the named namespace it needs). Every builder has a parser where
 * something reads keys back.
 */
export const FACT_NS = 'fact/ns/';
export const FACT_LINK = 'fact/link/';
export const FACT_LINK_UP = 'fact/link-up/';
export const FACT_REACH = 'fact/reach/';
export const FACT_TAP = 'fact/tap/';
export const NAMED_NAMESPACE = 'named-namespace/';

export const namespaceFact = (nsId: string): string => `${FACT_NS}${nsId}`;
export const linkFact = (nsId: string, hostIfName: string): string => `${FACT_LINK}${nsId}/${hostIfName}`;
export const linkUpFact = (nsId: string, hostIfName: string): string =>
  `${FACT_LINK_UP}${nsId}/${hostIfName}`;
/**
 * A TAP of ours (taken by an AUTO_TAP item, marked with its temporary name) is in that namespace,
 * whatever its name there: its item holds it through a new host name (renamed in place) and through
 * someone else's rename (put back in place), instead of giving it back and taking it again.
 */
export const tapFact = (nsId: string, tempIfName: string): string => `${FACT_TAP}${nsId}/${tempIfName}`;
/** For reachFact: through any interface that is up (a route that names none). */
export const ANY_INTERFACE = '';
/**
 * The kernel resolves a route's gateway in the route's own table, then through its rules (by
 * default the local, main and default tables): a route in a table of its own has a fact of its own.
 */
export const reachFact = (nsId: string, hostIfName: string, gateway: string, table = 0): string =>
  `${FACT_REACH}${nsId}/${hostIfName}/${gateway}${ownLookupTable(table) ? `@${table}` : ''}`;

/** Whether a route table is looked in besides those every lookup sees (local, main, default). */
export function ownLookupTable(table: number): boolean {
  return table !== 0 && table !== 253 && table !== 254 && table !== 255;
}
export const namedNamespaceItem = (name: string): string => `${NAMED_NAMESPACE}${name}`;

/** Derived from an interface's config key. */
export const addressItem = (interfaceKey: string, cidr: string): string => `${interfaceKey}/address/${cidr}`;
export const vethEndItem = (interfaceKey: string): string => `${interfaceKey}/veth-end`;

export function parseAddressItem(key: string): { interfaceKey: string; cidr: string } | undefined {
  const at = key.indexOf('/address/');
  if (at === -1) return undefined;
  return { interfaceKey: key.slice(0, at), cidr: key.slice(at + '/address/'.length) };
}

/** A namespace id (named/x, pid/42, file/path, microservice/x, default) in words. */
function namespaceWords(nsId: string): string {
  if (nsId === 'default') return "the agent's namespace";
  const slash = nsId.indexOf('/');
  const kind = nsId.slice(0, slash);
  const rest = nsId.slice(slash + 1);
  if (kind === 'named') return `named namespace ${rest}`;
  if (kind === 'pid') return `the namespace of pid ${rest}`;
  if (kind === 'file') return `namespace file ${rest}`;
  return `the namespace of ${kind} ${rest}`;
}

/**
 * The engine's "<fact> changed" (why an item is made again) in words: the engine knows facts by
 * key only. Anything else is returned as it is.
 */
export function describeFactChange(why: string): string {
  const match = /^(fact\/(?:link-up|link)\/)(.+)\/([^/]+) changed$/.exec(why);
  if (!match) return why;
  const [, kind, nsId, host] = match;
  return kind === FACT_LINK_UP
    ? `interface ${host} in ${namespaceWords(nsId!)} came up anew (the kernel drops what went through it when it goes down)`
    : `interface ${host} in ${namespaceWords(nsId!)} is another link now`;
}
