/** Errors of the Linux descriptors. */
import { AgentError } from '../errors.js';
import { NetlinkError } from '../netlink/index.js';
import { MIN_IPV6_MTU } from '../model/interface.js';

/** A link the configuration refers to is not there (yet): retried, as it may appear. */
export class InterfaceNotFoundError extends AgentError {
  readonly code = 'ERR_INTERFACE_NOT_FOUND';
  constructor(name: string, where: string, what: string) {
    super(`${what} ${name} not found in ${where}`, { retriable: true });
  }
}

/**
 * A route's or ARP entry's interface item is not configured on the link its host name finds (that
 * link is someone else's while the item fails, e.g. on the name's holder): nothing is put there.
 */
export class InterfaceNotConfiguredError extends AgentError {
  readonly code = 'ERR_INTERFACE_NOT_CONFIGURED';
  constructor(name: string, hostIfName: string, where: string) {
    super(
      `interface ${name} is not configured as ${hostIfName} in ${where}: the link ${hostIfName} there is not its own`,
      { retriable: true },
    );
  }
}

/** The namespace an item needs is not open in the agent. */
export class NamespaceUnavailableError extends AgentError {
  readonly code = 'ERR_NAMESPACE_UNAVAILABLE';
  constructor(description: string) {
    super(`${description} is not available`, { retriable: true });
  }
}

/**
 * A named namespace we made holds links that are not ours (another agent's, or made by hand): it is
 * not deleted while they are there; tried again, so it goes once they do.
 */
export class NamespaceInUseError extends AgentError {
  readonly code = 'ERR_NAMESPACE_IN_USE';
  constructor(namespace: string, links: string[]) {
    super(
      `named namespace ${namespace} is kept while it holds links that are not ours (${links.join(', ')})`,
      { retriable: true },
    );
  }
}

/**
 * A named namespace we made that items of the configuration still use through its file
 * (FILE_REF_NS /var/run/netns/<name>, the same namespace): not deleted while they do. Not retried on
 * a timer: tried again as soon as the last of them goes (the plugin, on status changes).
 */
export class NamespaceReferencedError extends AgentError {
  readonly code = 'ERR_NAMESPACE_IN_USE';
  constructor(namespace: string, keys: string[]) {
    super(
      `named namespace ${namespace} is kept while items of the configuration use it through its file (${keys.join(', ')})`,
      { retriable: false },
    );
  }
}

/**
 * A route or ARP entry through a link another agent (label) made: whose the entries on a link are is
 * told by the link's mark, so one made there would pass for that agent's (a restart of it would
 * take it off, and this agent would no longer know it as its own). Not made; tried again when the
 * link changes.
 */
export class LinkOfAnotherAgentError extends AgentError {
  readonly code = 'ERR_LINK_OF_ANOTHER_AGENT';
}

/**
 * The place of a route (table, destination, metric) is held by a route the agent did not make (the
 * kernel's own route of an address's network, another program's): not replaced, since its removal
 * later would cut what that route served. Tried again when a route goes away in that namespace.
 */
export class RoutePlaceTakenError extends AgentError {
  readonly code = 'ERR_ROUTE_PLACE_TAKEN';
}

/**
 * A neighbour entry (address on a link) is taken: configured by another ARP item that names the
 * same link another way (by its config name, the other by its host name, or the reverse: each would
 * put its own back over the other's), or a static entry someone else made (removing the item later
 * would delete it). Tried again when a neighbour entry goes away in that namespace.
 */
export class NeighbourTakenError extends AgentError {
  readonly code = 'ERR_NEIGHBOUR_TAKEN';
}

/**
 * An ARP entry on a link where the kernel cannot keep it as given: on a loopback or point-to-point
 * link it files every IPv4 neighbour entry under 0.0.0.0 (so the entry would never be found at its
 * address, and was taken for an orphan and made again in a loop); on a link without a MAC (a tun)
 * it keeps no hardware address. Not retried: the link's kind does not change (a link of that name
 * made again is tried anew).
 */
export class NoNeighboursOnLinkError extends AgentError {
  readonly code = 'ERR_NO_NEIGHBOURS_ON_LINK';
  constructor(message: string, key: string) {
    super(message, { key, field: 'interface', retriable: false });
  }
}

/**
 * The link an AUTO_TAP waits for has its temporary name but is not a TAP (a host's interface, a
 * VETH): it is not taken (renamed, moved, set down). Retriable: a TAP of that name may come.
 */
export class NotATapError extends AgentError {
  readonly code = 'ERR_NOT_A_TAP';
  constructor(name: string, kind: string, where: string) {
    super(`${name} in ${where} is a link of kind ${kind}, not a TAP: not taken`, {
      retriable: true,
      field: 'tap.temp_if_name',
    });
  }
}

/**
 * The kernel cannot make links of this kind (EOPNOTSUPP, "Unknown device type": its module, e.g.
 * dummy, is neither built in nor loadable). Said on the item's `type`, not as a bare errno; not
 * retried (nothing announces a module loaded later: putting the item again tries it).
 */
export class LinkKindUnsupportedError extends AgentError {
  readonly code = 'ERR_LINK_KIND_UNSUPPORTED';
  constructor(type: string, kind: string, where: string, cause: NetlinkError) {
    super(
      `this kernel cannot make ${type} links (link kind ${kind} in ${where}: ${cause.errnoName}${cause.kernelMessage ? `, ${cause.kernelMessage}` : ''}): its module ${kind} is not loaded (modprobe ${kind}) or not built; put the item again once it is`,
      { field: 'type', cause },
    );
  }
}

