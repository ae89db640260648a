/**
 * The entry point of the model: a key and its value text (or already-parsed JSON, e.g. from a
 * YAML document) become a normalized, validated item, or an InvalidValueError listing every
 * problem. And back: the canonical JSON of an item. Pure.
 */
import { findDuplicateKey } from '../util/json-duplicate-keys.js';
import { jsonErrorPlace } from '../util/json-error-position.js';
import { arpEntryToJson, ARP_FIELDS, readArpEntry, type LinuxArpEntry } from './arp.js';
import { FieldErrors, InvalidValueError, WHOLE_VALUE } from './errors.js';
import { interfaceToJson, INTERFACE_FIELDS, readInterface, type LinuxInterface } from './interface.js';
import { requireConfigKey, type ConfigKey, type ItemKind } from './keys.js';
import { MessageReader } from './proto-json.js';
import { readRoute, ROUTE_FIELDS, routeToJson, type LinuxRoute } from './route.js';

/** Values are small; anything larger is a mistake or an attack. */
export const MAX_VALUE_BYTES = 64 * 1024;

interface ItemBase {
  key: string;
  label: string;
  name: string;
}
export type InterfaceItem = ItemBase & { kind: 'interface'; value: LinuxInterface };
export type ArpItem = ItemBase & { kind: 'arp'; value: LinuxArpEntry };
export type RouteItem = ItemBase & { kind: 'route'; value: LinuxRoute };
export type ModelItem = InterfaceItem | ArpItem | RouteItem;

export type ValueOf<K extends ItemKind> = Extract<ModelItem, { kind: K }>['value'];

const FIELDS: Record<ItemKind, readonly string[]> = {
  interface: INTERFACE_FIELDS,
  arp: ARP_FIELDS,
  route: ROUTE_FIELDS,
};

function invalid(key: string, message: string): InvalidValueError {
  return new InvalidValueError(key, [{ key, field: WHOLE_VALUE, message }]);
}

/**
 * Parses a value given as text (or UTF-8 bytes). Throws InvalidKeyError for a key that is not a
 * config key, InvalidValueError for anything wrong with the value.
 */
export function parseItemText(key: string, text: string | Uint8Array): ModelItem {
  const parts = requireConfigKey(key);
  const size = typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : text.length;
  if (size > MAX_VALUE_BYTES)
    throw invalid(key, `the value has ${size} bytes; at most ${MAX_VALUE_BYTES} are allowed`);
  let source: string;
  try {
    source = typeof text === 'string' ? text : new TextDecoder('utf-8', { fatal: true }).decode(text);
  } catch {
    throw invalid(key, 'the value is not valid UTF-8');
  }
  let json: unknown;
  const bare = source.replace(/^\uFEFF/, '');
  try {
    json = JSON.parse(bare);
  } catch (error) {
    // Where, as a line and column: JSON.parse says it only for some errors, as a position.
    const message = error instanceof Error ? error.message : String(error);
    const place = jsonErrorPlace(bare, 0, bare.length, message);
    throw invalid(key, `malformed JSON: ${message}${place ? ` (${place})` : ''}`);
  }
  const duplicate = findDuplicateKey(source);
  if (duplicate !== undefined) {
    const field = duplicate.path === '' ? duplicate.name : `${duplicate.path}.${duplicate.name}`;
    throw new InvalidValueError(key, [
      { key, field, message: 'given twice in the JSON text (JSON.parse would silently keep the last one)' },
    ]);
  }
  // The text's size is checked already: no need to serialise the value again to measure it.
  return readItem(key, parts, json);
}

function jsonSize(json: unknown): number | undefined {
  try {
    const text = JSON.stringify(json);
    return text === undefined ? undefined : Buffer.byteLength(text, 'utf8');
  } catch {
    return undefined;
  }
}

/** Parses a value already decoded from JSON or YAML; see parseItemText. */
export function parseItem(key: string, json: unknown): ModelItem {
  const parts = requireConfigKey(key);
  const size = jsonSize(json);
  if (size === undefined) throw invalid(key, 'the value cannot be represented as JSON');
  if (size > MAX_VALUE_BYTES)
    throw invalid(key, `the value has ${size} bytes; at most ${MAX_VALUE_BYTES} are allowed`);
  return readItem(key, parts, json);
}

function readItem(key: string, { label, kind, name }: ConfigKey, json: unknown): ModelItem {
  const errors = new FieldErrors(key);
  const reader = MessageReader.open(errors, WHOLE_VALUE, json, FIELDS[kind]);
  if (reader === undefined) {
    errors.throwIfAny();
    throw invalid(key, 'expected an object');
  }
  const given = reader.string('name');
  if (given !== '' && given !== name) {
    errors.add('name', `${JSON.stringify(given)} differs from the key's name ${JSON.stringify(name)}`);
  }
  const base = { key, label, name };
  let item: ModelItem;
  switch (kind) {
    case 'interface':
      item = { ...base, kind, value: readInterface(reader, errors, name) };
      break;
    case 'arp':
      item = { ...base, kind, value: readArpEntry(reader, errors, name) };
      break;
    case 'route':
      item = { ...base, kind, value: readRoute(reader, errors, name) };
      break;
  }
  errors.throwIfAny();
  return item;
}

/** A value with its kind, without the key (what valueToJson needs). */
export type KindValue =
  | { kind: 'interface'; value: LinuxInterface }
  | { kind: 'arp'; value: LinuxArpEntry }
  | { kind: 'route'; value: LinuxRoute };

/** The canonical proto3 JSON object of a value of the given kind. */
export function valueToJson(item: KindValue): Record<string, unknown> {
  switch (item.kind) {
    case 'interface':
      return interfaceToJson(item.value);
    case 'arp':
      return arpEntryToJson(item.value);
    case 'route':
      return routeToJson(item.value);
  }
}

/** The canonical JSON text of an item's value: parseItemText(key, it) gives the same item back. */
export function serializeItem(item: ModelItem, indent?: number): string {
  return JSON.stringify(valueToJson(item), null, indent);
}
