/**
 * LinuxInterfaces.Interface (vpp-agent 1.x interfaces.proto) as a normalized, validated value.
 * Types VETH and AUTO_TAP come from the proto; LOOPBACK (the namespace's `lo`), DUMMY and
 * EXISTING (an interface made by someone else) are ours. Pure.
 */
import { INTERFACE_TYPES, type InterfaceType } from './enums.js';
import type { FieldErrors } from './errors.js';
import { isIpv6Loopback, isLimitedBroadcast, isMulticast, isUnspecified, parsePrefix } from './ip.js';
import { deviceMacProblem, parseMac } from './mac.js';
import { hostIfNameProblem, itemNameProblem } from './names.js';
import { NAMESPACE_FIELDS, namespaceToJson, readNamespace, type NamespaceRef } from './namespace.js';
import type { MessageReader } from './proto-json.js';

/** Field lists are constants: the reader works out their spellings once per list. */
const VETH_FIELDS = ['peer_if_name'] as const;
const TAP_FIELDS = ['temp_if_name'] as const;

export interface InterfaceCommon {
  /** The config name: the key's last segment. */
  name: string;
  description: string;
  /** proto3 default: an interface without `enabled: true` is configured down. */
  enabled: boolean;
  /** Canonical `address/prefix` strings, in the user's order. */
  ipAddresses: string[];
  /** Lower-case colon form; absent: leave the kernel's choice. */
  physAddress?: string;
  /** Absent (0 in the proto): keep the kernel's default. */
  mtu?: number;
  /** The name in the kernel: `host_if_name`, else `name` (`lo` for LOOPBACK). */
  hostIfName: string;
  namespace: NamespaceRef;
}

export type VethInterface = InterfaceCommon & { type: 'VETH'; veth: { peerIfName: string } };
export type AutoTapInterface = InterfaceCommon & { type: 'AUTO_TAP'; tap: { tempIfName: string } };
export type SimpleInterface = InterfaceCommon & { type: 'LOOPBACK' | 'DUMMY' | 'EXISTING' };
export type LinuxInterface = VethInterface | AutoTapInterface | SimpleInterface;

export const INTERFACE_FIELDS = [
  'name',
  'description',
  'type',
  'enabled',
  'ip_addresses',
  'phys_address',
  'mtu',
  'host_if_name',
  'namespace',
  'veth',
  'tap',
] as const;

export const MIN_MTU = 68;
export const MAX_MTU = 65535;
/** Below this MTU the kernel disables IPv6 on the interface. */
export const MIN_IPV6_MTU = 1280;
export const MAX_ADDRESSES = 256;
const LOOPBACK_NAME = 'lo';

function readAddresses(reader: MessageReader, errors: FieldErrors, loopback: boolean): string[] {
  const out: string[] = [];
  const seen = new Map<string, string>();
  for (const { path, text } of reader.stringList('ip_addresses', MAX_ADDRESSES)) {
    const parsed = parsePrefix(text);
    if (!parsed.ok) {
      errors.add(path, `${JSON.stringify(text)}: ${parsed.reason}`);
      continue;
    }
    const address = parsed.value.address;
    if (isUnspecified(address) || isMulticast(address) || isLimitedBroadcast(address)) {
      errors.add(
        path,
        `${address.text} cannot be an interface address (unspecified, multicast or broadcast)`,
      );
      continue;
    }
    if (!loopback && isIpv6Loopback(address)) {
      // The kernel refuses it (EADDRNOTAVAIL): caught here, not after the link is made.
      errors.add(
        path,
        `${address.text} is the IPv6 loopback address: only a LOOPBACK (or an EXISTING loopback device) can have it`,
      );
      continue;
    }
    const earlier = seen.get(address.text);
    if (earlier !== undefined) {
      errors.add(path, `${address.text} is already given as ${earlier}`);
      continue;
    }
    seen.set(address.text, path);
    out.push(parsed.value.text);
  }
  return out;
}

function readMtu(reader: MessageReader, errors: FieldErrors, addresses: string[]): number | undefined {
  const mtu = reader.uint32('mtu');
  if (mtu === 0) return undefined;
  const path = reader.pathOf('mtu');
  if (mtu < MIN_MTU || mtu > MAX_MTU) {
    errors.add(
      path,
      `${mtu} is outside the range the kernel accepts (${MIN_MTU} to ${MAX_MTU}; 0 keeps the default)`,
    );
  } else if (mtu < MIN_IPV6_MTU && addresses.some((a) => a.includes(':'))) {
    errors.add(
      path,
      `${mtu} is below ${MIN_IPV6_MTU}, where the kernel disables IPv6, and IPv6 addresses are given`,
    );
  }
  return mtu;
}

function readHostIfName(
  reader: MessageReader,
  errors: FieldErrors,
  name: string,
  type: InterfaceType,
): string {
  const path = reader.pathOf('host_if_name');
  const given = reader.string('host_if_name');
  if (type === 'LOOPBACK') {
    if (given !== '' && given !== LOOPBACK_NAME) {
      errors.add(path, `a LOOPBACK interface is always ${LOOPBACK_NAME}, not ${JSON.stringify(given)}`);
    }
    return LOOPBACK_NAME;
  }
  const hostIfName = given === '' ? name : given;
  // Every namespace has its lo: a link the agent makes or renames can never take that name.
  const problem =
    hostIfName === LOOPBACK_NAME && type !== 'EXISTING'
      ? `is the namespace's loopback interface, which every namespace has: a ${type} cannot be named so (type LOOPBACK configures it)`
      : hostIfNameProblem(hostIfName);
  if (problem !== undefined) {
    errors.add(
      path,
      given === ''
        ? `absent, so the name ${JSON.stringify(name)} is used, which ${problem}; set host_if_name`
        : `${JSON.stringify(given)} ${problem}`,
    );
  }
  return hostIfName;
}

