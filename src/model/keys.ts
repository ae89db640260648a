/**
 * Datastore keys, compatible with the vpp-agent Linux plugin:
 *
 *   /vnf-agent/<label>/linux/config/v1/{interface,arp,route}/<name>
 *   /vnf-agent/<label>/linux/status/v1/interface/<name>
 *
 * Every builder has a parser. Label and name are single key segments (no '/'). Pure.
 */
import { InvalidKeyError } from './errors.js';
import { itemNameProblem } from './names.js';

export const ITEM_KINDS = ['interface', 'arp', 'route'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

export interface ConfigKey {
  label: string;
  kind: ItemKind;
  name: string;
}

export interface StatusKey {
  label: string;
  kind: 'interface';
  name: string;
}

const KEY_ROOT = '/vnf-agent/';
const CONFIG_KEY = /^\/vnf-agent\/([^/]*)\/linux\/config\/v1\/([^/]*)\/(.*)$/;
const STATUS_KEY = /^\/vnf-agent\/([^/]*)\/linux\/status\/v1\/interface\/(.*)$/;

export function isItemKind(text: string): text is ItemKind {
  return (ITEM_KINDS as readonly string[]).includes(text);
}

function checkSegment(key: string, what: string, segment: string): void {
  const problem = itemNameProblem(segment);
  if (problem !== undefined) throw new InvalidKeyError(key, `${what} ${JSON.stringify(segment)} ${problem}`);
}

/** Config prefixes of the labels asked for (checked once): an agent asks for its own at every item. */
const prefixesOfLabel = new Map<string, Record<ItemKind | '', string>>();
/** Labels are few; a caller making up labels without end gets no more than this many remembered. */
const MAX_REMEMBERED_LABELS = 64;

/** `/vnf-agent/<label>/linux/config/v1/`, or the prefix of one kind when `kind` is given. */
export function configPrefix(label: string, kind?: ItemKind): string {
  let prefixes = prefixesOfLabel.get(label);
  if (prefixes === undefined) {
    const prefix = `${KEY_ROOT}${label}/linux/config/v1/`;
    checkSegment(prefix, 'label', label);
    prefixes = {
      '': prefix,
      interface: `${prefix}interface/`,
      arp: `${prefix}arp/`,
      route: `${prefix}route/`,
    };
    if (prefixesOfLabel.size >= MAX_REMEMBERED_LABELS) prefixesOfLabel.clear();
    prefixesOfLabel.set(label, prefixes);
  }
  return prefixes[kind ?? ''];
}

/** `/vnf-agent/<label>/linux/status/v1/interface/`. */
export function interfaceStatusPrefix(label: string): string {
  const prefix = `${KEY_ROOT}${label}/linux/status/v1/interface/`;
  checkSegment(prefix, 'label', label);
  return prefix;
}

export function configKey(label: string, kind: ItemKind, name: string): string {
  const key = configPrefix(label, kind) + name;
  checkSegment(key, 'name', name);
  return key;
}

export const interfaceKey = (label: string, name: string): string => configKey(label, 'interface', name);
export const arpKey = (label: string, name: string): string => configKey(label, 'arp', name);
export const routeKey = (label: string, name: string): string => configKey(label, 'route', name);

export function interfaceStatusKey(label: string, name: string): string {
  const key = interfaceStatusPrefix(label) + name;
  checkSegment(key, 'name', name);
  return key;
}

/** Why a key is not a config key, or its parts. */
function explainConfigKey(key: string): ConfigKey | string {
  const match = CONFIG_KEY.exec(key);
  if (match === null) return 'expected /vnf-agent/<label>/linux/config/v1/{interface,arp,route}/<name>';
  const [, label = '', kind = '', name = ''] = match;
  if (!isItemKind(kind)) return `unknown kind ${JSON.stringify(kind)} (expected interface, arp or route)`;
  const labelProblem = itemNameProblem(label);
  if (labelProblem !== undefined) return `label ${JSON.stringify(label)} ${labelProblem}`;
  const nameProblem = itemNameProblem(name);
  if (nameProblem !== undefined) return `name ${JSON.stringify(name)} ${nameProblem}`;
  return { label, kind, name };
}

/** The parts of a config key, or undefined when the key is not one. */
export function parseConfigKey(key: string): ConfigKey | undefined {
  const parsed = explainConfigKey(key);
  return typeof parsed === 'string' ? undefined : parsed;
}

/** Why a key is not a config key, or undefined when it is one. */
export function configKeyProblem(key: string): string | undefined {
  const parsed = explainConfigKey(key);
  return typeof parsed === 'string' ? parsed : undefined;
}

/** The parts of a config key; throws InvalidKeyError saying what is wrong with it. */
export function requireConfigKey(key: string): ConfigKey {
  const parsed = explainConfigKey(key);
  if (typeof parsed === 'string') throw new InvalidKeyError(key, parsed);
  return parsed;
}

/** The parts of an interface status key, or undefined when the key is not one. */
export function parseStatusKey(key: string): StatusKey | undefined {
  const match = STATUS_KEY.exec(key);
  if (match === null) return undefined;
  const [, label = '', name = ''] = match;
  if (itemNameProblem(label) !== undefined || itemNameProblem(name) !== undefined) return undefined;
  return { label, kind: 'interface', name };
}
