/**
 * LinuxStaticRoutes.Route (vpp-agent 1.x l3.proto) as a normalized, validated value. Pure.
 */
import { ROUTE_SCOPES, type RouteScope } from './enums.js';
import type { FieldErrors } from './errors.js';
import {
  defaultPrefixText,
  familyName,
  hasHostBits,
  isIpv6LinkLocal,
  isIpv6Loopback,
  isLimitedBroadcast,
  isMulticast,
  isUnspecified,
  networkOf,
  parseIp,
  parsePrefix,
  type IpAddress,
  type IpFamily,
} from './ip.js';
import { itemNameProblem } from './names.js';
import { NAMESPACE_FIELDS, namespaceToJson, readNamespace, type NamespaceRef } from './namespace.js';
import type { MessageReader } from './proto-json.js';

/** Field lists are constants: the reader works out their spellings once per list. */
const TYPE_FIELDS = ['type'] as const;

export interface LinuxRoute {
  name: string;
  description: string;
  namespace: NamespaceRef;
  /** Config name of an interface, or a host interface name in the route's namespace. */
  interface?: string;
  /** True for a default route (`default: true`, or a /0 destination). */
  isDefault: boolean;
  family: IpFamily;
  /** Canonical destination prefix; 0.0.0.0/0 or ::/0 for a default route. */
  dst: string;
  gateway?: string;
  /** Preferred source address (RTA_PREFSRC). */
  source?: string;
  /** Absent: the kernel's default scope for the route. */
  scope?: RouteScope;
  /** RTA_PRIORITY; 0 is the kernel default. */
  metric: number;
  /** Routing table id; 0 means main. */
  table: number;
}

export const ROUTE_FIELDS = [
  'name',
  'default',
  'namespace',
  'interface',
  'description',
  'scope',
  'dst_ip_addr',
  'src_ip_addr',
  'gw_addr',
  'metric',
  'table',
] as const;

/** RT_TABLE_LOCAL: the kernel's own table of local and broadcast routes. */
const LOCAL_TABLE = 255;

interface Destination {
  family: IpFamily | undefined;
  text: string | undefined;
}

function readDestination(reader: MessageReader, errors: FieldErrors, isDefault: boolean): Destination {
  const path = reader.pathOf('dst_ip_addr');
  const text = reader.string('dst_ip_addr');
  if (text === '') {
    if (!isDefault) errors.add(path, 'a route needs dst_ip_addr (address/prefix), or default: true');
    return { family: undefined, text: undefined };
  }
  // A bare address is a host route, as `ip route add 10.0.0.1` reads it.
  const parsed = text.includes('/')
    ? parsePrefix(text)
    : parsePrefix(`${text}/${text.includes(':') ? 128 : 32}`);
  if (!parsed.ok) {
    errors.add(path, `${JSON.stringify(text)}: ${parsed.reason}`);
    return { family: undefined, text: undefined };
  }
  const prefix = parsed.value;
  if (hasHostBits(prefix)) {
    errors.add(
      path,
      `${prefix.text} has bits set after the prefix length; did you mean ${networkOf(prefix).text}?`,
    );
  } else if (isDefault && prefix.prefixLength !== 0) {
    errors.add(
      path,
      `default: true means ${defaultPrefixText(prefix.address.family)}, but ${prefix.text} is given`,
    );
  }
  return { family: prefix.address.family, text: prefix.text };
}

