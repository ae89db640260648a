/**
 * Gateways the kernel refuses however reachable they look, for the plan to say so before apply
 * meets the kernel's error (checked with `ip` on the kernel we run on):
 * - IPv4: the broadcast address of a network of the route's interface ("Nexthop has invalid
 *   gateway"). Its network address, or one of its own addresses, is accepted.
 * - IPv6: an address of any interface of the namespace ("Gateway can not be a local address"); a
 *   link-local one only of the route's own interfaces.
 * Only configured addresses are known here: the kernel's own (link-local) and those of links this
 * agent does not configure are not. Pure.
 */
import {
  isIpv6LinkLocal,
  parseIp,
  parsePrefix,
  type LinuxInterface,
  type LinuxRoute,
} from '../model/index.js';

/** The broadcast address of an IPv4 network, or undefined where it has none (/31, /32). */
function ipv4Broadcast(cidr: string): string | undefined {
  const prefix = parsePrefix(cidr);
  if (!prefix.ok || prefix.value.address.family !== 4 || prefix.value.prefixLength > 30) return undefined;
  const bytes = prefix.value.address.bytes.slice();
  for (let bit = prefix.value.prefixLength; bit < 32; bit++) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return bytes.join('.');
}

/**
 * Why the kernel would refuse the route's gateway, or undefined. `through`: the interfaces the route
 * may use (the one it names, or, naming none, every one of its namespace); `inNamespace`: every
 * configured interface of its namespace.
 */
export function gatewayProblem(
  route: LinuxRoute,
  through: readonly LinuxInterface[],
  inNamespace: readonly LinuxInterface[],
): string | undefined {
  if (route.gateway === undefined) return undefined;
  const gateway = parseIp(route.gateway);
  if (!gateway.ok) return undefined;
  const text = gateway.value.text;
  if (gateway.value.family === 4) {
    for (const link of through)
      for (const cidr of link.ipAddresses)
        if (ipv4Broadcast(cidr) === text)
          return `gateway ${text} is the broadcast address of ${cidr} on ${link.name}: the kernel refuses it`;
    return undefined;
  }
  // A link-local address is local to its link only: another link's is a gateway like any other.
  const linkLocal = isIpv6LinkLocal(gateway.value);
  for (const link of linkLocal ? through : inNamespace)
    for (const cidr of link.ipAddresses) {
      const own = parsePrefix(cidr);
      if (own.ok && own.value.address.text === text)
        return `gateway ${text} is an address of ${link.name} in the same namespace: the kernel refuses a local gateway`;
    }
  return undefined;
}
