/**
 * `apply -f` files: YAML or JSON, one document per item, each `{kind, name, value}` or the value's
 * fields inline next to `kind` (e.g. `kind: interface` plus `name`, `type`, ...), or `{key, value}`
 * as `netnsctl get` prints them. A JSON array or a
 * YAML stream holds many. Each becomes a datastore key and the value's JSON text.
 */
import { parseAllDocuments } from 'yaml';
import { findDuplicateKey } from '../../util/json-duplicate-keys.js';
import { jsonErrorPlace } from '../../util/json-error-position.js';
import {
  configKey,
  configKeyProblem,
  configPrefix,
  isItemKind,
  parseConfigKey,
  parseItem,
  InvalidValueError,
  InvalidKeyError,
  type FieldError,
} from '../../model/index.js';

export interface FileItem {
  key: string;
  valueText: string;
}

export interface FileProblem {
  index: number;
  key?: string;
  errors: readonly FieldError[] | string;
}

/**
 * The documents of a file: JSON (one value, or documents separated by `---`) or YAML. With `json`
 * (a file named *.json), JSON only: what JSON refuses (a trailing comma, a comment) is an error with
 * its line and column, not read as YAML, which takes more than JSON does.
 */
export function readDocuments(text: string, options: { json?: boolean } = {}): unknown[] {
  const trimmed = text.trimStart();
  if (options.json && !(trimmed.startsWith('[') || trimmed.startsWith('{')))
    throw new Error('JSON: expected an object or an array (a file named *.json is read as JSON only)');
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(text) as unknown;
    } catch (error) {
      // JSON documents separated by `---`: each is read as JSON, so that an error names its own
      // line and column in the file (not the first separator's, as the whole file read gave).
      // Otherwise a YAML stream (YAML reads JSON, and flow documents, comments, `...` that JSON
      // does not), or, read by neither, the JSON error with its line and column.
      let partError: unknown;
      try {
        const documents = jsonDocuments(text);
        if (documents) return documents;
      } catch (documentError) {
        partError = documentError;
      }
      const jsonError = partError ?? new Error(`JSON: ${withLineAndColumn((error as Error).message, text)}`);
      if (options.json) throw jsonError;
      try {
        return readYaml(text);
      } catch {
        throw jsonError;
      }
    }
    refuseDuplicateKeys(text);
    if (Array.isArray(json)) return json;
    const items = (json as { items?: unknown }).items;
    return Array.isArray(items) ? items : [json];
  }
  return readYaml(text);
}

/**
 * The documents of a file of JSON documents separated by `---` lines, or undefined when it is not
 * one (one part only, or a part that is not JSON: then it is YAML's to read). A part that starts
 * as JSON but is not is an error naming its line and column in the whole file.
 */
function jsonDocuments(text: string): unknown[] | undefined {
  const parts: { start: number; body: string }[] = [];
  const separator = /^---[ \t]*$/gm;
  let start = 0;
  for (let match = separator.exec(text); match; match = separator.exec(text)) {
    parts.push({ start, body: text.slice(start, match.index) });
    start = match.index + match[0].length;
  }
  parts.push({ start, body: text.slice(start) });
  const filled = parts.filter((part) => part.body.trim() !== '');
  if (filled.length < 2 || !filled.every((part) => /^\s*[[{]/.test(part.body))) return undefined;
  const documents: unknown[] = [];
  for (const part of filled) {
    try {
      const json = JSON.parse(part.body) as unknown;
      // The document's line is counted only for the message: counted for every part, it made a
      // file of N documents cost N times the whole file (4000 items: 7 s).
      refuseDuplicateKeys(part.body, () => {
        const begins = part.start + part.body.length - part.body.trimStart().length;
        return `the document at line ${text.slice(0, begins).split('\n').length}`;
      });
      documents.push(...documentItems(json));
    } catch (error) {
      if (error instanceof DuplicateKeyError) throw error;
      throw new Error(
        `JSON: ${withLineAndColumn((error as Error).message, text, part.start, part.start + part.body.length)}`,
        {
          cause: error,
        },
      );
    }
  }
  return documents;
}

class DuplicateKeyError extends Error {}

/** JSON.parse keeps the last of two members of one name without a word: the file says which one? */
function refuseDuplicateKeys(text: string, where: () => string = () => 'the file'): void {
  const duplicate = findDuplicateKey(text);
  if (duplicate === undefined) return;
  const place = duplicate.path === '' ? where() : `${duplicate.path} of ${where()}`;
  throw new DuplicateKeyError(
    `JSON: ${JSON.stringify(duplicate.name)} is given twice in one object (${place}); JSON.parse would silently keep the last one`,
  );
}

/** The message with the line and column in the text where its part from `from` to `to` stops being JSON. */
function withLineAndColumn(message: string, text: string, from = 0, to = text.length): string {
  const place = jsonErrorPlace(text, from, to, message);
  return place === undefined ? message : `${message} (${place})`;
}

/** The items of one document: a list's, an `items` list's, or the document itself. */
function documentItems(value: unknown): unknown[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value as unknown[];
  if (typeof value === 'object' && Array.isArray((value as { items?: unknown }).items))
    return (value as { items: unknown[] }).items;
  return [value];
}

function readYaml(text: string): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`YAML: ${doc.errors[0]!.message}`);
    out.push(...documentItems(doc.toJS() as unknown));
  }
  return out;
}

