/**
 * LinuxStaticArpEntries.ArpEntry (vpp-agent 1.x l3.proto): a static neighbour entry, IPv4 (ARP)
 * or IPv6 (NDP), as a normalized, validated value. Pure.
 */
import { ARP_FAMILIES, NUD_STATES, type NudState } from './enums.js';
import type { FieldErrors } from './errors.js';
import { familyName, isMulticast, isUnspecified, parseIp, type IpFamily } from './ip.js';
import { parseMac } from './mac.js';
import { itemNameProblem } from './names.js';
import { NAMESPACE_FIELDS, namespaceToJson, readNamespace, type NamespaceRef } from './namespace.js';
import type { MessageReader } from './proto-json.js';

/** Field lists are constants: the reader works out their spellings once per list. */
const TYPE_FIELDS = ['type'] as const;
const FAMILY_FIELDS = ['family'] as const;

export interface LinuxArpEntry {
  name: string;
  namespace: NamespaceRef;
  /** Config name of an interface, or a host interface name in the entry's namespace. */
  interface: string;
  family: IpFamily;
  /** Canonical IP address. */
  ipAddress: string;
  /** Lower-case colon MAC. */
  hwAddress: string;
  /** proto default (absent): PERMANENT. */
  state: NudState;
}

export const ARP_FIELDS = [
  'name',
  'namespace',
  'interface',
  'ip_family',
  'state',
  'ip_addr',
  'hw_address',
] as const;

export function readArpEntry(reader: MessageReader, errors: FieldErrors, name: string): LinuxArpEntry {
  const entry: LinuxArpEntry = {
    name,
    namespace: readNamespace(reader.message('namespace', NAMESPACE_FIELDS), errors),
    interface: reader.string('interface'),
    family: 4,
    ipAddress: '',
    hwAddress: '',
    state: reader.message('state', TYPE_FIELDS)?.enumValue('type', NUD_STATES) ?? 'PERMANENT',
  };
  const ifPath = reader.pathOf('interface');
  const ifProblem = itemNameProblem(entry.interface);
  if (entry.interface === '') errors.add(ifPath, 'an ARP entry needs the interface it is attached to');
  else if (ifProblem !== undefined) errors.add(ifPath, `interface name ${ifProblem}`);

  const ipPath = reader.pathOf('ip_addr');
  const ipText = reader.string('ip_addr');
  const ip = parseIp(ipText);
  if (ipText === '') errors.add(ipPath, 'an ARP entry needs ip_addr, the neighbour IP address');
  else if (!ip.ok) errors.add(ipPath, `${JSON.stringify(ipText)}: ${ip.reason}`);
  else if (isUnspecified(ip.value) || isMulticast(ip.value)) {
    errors.add(ipPath, `${ip.value.text} is not a unicast address; a static neighbour needs one`);
  }
  if (ip.ok) {
    entry.family = ip.value.family;
    entry.ipAddress = ip.value.text;
  }

  const familyReader = reader.message('ip_family', FAMILY_FIELDS);
  if (familyReader !== undefined) {
    const family = familyReader.enumValue('family', ARP_FAMILIES);
    const path = familyReader.pathOf('family');
    if (family === 'ALL' || family === 'MPLS') {
      errors.add(
        path,
        `${family} is not a family of a static neighbour entry (use IPV4 or IPV6, or leave it out)`,
      );
    } else if (ip.ok && (family === 'IPV4' ? 4 : 6) !== ip.value.family) {
      errors.add(
        path,
        `${family} does not match ip_addr ${ip.value.text}, which is ${familyName(ip.value.family)}`,
      );
    }
  }

  const hwPath = reader.pathOf('hw_address');
  const hwText = reader.string('hw_address');
  const mac = parseMac(hwText);
  if (hwText === '') errors.add(hwPath, 'an ARP entry needs hw_address, the neighbour MAC address');
  else if (!mac.ok) errors.add(hwPath, `${JSON.stringify(hwText)}: ${mac.reason}`);
  else entry.hwAddress = mac.value;
  return entry;
}

/** Canonical proto3 JSON: proto field names, enum names; the family is implied by ip_addr. */
export function arpEntryToJson(value: LinuxArpEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { name: value.name };
  const namespace = namespaceToJson(value.namespace);
  if (namespace !== undefined) out['namespace'] = namespace;
  out['interface'] = value.interface;
  out['state'] = { type: value.state };
  out['ip_addr'] = value.ipAddress;
  out['hw_address'] = value.hwAddress;
  return out;
}
