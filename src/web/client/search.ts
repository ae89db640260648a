/**
 * The search box: which items and namespaces a query matches, by name, host name, address, MAC,
 * route destination or gateway, namespace title, state or reason. Space-separated words must all
 * match (case-insensitive). Pure.
 */
import type {
  TopologyArp,
  TopologyInterface,
  TopologyNamespace,
  TopologyRoute,
} from '../contract/topology.js';

export type Matcher = (fields: readonly (string | undefined)[]) => boolean;

/** A matcher for the query, or undefined when the query is empty. */
export function matcherFor(query: string): Matcher | undefined {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return undefined;
  return (fields) => {
    const haystack = fields.filter(Boolean).join('\n').toLowerCase();
    return words.every((w) => haystack.includes(w));
  };
}

export function interfaceFields(item: TopologyInterface): (string | undefined)[] {
  return [
    item.name,
    item.hostIfName,
    item.type,
    item.state,
    item.reason,
    item.error,
    item.physAddress,
    item.kernel?.mac,
    item.description,
    ...item.ipAddresses,
  ];
}

export function routeFields(item: TopologyRoute): (string | undefined)[] {
  return [item.name, item.dst, item.gateway, item.interface, item.state, item.reason, item.error, 'route'];
}

export function arpFields(item: TopologyArp): (string | undefined)[] {
  return [
    item.name,
    item.ipAddress,
    item.hwAddress,
    item.interface,
    item.state,
    item.reason,
    item.error,
    'arp',
  ];
}

export function namespaceFields(ns: TopologyNamespace): (string | undefined)[] {
  return [ns.title, ns.id, ns.container?.id, ns.container?.name];
}