/**
 * A document `{key, value}` as `netnsctl get PREFIX` prints them (the key whole, of this label, or
 * short: `interface/veth1`), as `{kind, name, value}`; a string says what is wrong with its key;
 * undefined when the document is not of that form.
 */
function keyedDocument(
  doc: Record<string, unknown>,
  label: string,
): Record<string, unknown> | string | undefined {
  // `revision` is the store's, printed by get: not part of what goes back in.
  const { key, value, revision: _revision, ...rest } = doc;
  if (typeof key !== 'string' || doc['kind'] !== undefined) return undefined;
  const full = key.startsWith('/') ? key : `${configPrefix(label)}${key}`;
  const parsed = parseConfigKey(full);
  if (!parsed) return `key ${JSON.stringify(key)}: ${configKeyProblem(full) ?? 'not a config key'}`;
  if (parsed.label !== label)
    return `key ${key} is of the agent labelled ${parsed.label}, not ${label} (its agent's: give --label ${parsed.label} with that agent's --server, or its --store or --etcd)`;
  return { kind: parsed.kind, name: parsed.name, ...(value !== undefined ? { value } : {}), ...rest };
}

/** Turns documents into keyed items, validating each with the model; problems are collected. */
export function toItems(documents: unknown[], label: string): { items: FileItem[]; problems: FileProblem[] } {
  const items: FileItem[] = [];
  const problems: FileProblem[] = [];
  /** Keys of the items so far, with their document's index. */
  const seen = new Map<string, number>();
  documents.forEach((doc, index) => {
    if (typeof doc !== 'object' || doc === null) {
      problems.push({ index, errors: 'a document must be an object with kind and name' });
      return;
    }
    const fromKey = keyedDocument(doc as Record<string, unknown>, label);
    if (typeof fromKey === 'string') {
      const key = (doc as { key?: unknown }).key;
      problems.push({ index, ...(typeof key === 'string' ? { key } : {}), errors: fromKey });
      return;
    }
    const { kind, name, value, ...inline } = fromKey ?? (doc as Record<string, unknown>);
    if (kind === undefined) {
      // Most likely one of the seeds' bare values (e.g. veth1.json): it has no kind to say where it goes.
      problems.push({
        index,
        errors:
          'no kind: a document is {kind: interface|route|arp, name, value} (or kind and name with the ' +
          "value's fields inline, or {key, value} as `netnsctl get` prints them); a bare value goes in " +
          'with `netnsctl put KEY FILE`',
      });
      return;
    }
    if (typeof kind !== 'string' || !isItemKind(kind)) {
      problems.push({ index, errors: `kind must be interface, route or arp, not ${JSON.stringify(kind)}` });
      return;
    }
    const body = (value ?? { ...inline, ...(name !== undefined ? { name } : {}) }) as Record<string, unknown>;
    // A name YAML reads as a number or a boolean (`name: 12345`) was "a document needs a name",
    // which sent the user looking for a missing line: say it is there but not text. (`name:` with
    // nothing after it is null: missing.)
    const givenName = name ?? body.name;
    if (givenName !== undefined && givenName !== null && typeof givenName !== 'string') {
      const field = (name === undefined || name === null) && value !== undefined ? 'value.name' : 'name';
      const what = Array.isArray(givenName)
        ? 'a list'
        : typeof givenName === 'object'
          ? 'a mapping'
          : `a ${typeof givenName}`;
      problems.push({
        index,
        errors:
          `${field}: ${JSON.stringify(givenName)} is not text (${what})` +
          (typeof givenName === 'object'
            ? ''
            : `; in YAML, quote a name that reads as a number or a boolean: "${String(givenName)}"`),
      });
      return;
    }
    const itemName = typeof givenName === 'string' ? givenName : undefined;
    if (!itemName) {
      problems.push({ index, errors: 'a document needs a name' });
      return;
    }
    let key: string;
    try {
      key = configKey(label, kind, itemName);
      // Twice in one file (valid or not the first time): the second is refused, naming the first.
      const first = seen.get(key);
      if (first !== undefined) {
        problems.push({
          index,
          key,
          errors: `the same item as document ${first + 1} (one file holds one value per key): left out`,
        });
        return;
      }
      seen.set(key, index);
      // With `value`, the document has nothing else: a field written beside it (e.g. mtu one
      // indent too far left) would be lost without a word.
      const beside = value === undefined ? [] : Object.keys(inline);
      if (beside.length > 0) {
        problems.push({
          index,
          key,
          errors: beside.map((field) => ({
            key,
            field,
            message: 'not a field of the document {kind, name, value}: it belongs inside value',
          })),
        });
        return;
      }
      parseItem(key, body);
    } catch (error) {
      if (error instanceof InvalidValueError)
        problems.push({ index, key: error.key ?? '', errors: error.errors });
      else if (error instanceof InvalidKeyError) problems.push({ index, errors: error.message });
      else throw error;
      return;
    }
    items.push({ key, valueText: JSON.stringify(body) });
  });
  return { items, problems };
}