function readAddress(
  reader: MessageReader,
  errors: FieldErrors,
  field: 'gw_addr' | 'src_ip_addr',
  family: IpFamily | undefined,
): IpAddress | undefined {
  const text = reader.string(field);
  if (text === '') return undefined;
  const path = reader.pathOf(field);
  // Older docs wrote the source as address/prefix; the prefix means nothing for a source.
  const parsed = field === 'src_ip_addr' && text.includes('/') ? parsePrefix(text) : parseIp(text);
  if (!parsed.ok) {
    errors.add(path, `${JSON.stringify(text)}: ${parsed.reason}`);
    return undefined;
  }
  const address = 'address' in parsed.value ? parsed.value.address : parsed.value;
  const what = field === 'gw_addr' ? 'gateway' : 'source address';
  if (isUnspecified(address) || isMulticast(address)) {
    errors.add(path, `${address.text} cannot be a ${what} (unspecified or multicast)`);
  } else if (field === 'gw_addr' && (isLimitedBroadcast(address) || isIpv6Loopback(address))) {
    // The kernel refuses both ("Nexthop has invalid gateway", "Gateway can not be a local address").
    errors.add(
      path,
      `${address.text} cannot be a gateway (${isIpv6Loopback(address) ? 'the loopback address' : 'broadcast'})`,
    );
  } else if (family !== undefined && address.family !== family) {
    errors.add(
      path,
      `${what} ${address.text} is ${familyName(address.family)} but the route is ${familyName(family)}`,
    );
  }
  return address;
}

export function readRoute(reader: MessageReader, errors: FieldErrors, name: string): LinuxRoute {
  const defaultFlag = reader.bool('default');
  const dst = readDestination(reader, errors, defaultFlag);
  const gateway = readAddress(reader, errors, 'gw_addr', dst.family);
  const source = readAddress(reader, errors, 'src_ip_addr', dst.family ?? gateway?.family);
  const family: IpFamily = dst.family ?? gateway?.family ?? source?.family ?? 4;
  const dstText = dst.text ?? defaultPrefixText(family);
  const route: LinuxRoute = {
    name,
    description: reader.string('description'),
    namespace: readNamespace(reader.message('namespace', NAMESPACE_FIELDS), errors),
    isDefault: dstText.endsWith('/0'),
    family,
    dst: dstText,
    metric: reader.uint32('metric'),
    table: reader.uint32('table'),
  };
  const iface = reader.string('interface');
  if (iface !== '') {
    const problem = itemNameProblem(iface);
    if (problem !== undefined) errors.add(reader.pathOf('interface'), `interface name ${problem}`);
    route.interface = iface;
  } else if (gateway === undefined) {
    errors.add(reader.pathOf('interface'), 'a route needs an interface, a gateway (gw_addr), or both');
  } else if (isIpv6LinkLocal(gateway)) {
    // fe80::/10 is on every link: the kernel cannot pick one ("Egress device not specified").
    errors.add(
      reader.pathOf('interface'),
      `a route via the link-local gateway ${gateway.text} needs its interface: that address is on every link`,
    );
  }
  if (gateway !== undefined) route.gateway = gateway.text;
  if (source !== undefined) route.source = source.text;
  const scopeReader = reader.message('scope', TYPE_FIELDS);
  if (scopeReader !== undefined) {
    route.scope = scopeReader.enumValue('type', ROUTE_SCOPES);
    if (gateway !== undefined && family === 4 && (route.scope === 'LINK' || route.scope === 'HOST')) {
      errors.add(
        scopeReader.pathOf('type'),
        `a route through a gateway cannot have scope ${route.scope} (the kernel refuses: "Nexthop has invalid scope")`,
      );
    }
  }
  if (route.table === LOCAL_TABLE) {
    errors.add(reader.pathOf('table'), `table ${LOCAL_TABLE} (local) belongs to the kernel`);
  }
  return route;
}

/** Canonical proto3 JSON: proto field names, enum names, defaults left out. */
export function routeToJson(value: LinuxRoute): Record<string, unknown> {
  const out: Record<string, unknown> = { name: value.name };
  if (value.isDefault) out['default'] = true;
  const namespace = namespaceToJson(value.namespace);
  if (namespace !== undefined) out['namespace'] = namespace;
  if (value.interface !== undefined) out['interface'] = value.interface;
  if (value.description !== '') out['description'] = value.description;
  if (value.scope !== undefined) out['scope'] = { type: value.scope };
  out['dst_ip_addr'] = value.dst;
  if (value.source !== undefined) out['src_ip_addr'] = value.source;
  if (value.gateway !== undefined) out['gw_addr'] = value.gateway;
  if (value.metric !== 0) out['metric'] = value.metric;
  if (value.table !== 0) out['table'] = value.table;
  return out;
}
