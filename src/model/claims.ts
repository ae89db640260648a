/**
 * Two interface items must not claim the same host interface name in the same namespace: the
 * kernel has room for one. Nor two routes the same place in a routing table (the kernel keeps one
 * route per destination, table and metric: each would replace the other), nor two ARP items the
 * same neighbour entry (address on an interface). Which of the two is "later" is the caller's business (the order the
 * datastore delivered them); this module only finds the clash. Pure.
 */
import type { FieldError } from './errors.js';
import type { LinuxInterface } from './interface.js';
import type { LinuxRoute } from './route.js';
import type { LinuxArpEntry } from './arp.js';
import { describeNamespace, namespaceId } from './namespace.js';

export interface ClaimedInterface {
  key: string;
  value: LinuxInterface;
}

/** The identity of what an interface occupies in the kernel: a name in a namespace. */
export function hostNameClaim(value: LinuxInterface): string {
  return `${namespaceId(value.namespace)} ${value.hostIfName}`;
}

/**
 * The error for `candidate` when one of `others` (other keys) claims the same host name in the
 * same namespace, or undefined.
 */
export function findHostNameConflict(
  candidate: ClaimedInterface,
  others: Iterable<ClaimedInterface>,
): FieldError | undefined {
  const claim = hostNameClaim(candidate.value);
  for (const other of others) {
    if (other.key === candidate.key || hostNameClaim(other.value) !== claim) continue;
    return {
      key: candidate.key,
      field: 'host_if_name',
      message:
        `host interface name ${candidate.value.hostIfName} in ${describeNamespace(candidate.value.namespace)} ` +
        `is already claimed by ${other.key}`,
    };
  }
  return undefined;
}

/** The metric the kernel gives an IPv6 route that asks for none (IP6_RT_PRIO_USER). */
const IPV6_DEFAULT_METRIC = 1024;

/** Where the kernel keeps a route: namespace, table, destination, metric (as the kernel counts them). */
export function routePlaceClaim(value: LinuxRoute): { id: string; field: string; what: string } {
  const table = value.table === 0 ? 254 : value.table;
  const metric = value.metric === 0 && value.family === 6 ? IPV6_DEFAULT_METRIC : value.metric;
  return {
    id: `route ${namespaceId(value.namespace)} t${table} ${value.dst} m${metric}`,
    field: 'dst_ip_addr',
    what: `route ${value.dst} (table ${table}, metric ${metric}) in ${describeNamespace(value.namespace)}`,
  };
}

/** A neighbour entry: its address on an interface (as the item names it) in a namespace. */
export function neighbourClaim(value: LinuxArpEntry): { id: string; field: string; what: string } {
  return {
    id: `neigh ${namespaceId(value.namespace)} ${value.interface} ${value.ipAddress}`,
    field: 'ip_addr',
    what: `ARP entry ${value.ipAddress} on ${value.interface} in ${describeNamespace(value.namespace)}`,
  };
}
