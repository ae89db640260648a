/**
 * What the kernel holds in the named namespaces and running containers a plan refers to that the
 * agent has not opened (it opens a namespace only once an item needs it): whether each exists, and
 * its links. The engine
 * knows only what the kernel told it, so without this a plan says it would create a namespace
 * that is there already, and an EXISTING link in it "waits to exist". Read-only: a dump.
 */
import { existsSync } from 'node:fs';
import { NetlinkHandle } from '../netlink/index.js';
import { namespaceIdentity } from '../netns/index.js';
import { namedNamespacePath, namespaceOwnership } from '../descriptors/named-namespaces.js';
import { linkFact, linkUpFact, namespaceFact } from '../descriptors/fact-keys.js';
import type { FactChange } from '../scheduler/index.js';
import { namedNamespaceOfFile, namespaceId, type ModelItem, type NamespaceRef } from '../model/index.js';

export interface ObservedNamespaces {
  /** Names of named namespaces that exist now. */
  existing: Set<string>;
  /** The facts the agent would learn on opening them. */
  facts: FactChange[];
  /** Their links by namespace id and name (with the alias, which says whose a link is). */
  links: Map<string, Map<string, { alias?: string }>>;
}

/** Names of the named namespaces the values refer to (interfaces, VETH peers, routes, ARP entries). */
export function namedNamespacesOf(values: Iterable<ModelItem['value']>): Set<string> {
  return namespaceNamesOf(values, 'named');
}

/** Labels of the microservices the values refer to. */
export function microservicesOf(values: Iterable<ModelItem['value']>): Set<string> {
  return namespaceNamesOf(values, 'microservice');
}

function namespaceNamesOf(values: Iterable<ModelItem['value']>, kind: 'named' | 'microservice'): Set<string> {
  const names = new Set<string>();
  for (const value of values) {
    const ref = (value as { namespace?: NamespaceRef }).namespace;
    if (ref?.kind === 'named' && kind === 'named' && ref.name) names.add(ref.name);
    // A file of /var/run/netns is that named namespace.
    const namedFile = ref?.kind === 'file' && kind === 'named' ? namedNamespaceOfFile(ref.path) : undefined;
    if (namedFile !== undefined) names.add(namedFile);
    if (ref?.kind === 'microservice' && kind === 'microservice' && ref.label) names.add(ref.label);
  }
  return names;
}

/** A namespace a plan looks into: its id, its file, and how to name it in messages. */
export interface PlanPlace {
  nsId: string;
  path: string;
  what: string;
}

/**
 * The process and file references of the values (not named namespaces, not containers): a plan
 * sees that those that exist exist, as the agent would once it opens them.
 */
export function processAndFileNamespacesOf(values: Iterable<ModelItem['value']>): PlanPlace[] {
  const places = new Map<string, PlanPlace>();
  for (const value of values) {
    const ref = (value as { namespace?: NamespaceRef }).namespace;
    if (ref?.kind === 'pid')
      places.set(namespaceId(ref), {
        nsId: namespaceId(ref),
        path: `/proc/${ref.pid}/ns/net`,
        what: `namespace of pid ${ref.pid}`,
      });
    else if (ref?.kind === 'file' && namedNamespaceOfFile(ref.path) === undefined)
      places.set(namespaceId(ref), {
        nsId: namespaceId(ref),
        path: ref.path,
        what: `namespace file ${ref.path}`,
      });
  }
  return [...places.values()];
}

/** Ids of the namespaces of the routes with a gateway among the values. */
export function gatewayNamespacesOf(values: Iterable<unknown>): string[] {
  const ids = new Set<string>();
  for (const value of values) {
    const route = value as { gateway?: unknown; namespace?: NamespaceRef };
    if (typeof route.gateway === 'string' && route.namespace) ids.add(namespaceId(route.namespace));
  }
  return [...ids];
}

export async function observeNamedNamespaces(
  names: Iterable<string>,
  isOpen: (nsId: string) => boolean,
  /** Microservices the plan refers to, with the pid of the container each resolves to now. */
  microservices: Iterable<[label: string, pid: number | undefined]> = [],
  /** Process and file references (processAndFileNamespacesOf). */
  others: Iterable<PlanPlace> = [],
): Promise<ObservedNamespaces> {
  const observed: ObservedNamespaces = { existing: new Set(), facts: [], links: new Map() };
  const places: (PlanPlace & { name?: string })[] = [...others];
  for (const name of names)
    places.push({
      nsId: `named/${name}`,
      path: namedNamespacePath(name),
      what: `named namespace ${name}`,
      name,
    });
  // A running container no item referred to yet: the agent is not watching its namespace.
  for (const [label, pid] of microservices)
    if (pid !== undefined)
      places.push({
        nsId: `microservice/${label}`,
        path: `/proc/${pid}/ns/net`,
        what: `microservice ${label}`,
      });
  await Promise.all(
    places.map(async ({ nsId, path, what, name }) => {
      if (!existsSync(path)) return;
      if (name !== undefined) observed.existing.add(name);
      if (isOpen(nsId)) return; // the engine knows it already
      const identity = namespaceIdentity(path);
      if (identity === undefined) return;
      const handle = new NetlinkHandle({ namespacePath: path, label: `plan: ${what}` });
      try {
        const links = await handle.linkList();
        observed.facts.push({ key: namespaceFact(nsId), value: { identity } });
        observed.links.set(
          nsId,
          new Map(links.map((link) => [link.name, link.alias === undefined ? {} : { alias: link.alias }])),
        );
        for (const link of links) {
          observed.facts.push({ key: linkFact(nsId, link.name), value: { ifindex: link.index } });
          if (link.up)
            observed.facts.push({
              key: linkUpFact(nsId, link.name),
              value: { ifindex: link.index, upSeq: 0 },
            });
        }
      } catch {
        // Gone meanwhile, or not ours to read: the plan says what it says without it.
      } finally {
        handle.close();
      }
    }),
  );
  return observed;
}

/**
 * Of the named namespaces a plan removes, what the agent's deletion would do: leave in place those
 * it did not make (`kept`: no creator mark of `label` on their `lo`: made by hand, or by someone
 * again after ours was deleted; or gone already), and be refused for those of its own that hold
 * another program's or agent's links (`held`, with those links). Read-only: one link dump each.
 */
export async function namespacesLeftInPlace(
  names: Iterable<string>,
  label: string,
): Promise<{ kept: Set<string>; held: Map<string, string[]> }> {
  const kept = new Set<string>();
  const held = new Map<string, string[]>();
  await Promise.all(
    [...names].map(async (name) => {
      // Gone already: nothing to remove. Unreadable (e.g. out of file descriptors): not known to
      // stay, so the plan says what applying would try.
      if (!existsSync(namedNamespacePath(name))) return kept.add(name);
      const ownership = await namespaceOwnership(name, label).catch(() => undefined);
      if (ownership === undefined) return;
      if (ownership.creator !== label) kept.add(name);
      else if (ownership.others.length > 0) held.set(name, ownership.others);
    }),
  );
  return { kept, held };
}
