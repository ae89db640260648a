/**
 * Reading proto3 JSON the way users write it: a field under its proto name (snake_case) or its
 * JSON name (lowerCamelCase), null meaning "not set", integers as numbers or decimal strings,
 * enums as names or numbers. Unknown fields are refused, with a hint when they look like a known
 * one. Problems are recorded in a FieldErrors and a default is returned, so that reading goes on
 * and every field gets checked. Pure.
 */
import type { FieldErrors } from './errors.js';

export interface EnumTable<N extends string> {
  /** The proto enum name, for messages. */
  typeName: string;
  values: Readonly<Record<N, number>>;
}

const UINT32_MAX = 0xffffffff;

/** lowerCamelCase JSON name of a proto field name, as protoc derives it. */
export function jsonName(protoName: string): string {
  return protoName.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function looseName(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string')
    return `a string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return `${typeof value} ${String(value)}`;
}

export function enumDescription<N extends string>(table: EnumTable<N>): string {
  return Object.entries(table.values)
    .map(([name, number]) => `${name} (${String(number)})`)
    .join(', ');
}

/** The accepted spellings of a message's fields: the proto name and, when it differs, the JSON name. */
interface Spellings {
  /** Spelling -> proto field name. */
  fieldOf: ReadonlyMap<string, string>;
  /** Proto field name -> its JSON name, for fields whose two names differ. */
  jsonNameOf: ReadonlyMap<string, string>;
}

/** Each message's field list is a module constant: its accepted spellings are worked out once. */
const spellingCache = new WeakMap<readonly string[], Spellings>();

function spellingsOf(fields: readonly string[]): Spellings {
  let spellings = spellingCache.get(fields);
  if (!spellings) {
    const fieldOf = new Map<string, string>();
    const jsonNameOf = new Map<string, string>();
    for (const field of fields) {
      fieldOf.set(field, field);
      const json = jsonName(field);
      fieldOf.set(json, field);
      if (json !== field) jsonNameOf.set(field, json);
    }
    spellingCache.set(fields, (spellings = { fieldOf, jsonNameOf }));
  }
  return spellings;
}

interface EnumIndex<N extends string> {
  byNumber: ReadonlyMap<number, N>;
  byName: ReadonlySet<string>;
  zero: N;
}

/** Enum tables are module constants too: indexed once (values are read for every item). */
const enumCache = new WeakMap<EnumTable<string>, EnumIndex<string>>();

function enumIndex<N extends string>(table: EnumTable<N>): EnumIndex<N> {
  let index = enumCache.get(table) as EnumIndex<N> | undefined;
  if (!index) {
    const entries = Object.entries(table.values) as [N, number][];
    const byNumber = new Map<number, N>();
    // The first name of a number wins, as a search in declaration order would find it.
    for (const [name, number] of entries) if (!byNumber.has(number)) byNumber.set(number, name);
    index = { byNumber, byName: new Set(entries.map(([name]) => name)), zero: byNumber.get(0) as N };
    enumCache.set(table, index);
  }
  return index;
}

/**
 * Reads the fields of one message; see the module comment. The raw object is read in place (no
 * copy per message: the parser reads thousands of them at start-up); the constructor has checked
 * that each of its keys is a spelling of a known field.
 */
export class MessageReader {
  private readonly spellings: Spellings;
  /** Fields given under both spellings (an error): the first spelling's value is the one read. */
  private firstOfTwice: Map<string, unknown> | undefined;

  private constructor(
    private readonly errors: FieldErrors,
    private readonly path: string,
    private readonly raw: Record<string, unknown>,
    fields: readonly string[],
  ) {
    const spellings = (this.spellings = spellingsOf(fields));
    for (const spelling of Object.keys(raw)) {
      const field = spellings.fieldOf.get(spelling);
      if (field === undefined) {
        const hint = fields.find((f) => looseName(f) === looseName(spelling));
        errors.add(
          this.pathOf(spelling),
          `unknown field ${JSON.stringify(spelling)}` +
            (hint === undefined ? ` (known fields: ${fields.join(', ')})` : `; did you mean ${hint}?`),
        );
        continue;
      }
      // Found at the first of its two spellings (keys come in order), when the other one is there too.
      const other = spelling === field ? spellings.jsonNameOf.get(field) : field;
      if (other !== undefined && this.firstOfTwice?.has(field) !== true && Object.hasOwn(raw, other)) {
        (this.firstOfTwice ??= new Map()).set(field, raw[spelling]);
        errors.add(this.pathOf(field), `given twice, as ${spelling} and as ${other}`);
      }
    }
  }

  /** The field's value; undefined when absent or null (proto3 JSON: null stands for the default). */
  private valueOf(field: string): unknown {
    const value = this.firstOfTwice?.has(field)
      ? this.firstOfTwice.get(field)
      : (this.raw[field] ?? this.raw[this.spellings.jsonNameOf.get(field) ?? field]);
    return value ?? undefined;
  }

  /** A reader for `raw`, or undefined (with an error recorded at `path`) when it is not an object. */
  static open(
    errors: FieldErrors,
    path: string,
    raw: unknown,
    fields: readonly string[],
  ): MessageReader | undefined {
    if (!isJsonObject(raw)) {
      errors.add(path, `expected an object, got ${describeJson(raw)}`);
      return undefined;
    }
    return new MessageReader(errors, path, raw, fields);
  }

  /** The error path of a field of this message. */
  pathOf(field: string): string {
    return this.path === '$' ? field : `${this.path}.${field}`;
  }

  /** True when the field is given and not null. */
  has(field: string): boolean {
    return this.valueOf(field) !== undefined;
  }

  private wrongType(field: string, expected: string, value: unknown): void {
    this.errors.add(this.pathOf(field), `expected ${expected}, got ${describeJson(value)}`);
  }

  string(field: string): string {
    const value = this.valueOf(field);
    if (value === undefined) return '';
    if (typeof value !== 'string') {
      this.wrongType(field, 'a string', value);
      return '';
    }
    return value;
  }

  bool(field: string): boolean {
    const value = this.valueOf(field);
    if (value === undefined) return false;
    if (typeof value !== 'boolean') {
      this.wrongType(field, 'true or false', value);
      return false;
    }
    return value;
  }

  /** A uint32 as a JSON number or a decimal string (proto3 JSON allows both). */
  uint32(field: string): number {
    const value = this.valueOf(field);
    if (value === undefined) return 0;
    let number: number;
    if (typeof value === 'number') number = value;
    else if (typeof value === 'string' && /^[0-9]{1,10}$/.test(value)) number = Number(value);
    else {
      this.wrongType(field, 'a non-negative integer', value);
      return 0;
    }
    if (!Number.isInteger(number) || number < 0 || number > UINT32_MAX) {
      this.errors.add(
        this.pathOf(field),
        `expected an integer from 0 to ${UINT32_MAX}, got ${String(value)}`,
      );
      return 0;
    }
    return number;
  }

  /** An enum by name or number; the value numbered 0 when absent. */
  enumValue<N extends string>(field: string, table: EnumTable<N>): N {
    const index = enumIndex(table);
    const value = this.valueOf(field);
    if (value === undefined) return index.zero;
    let found: N | undefined;
    if (typeof value === 'number') found = index.byNumber.get(value);
    else if (typeof value === 'string') found = index.byName.has(value) ? (value as N) : undefined;
    else {
      this.wrongType(field, `a ${table.typeName} name or number`, value);
      return index.zero;
    }
    if (found === undefined) {
      this.errors.add(
        this.pathOf(field),
        `unknown ${table.typeName} ${JSON.stringify(value)} (expected one of ${enumDescription(table)})`,
      );
      return index.zero;
    }
    return found;
  }

  /** A nested message, or undefined when absent (or not an object: then an error is recorded). */
  message(field: string, fields: readonly string[]): MessageReader | undefined {
    const value = this.valueOf(field);
    if (value === undefined) return undefined;
    return MessageReader.open(this.errors, this.pathOf(field), value, fields);
  }

  /** A repeated string field: each element with its error path. */
  stringList(field: string, maxItems: number): { path: string; text: string }[] {
    const value = this.valueOf(field);
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      this.wrongType(field, 'an array of strings', value);
      return [];
    }
    if (value.length > maxItems) {
      this.errors.add(this.pathOf(field), `has ${value.length} elements; at most ${maxItems} are allowed`);
      return [];
    }
    const out: { path: string; text: string }[] = [];
    value.forEach((element: unknown, index) => {
      const path = `${this.pathOf(field)}[${index}]`;
      if (typeof element === 'string') out.push({ path, text: element });
      else this.errors.add(path, `expected a string, got ${describeJson(element)}`);
    });
    return out;
  }
}
