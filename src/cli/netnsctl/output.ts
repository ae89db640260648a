/** Output of netnsctl: JSON, YAML or a plain table. */
import { stringify } from 'yaml';

export type OutputFormat = 'json' | 'yaml' | 'table';

export function render(value: unknown, format: OutputFormat, columns?: string[]): string {
  if (format === 'json') return JSON.stringify(value, null, 2);
  if (format === 'yaml') return stringify(value).trimEnd();
  if (Array.isArray(value) && columns) return table(value as Record<string, unknown>[], columns);
  return stringify(value).trimEnd();
}

/**
 * Control characters shown as escapes (`\x1b`): a reason or a value is the kernel's or a user's
 * text, and a terminal would obey an escape sequence in it (clear the screen, colour, move).
 */
export function printable(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cell = (row: Record<string, unknown>, column: string): string => {
    const v = row[column];
    const text = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return printable(text);
  };
  // A loop, not Math.max(...rows): spread as arguments, ~150,000 rows (`dump -o table` of ~7,500 VETH
  // pairs, ~20 rows each) overflowed the stack, "Maximum call stack size exceeded".
  const widths = columns.map((c) => rows.reduce((width, r) => Math.max(width, cell(r, c).length), c.length));
  const line = (values: string[]): string =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((c) => c.toUpperCase())),
    ...rows.map((r) => line(columns.map((c) => cell(r, c)))),
  ].join('\n');
}

/**
 * A value as rows of field and value, nested fields by path (`namespace.type`,
 * `ip_addresses[1]`): the table form of one configuration value or status.
 */
export function fieldRows(value: unknown, path = ''): { field: string; value: string }[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [{ field: path, value: '[]' }];
    return value.flatMap((v, i) => fieldRows(v, `${path}[${i}]`));
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return [{ field: path, value: '{}' }];
    return entries.flatMap(([k, v]) => fieldRows(v, path ? `${path}.${k}` : k));
  }
  return [{ field: path, value: value === undefined || value === null ? '' : String(value) }];
}

/** One value as a FIELD VALUE table. */
export function fieldTable(value: unknown): string {
  return table(fieldRows(value), ['field', 'value']);
}

/** Several keyed values as a KEY FIELD VALUE table, the key on each value's first row only. */
export function keyedFieldTable(entries: { key: string; value: unknown }[]): string {
  const rows = entries.flatMap(({ key, value }) =>
    fieldRows(value).map((row, i) => ({ key: i === 0 ? key : '', ...row })),
  );
  return table(rows, ['key', 'field', 'value']);
}
