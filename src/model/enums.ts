/**
 * The enums of the vpp-agent 1.x Linux plugin protos (interfaces.proto and l3.proto), with their
 * proto numbers. Values may be written by name or by number.
 */
import type { EnumTable } from './proto-json.js';

/**
 * VETH and AUTO_TAP are the proto's. LOOPBACK, DUMMY and EXISTING are ours; their numbers start
 * at 100 so that values the upstream enum might add later (2, 3, ...) cannot be mistaken for them.
 */
export const INTERFACE_TYPES = {
  typeName: 'InterfaceType',
  values: { VETH: 0, AUTO_TAP: 1, LOOPBACK: 100, DUMMY: 101, EXISTING: 102 },
} as const satisfies EnumTable<string>;
export type InterfaceType = keyof typeof INTERFACE_TYPES.values;

export const NAMESPACE_TYPES = {
  typeName: 'NamespaceType',
  values: { PID_REF_NS: 0, MICROSERVICE_REF_NS: 1, NAMED_NS: 2, FILE_REF_NS: 3 },
} as const satisfies EnumTable<string>;
export type NamespaceType = keyof typeof NAMESPACE_TYPES.values;

export const ROUTE_SCOPES = {
  typeName: 'ScopeType',
  values: { GLOBAL: 0, SITE: 1, LINK: 2, HOST: 3 },
} as const satisfies EnumTable<string>;
export type RouteScope = keyof typeof ROUTE_SCOPES.values;

export const NUD_STATES = {
  typeName: 'NudStateType',
  values: { PERMANENT: 0, NOARP: 1, REACHABLE: 2, STALE: 3 },
} as const satisfies EnumTable<string>;
export type NudState = keyof typeof NUD_STATES.values;

export const ARP_FAMILIES = {
  typeName: 'Family',
  values: { IPV4: 0, IPV6: 1, ALL: 2, MPLS: 3 },
} as const satisfies EnumTable<string>;
export type ArpFamily = keyof typeof ARP_FAMILIES.values;