/**
 * An MTU the link does not take (the kernel's min_mtu/max_mtu of its driver: a TAP takes at most
 * 65521). Said before anything is changed, instead of the kernel's bare EINVAL half way through.
 */
export class MtuOutOfRangeError extends AgentError {
  readonly code = 'ERR_MTU_OUT_OF_RANGE';
  constructor(mtu: number, link: string, range: { min?: number; max?: number }) {
    super(`MTU ${mtu} is out of what ${link} takes (${range.min ?? 0} to ${range.max ?? 'no limit'})`, {
      field: 'mtu',
    });
  }
}

/**
 * An IPv6 address, route or neighbour entry refused on a link whose MTU is below 1280, the least
 * IPv6 allows: the kernel turned IPv6 off there (its own errno, EINVAL or ENODEV, says nothing of
 * why). Tried again when a link's MTU changes (linux-plugin.ts).
 */
export class Ipv6OffByMtuError extends AgentError {
  readonly code = 'ERR_IPV6_OFF_BY_MTU';
  constructor(what: string, hostIfName: string, mtu: number, field: string) {
    super(
      `${what}: IPv6 is off on ${hostIfName}, whose MTU ${mtu} is below 1280 (the least IPv6 allows); tried again when its MTU changes`,
      { retriable: false, field },
    );
  }
}

/** The error to report for a refused IPv6 request through a link: Ipv6OffByMtuError when that is why. */
export function ipv6OffByMtu(
  error: unknown,
  link: { name: string; mtu: number } | undefined,
  what: string,
  field: string,
): unknown {
  if (link === undefined || link.mtu >= MIN_IPV6_MTU || !(error instanceof NetlinkError)) return error;
  return ['EINVAL', 'ENODEV', 'EACCES'].includes(error.errnoName)
    ? new Ipv6OffByMtuError(what, link.name, link.mtu, field)
    : error;
}

/**
 * An IPv6 address of ours failed the kernel's duplicate address detection: another host on the link
 * has it. Taken off (the kernel keeps it unusable and never checks again) and added again after a
 * delay (duplicate-addresses.ts), not on the engine's quick retries.
 */
export class DuplicateAddressError extends AgentError {
  readonly code = 'ERR_DUPLICATE_ADDRESS';
  constructor(cidr: string, hostIfName: string, retryMs: number) {
    super(
      `address ${cidr} is used by another host on the link of ${hostIfName} (IPv6 duplicate address detection failed); taken off, tried again in ${Math.round(retryMs / 1000)} s`,
      { retriable: false, field: 'ip_addresses' },
    );
  }
}

/**
 * A TAP cannot be given back under its temporary name: another link has that name in the agent's
 * namespace (the kernel says only EEXIST). Tried again: it goes back once the name is free.
 */
export class TapNameTakenError extends AgentError {
  readonly code = 'ERR_TAP_NAME_TAKEN';
  constructor(tempName: string, cause: NetlinkError) {
    super(
      `the TAP cannot be given back as ${tempName}: another link has that name in the agent's namespace (${cause.message}); tried again until the name is free`,
      { retriable: true, field: 'tap.temp_if_name' },
    );
  }
}

/**
 * The kernel refused a route for a reason one field of the item explains (its extended ack says
 * which): a source address no interface of the namespace has, or a gateway that cannot be a next
 * hop there. The kernel's own words stay in the message; retried as the kernel's error is.
 */
export class RouteRefusedError extends AgentError {
  readonly code = 'ERR_ROUTE_REFUSED';
  constructor(message: string, field: 'src_ip_addr' | 'gw_addr', cause: NetlinkError) {
    super(`${message} (the kernel: ${cause.message})`, { retriable: cause.retriable, field, cause });
  }
}

/** The kernel's refusal of `spec` in `where` said as the item's field, when its words name one. */
export function routeRefusal(
  error: unknown,
  spec: { gateway?: string; source?: string },
  where: string,
  linkName: string | undefined,
): unknown {
  if (!(error instanceof NetlinkError) || error.errnoName !== 'EINVAL') return error;
  const said = error.kernelMessage ?? '';
  if (said === 'Invalid prefsrc address' && spec.source !== undefined)
    return new RouteRefusedError(
      `source address ${spec.source} is not an address of an interface in ${where}`,
      'src_ip_addr',
      error,
    );
  // IPv6's words for it; an address still in duplicate address detection (tentative) is refused too.
  if (said === 'Invalid source address' && spec.source !== undefined)
    return new RouteRefusedError(
      `source address ${spec.source} is not an address of an interface in ${where} (or is still tentative)`,
      'src_ip_addr',
      error,
    );
  if (
    (said === 'Nexthop has invalid gateway' || said === 'Gateway can not be a local address') &&
    spec.gateway !== undefined
  )
    return new RouteRefusedError(
      `gateway ${spec.gateway} cannot be the next hop${linkName ? ` through ${linkName}` : ''} in ${where}` +
        (said.startsWith('Gateway') ? ': it is an address of this host' : ''),
      'gw_addr',
      error,
    );
  return error;
}
