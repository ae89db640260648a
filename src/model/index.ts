/** The data model: keys, values (parse, validate, serialize), namespace references. See README.md. */
export {
  FieldErrors,
  InvalidKeyError,
  InvalidValueError,
  KEY_FIELD,
  WHOLE_VALUE,
  refusalHeadline,
  type FieldError,
} from './errors.js';
export {
  ITEM_KINDS,
  arpKey,
  configKey,
  configPrefix,
  interfaceKey,
  interfaceStatusKey,
  interfaceStatusPrefix,
  isItemKind,
  configKeyProblem,
  parseConfigKey,
  parseStatusKey,
  requireConfigKey,
  routeKey,
  type ConfigKey,
  type ItemKind,
  type StatusKey,
} from './keys.js';
export { configValueErrors } from './check-value.js';
export {
  MAX_VALUE_BYTES,
  parseItem,
  parseItemText,
  serializeItem,
  valueToJson,
  type ArpItem,
  type InterfaceItem,
  type KindValue,
  type ModelItem,
  type RouteItem,
  type ValueOf,
} from './item.js';
export {
  MAX_ADDRESSES,
  MAX_MTU,
  MIN_MTU,
  type AutoTapInterface,
  type InterfaceCommon,
  type LinuxInterface,
  type SimpleInterface,
  type VethInterface,
} from './interface.js';
export type { LinuxRoute } from './route.js';
export type { LinuxArpEntry } from './arp.js';
export {
  INTERFACE_TYPES,
  NAMESPACE_TYPES,
  NUD_STATES,
  ROUTE_SCOPES,
  type InterfaceType,
  type NamespaceType,
  type NudState,
  type RouteScope,
} from './enums.js';
export {
  DEFAULT_NAMESPACE,
  describeNamespace,
  namespaceId,
  namedNamespaceOfFile,
  parseNamespaceId,
  sameNamespace,
  type NamespaceRef,
} from './namespace.js';
export {
  findHostNameConflict,
  hostNameClaim,
  neighbourClaim,
  routePlaceClaim,
  type ClaimedInterface,
} from './claims.js';
export {
  familyName,
  formatIp,
  hasHostBits,
  isIpv6LinkLocal,
  isIpv6Loopback,
  isLimitedBroadcast,
  isMulticast,
  isUnspecified,
  networkOf,
  samePrefixBits,
  parseIp,
  parsePrefix,
  type IpAddress,
  type IpFamily,
  type IpPrefix,
  type Parsed,
} from './ip.js';
export { deviceMacProblem, isMulticastMac, parseMac } from './mac.js';
export { hostIfNameProblem, itemNameProblem, MAX_HOST_IF_NAME_BYTES, namespaceNameProblem } from './names.js';
