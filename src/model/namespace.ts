/**
 * Namespace references: the `namespace` message shared by interfaces, routes and ARP entries,
 * normalized to a discriminated union, with a canonical id (used as a fact key) and a human
 * description. Absent or empty (only zero values) means the agent's own namespace. Pure.
 */
import { NAMESPACE_TYPES, type NamespaceType } from './enums.js';
import type { FieldErrors } from './errors.js';
import {
  microserviceLabelProblem,
  namespaceFileProblem,
  namespaceNameProblem,
  normalizeNamespaceFile,
} from './names.js';
import type { MessageReader } from './proto-json.js';

export type NamespaceRef =
  | { kind: 'default' }
  | { kind: 'pid'; pid: number }
  | { kind: 'microservice'; label: string }
  | { kind: 'named'; name: string }
  | { kind: 'file'; path: string };

export const DEFAULT_NAMESPACE: NamespaceRef = Object.freeze({ kind: 'default' });

export const NAMESPACE_FIELDS = ['type', 'pid', 'microservice', 'name', 'filepath'] as const;

/** Linux's PID_MAX_LIMIT on 64-bit: no process can have a larger pid. */
export const MAX_PID = 4194304;

const FIELD_OF_TYPE: Record<NamespaceType, 'pid' | 'microservice' | 'name' | 'filepath'> = {
  PID_REF_NS: 'pid',
  MICROSERVICE_REF_NS: 'microservice',
  NAMED_NS: 'name',
  FILE_REF_NS: 'filepath',
};

function typeOfField(field: string): NamespaceType {
  const found = (Object.keys(FIELD_OF_TYPE) as NamespaceType[]).find((t) => FIELD_OF_TYPE[t] === field);
  return found ?? 'PID_REF_NS';
}

function label(type: NamespaceType): string {
  return `${type} (${NAMESPACE_TYPES.values[type]})`;
}

/** Reads and checks a `namespace` message (undefined when absent). */
export function readNamespace(reader: MessageReader | undefined, errors: FieldErrors): NamespaceRef {
  if (reader === undefined) return DEFAULT_NAMESPACE;
  const typePath = reader.pathOf('type');
  const type = reader.enumValue('type', NAMESPACE_TYPES);
  const values = {
    pid: reader.uint32('pid'),
    microservice: reader.string('microservice'),
    name: reader.string('name'),
    filepath: reader.string('filepath'),
  };
  if (errors.has(typePath)) return DEFAULT_NAMESPACE;
  const setFields = (Object.keys(values) as (keyof typeof values)[]).filter(
    (f) => values[f] !== 0 && values[f] !== '',
  );
  const needed = FIELD_OF_TYPE[type];
  if (setFields.length === 0) {
    // The seeds' own words: an end "in the default namespace (namespace.Name="")". A pid of 0, a
    // name or a file left empty all mean the agent's namespace, as in vpp-agent; a microservice
    // without a label means nothing.
    if (type !== 'MICROSERVICE_REF_NS') return DEFAULT_NAMESPACE;
    errors.add(
      reader.pathOf(needed),
      `${label(type)} needs ${needed} (leave namespace out, or empty, for the agent's own namespace)`,
    );
    return DEFAULT_NAMESPACE;
  }
  if (!setFields.includes(needed)) {
    if (!reader.has('type')) {
      const guess = setFields[0] ?? needed;
      errors.add(
        typePath,
        `type is absent, which means ${label('PID_REF_NS')} and needs pid; ${guess} is set: ` +
          `did you mean type ${label(typeOfField(guess))}?`,
      );
      return DEFAULT_NAMESPACE;
    }
    const other = setFields[0] ?? needed;
    errors.add(
      reader.pathOf(needed),
      `${label(type)} needs ${needed}; ${other} is set: did you mean type ${label(typeOfField(other))}?`,
    );
  }
  for (const field of setFields) {
    if (field !== needed) {
      errors.add(reader.pathOf(field), `is not used by ${label(type)}; remove it (or change the type)`);
    }
  }
  const path = reader.pathOf(needed);
  switch (type) {
    case 'PID_REF_NS':
      if (values.pid > MAX_PID) errors.add(path, `${values.pid} is above the kernel's PID limit ${MAX_PID}`);
      return { kind: 'pid', pid: values.pid };
    case 'MICROSERVICE_REF_NS': {
      const problem = microserviceLabelProblem(values.microservice);
      if (problem !== undefined) errors.add(path, `microservice label ${problem}`);
      return { kind: 'microservice', label: values.microservice };
    }
    case 'NAMED_NS': {
      const problem = namespaceNameProblem(values.name);
      if (problem !== undefined) errors.add(path, `namespace name ${problem}`);
      return { kind: 'named', name: values.name };
    }
    case 'FILE_REF_NS': {
      const problem = namespaceFileProblem(values.filepath);
      if (problem !== undefined) errors.add(path, `namespace file ${problem}`);
      return { kind: 'file', path: normalizeNamespaceFile(values.filepath) };
    }
  }
}