function readPhysAddress(
  reader: MessageReader,
  errors: FieldErrors,
  type: InterfaceType,
): string | undefined {
  const text = reader.string('phys_address');
  if (text === '') return undefined;
  const path = reader.pathOf('phys_address');
  if (type === 'LOOPBACK') {
    errors.add(path, 'a LOOPBACK interface has no MAC address to set');
    return undefined;
  }
  const mac = parseMac(text);
  if (!mac.ok) {
    errors.add(path, `${JSON.stringify(text)}: ${mac.reason}`);
    return undefined;
  }
  const problem = deviceMacProblem(mac.value);
  if (problem !== undefined) errors.add(path, problem);
  return mac.value;
}

/** Reads the `veth` or `tap` part; records an error when it is missing or belongs to another type. */
function readTypeSpecific(
  reader: MessageReader,
  errors: FieldErrors,
  name: string,
  type: InterfaceType,
): { veth?: { peerIfName: string }; tap?: { tempIfName: string } } {
  const veth = reader.message('veth', VETH_FIELDS);
  const tap = reader.message('tap', TAP_FIELDS);
  if (type !== 'VETH' && reader.has('veth'))
    errors.add(reader.pathOf('veth'), `is only for VETH, not ${type}`);
  if (type !== 'AUTO_TAP' && reader.has('tap'))
    errors.add(reader.pathOf('tap'), `is only for AUTO_TAP, not ${type}`);
  if (type === 'VETH') {
    const peerIfName = veth?.string('peer_if_name') ?? '';
    const path = veth?.pathOf('peer_if_name') ?? 'veth.peer_if_name';
    const problem = itemNameProblem(peerIfName);
    if (peerIfName === '')
      errors.add(path, "a VETH needs the config name of its peer (the pair's other end)");
    else if (problem !== undefined) errors.add(path, `peer name ${problem}`);
    else if (peerIfName === name) errors.add(path, 'a VETH cannot be its own peer');
    return { veth: { peerIfName } };
  }
  if (type === 'AUTO_TAP') {
    const tempIfName = tap?.string('temp_if_name') ?? '';
    const path = tap?.pathOf('temp_if_name') ?? 'tap.temp_if_name';
    const problem = hostIfNameProblem(tempIfName);
    if (tempIfName === '')
      errors.add(path, 'an AUTO_TAP needs the name the TAP is created with (temp_if_name)');
    else if (problem !== undefined) errors.add(path, `${JSON.stringify(tempIfName)} ${problem}`);
    else if (tempIfName === 'lo') errors.add(path, "lo is the namespace's loopback, not a TAP");
    return { tap: { tempIfName } };
  }
  return {};
}

/** Reads and checks an interface; `name` is the key's name (already checked against `name`). */
export function readInterface(reader: MessageReader, errors: FieldErrors, name: string): LinuxInterface {
  const type = reader.enumValue('type', INTERFACE_TYPES);
  // An EXISTING link may be a loopback or VRF device, which the kernel lets have ::1: it answers there.
  const ipAddresses = readAddresses(reader, errors, type === 'LOOPBACK' || type === 'EXISTING');
  const common: InterfaceCommon = {
    name,
    description: reader.string('description'),
    enabled: reader.bool('enabled'),
    ipAddresses,
    hostIfName: readHostIfName(reader, errors, name, type),
    namespace: readNamespace(reader.message('namespace', NAMESPACE_FIELDS), errors),
  };
  const physAddress = readPhysAddress(reader, errors, type);
  if (physAddress !== undefined) common.physAddress = physAddress;
  const mtu = readMtu(reader, errors, ipAddresses);
  if (mtu !== undefined) common.mtu = mtu;
  // With an unknown type, checks that depend on the type would only add noise.
  if (type === 'LOOPBACK') {
    // A namespace's loopback is up (the item says so by being there): left out, `enabled` means up,
    // not proto3's false, which took lo down and with it everything on 127.0.0.1 there.
    if (!reader.has('enabled')) common.enabled = true;
    else if (!common.enabled)
      errors.add(
        reader.pathOf('enabled'),
        "a LOOPBACK's lo is kept up (taking it down cuts the namespace off from itself); leave enabled out or set it true",
      );
  }
  const typeKnown = !errors.has(reader.pathOf('type'));
  const specific = typeKnown ? readTypeSpecific(reader, errors, name, type) : {};
  if (type === 'VETH') return { ...common, type, veth: specific.veth ?? { peerIfName: '' } };
  if (type === 'AUTO_TAP') return { ...common, type, tap: specific.tap ?? { tempIfName: '' } };
  return { ...common, type };
}

/** Canonical proto3 JSON: proto field names, enum names, defaults left out (but type and enabled). */
export function interfaceToJson(value: LinuxInterface): Record<string, unknown> {
  const out: Record<string, unknown> = { name: value.name };
  if (value.description !== '') out['description'] = value.description;
  out['type'] = value.type;
  out['enabled'] = value.enabled;
  if (value.ipAddresses.length > 0) out['ip_addresses'] = [...value.ipAddresses];
  if (value.physAddress !== undefined) out['phys_address'] = value.physAddress;
  if (value.mtu !== undefined) out['mtu'] = value.mtu;
  out['host_if_name'] = value.hostIfName;
  const namespace = namespaceToJson(value.namespace);
  if (namespace !== undefined) out['namespace'] = namespace;
  if (value.type === 'VETH') out['veth'] = { peer_if_name: value.veth.peerIfName };
  if (value.type === 'AUTO_TAP') out['tap'] = { temp_if_name: value.tap.tempIfName };
  return out;
}
