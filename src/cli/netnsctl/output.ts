/** Output of netnsctl: JSON, YAML or a plain table. */
import { stringify } from 'yaml';

export type OutputFormat = 'json' | 'yaml' | 'table';

export function render(value: unknown, format: OutputFormat, columns?: string[]): string {
  if (format === 'json') return JSON.stringify(value, null, 2);
  if (format === 'yaml') return stringify(value).trimEnd();
  if (Array.isArray(value) && columns) return table(value as Record<string, unknown>[], columns);
  return stringify(value).trimEnd();
}

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cell = (row: Record<string, unknown>, column: string): string => {
    const v = row[column];
    return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  };
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r, c).length)));
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