/** The proto3 JSON form; undefined for the agent's own namespace (the field is then left out). */
export function namespaceToJson(ref: NamespaceRef): Record<string, string | number> | undefined {
  switch (ref.kind) {
    case 'default':
      return undefined;
    case 'pid':
      return { type: 'PID_REF_NS', pid: ref.pid };
    case 'microservice':
      return { type: 'MICROSERVICE_REF_NS', microservice: ref.label };
    case 'named':
      return { type: 'NAMED_NS', name: ref.name };
    case 'file':
      return { type: 'FILE_REF_NS', filepath: ref.path };
  }
}

/**
 * A canonical id: `default`, `pid/123`, `microservice/<label>`, `named/<name>`, `file/<path>`
 * (so `file//proc/1/ns/net`; a file in /var/run/netns is `named/<name>`). Two references name the same namespace iff their ids are equal
 * (as far as the model can tell: a file may be a bind mount of a named namespace).
 */
export function namespaceId(ref: NamespaceRef): string {
  switch (ref.kind) {
    case 'default':
      return 'default';
    case 'pid':
      return `pid/${ref.pid}`;
    case 'microservice':
      return `microservice/${ref.label}`;
    case 'named':
      return `named/${ref.name}`;
    case 'file': {
      // A file of the named namespaces' directory is that named namespace: one id, one view, one
      // set of claims (two ids made the agent take its own routes there for another's, for ever).
      const name = namedNamespaceOfFile(ref.path);
      return name === undefined ? `file/${ref.path}` : `named/${name}`;
    }
  }
}

const NAMED_NAMESPACE_DIRS = ['/var/run/netns/', '/run/netns/'];

/** The name of the named namespace a file is (`/var/run/netns/<name>`), if it is one. */
export function namedNamespaceOfFile(path: string): string | undefined {
  for (const dir of NAMED_NAMESPACE_DIRS) {
    if (!path.startsWith(dir)) continue;
    const name = path.slice(dir.length);
    if (namespaceNameProblem(name) === undefined) return name;
  }
  return undefined;
}

/** The reference a namespaceId() came from, or undefined when `id` is not one. */
export function parseNamespaceId(id: string): NamespaceRef | undefined {
  if (id === 'default') return DEFAULT_NAMESPACE;
  const slash = id.indexOf('/');
  if (slash < 0) return undefined;
  const kind = id.slice(0, slash);
  const rest = id.slice(slash + 1);
  switch (kind) {
    case 'pid':
      return /^[1-9][0-9]{0,6}$/.test(rest) && Number(rest) <= MAX_PID
        ? { kind: 'pid', pid: Number(rest) }
        : undefined;
    case 'microservice':
      return microserviceLabelProblem(rest) === undefined ? { kind: 'microservice', label: rest } : undefined;
    case 'named':
      return namespaceNameProblem(rest) === undefined ? { kind: 'named', name: rest } : undefined;
    case 'file':
      return namespaceFileProblem(rest) === undefined && normalizeNamespaceFile(rest) === rest
        ? { kind: 'file', path: rest }
        : undefined;
    default:
      return undefined;
  }
}

/** For people: "the agent's own namespace", "named namespace ns1", "namespace of pid 123", ... */
export function describeNamespace(ref: NamespaceRef): string {
  switch (ref.kind) {
    case 'default':
      return "the agent's own namespace";
    case 'pid':
      return `namespace of pid ${ref.pid}`;
    case 'microservice':
      return `namespace of microservice ${ref.label}`;
    case 'named':
      return `named namespace ${ref.name}`;
    case 'file':
      return `namespace file ${ref.path}`;
  }
}

export function sameNamespace(a: NamespaceRef, b: NamespaceRef): boolean {
  return namespaceId(a) === namespaceId(b);
}
