/** Small helpers shared by the benchmarks: timing, namespaces, ip -batch baselines, output. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export function uniquePrefix(stem: string): string {
  return `${stem}${randomBytes(2).toString('hex')}`;
}

export async function timed<T>(run: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await run();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

export function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function addNamespaces(names: string[]): void {
  for (const name of names) ip(['netns', 'add', name]);
}

export function deleteNamespaces(names: string[]): void {
  for (const name of names) {
    try {
      ip(['netns', 'del', name]);
    } catch {
      // already gone
    }
  }
}

/** Runs `ip -n NS -batch FILE` for each namespace in order (the baseline of every W1 figure). */
export function runIpBatches(batches: Map<string, string[]>): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'w1-batch-'));
  try {
    for (const [ns, lines] of batches) {
      if (lines.length === 0) continue;
      const file = path.join(dir, `${ns}.batch`);
      writeFileSync(file, lines.join('\n') + '\n');
      ip(['-n', ns, '-batch', file]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printTable(title: string, rows: [string, string][]): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n${title}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
}

export function printResult(result: Record<string, number | string>): void {
  console.log(`RESULT ${JSON.stringify(result)}`);
}

export function ratio(a: number, b: number): number {
  return Math.round((a / b) * 1000) / 1000;
}
