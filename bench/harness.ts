/** Small helpers shared by the benchmarks: timing, namespaces, ip -batch baselines, output. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** CPU time (user + system, ms) of this process and of its waited-for children so far. */
export function cpuMs(): { self: number; children: number } {
  const usage = process.cpuUsage();
  // /proc/self/stat fields 16 and 17 (cutime, cstime) are in clock ticks (100 per second here).
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[13] ?? 0) + Number(fields[14] ?? 0);
  return { self: (usage.user + usage.system) / 1000, children: ticks * 10 };
}

/** Runs `run`, returning its wall time and the CPU time spent by this process and its children. */
export async function timedCpu<T>(
  run: () => Promise<T> | T,
): Promise<{ ms: number; cpuMs: number; childCpuMs: number; value: T }> {
  const before = cpuMs();
  const { ms, value } = await timed(run);
  const after = cpuMs();
  return { ms, value, cpuMs: after.self - before.self, childCpuMs: after.children - before.children };
}

export function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Namespaces this benchmark made and has not deleted yet. They are deleted when the process ends
 * in any way that lets it run code: normally (each benchmark also deletes its own in `finally`), on
 * an error thrown before its `try` (e.g. a native module missing), or on SIGINT/SIGTERM/SIGHUP.
 */
const madeNamespaces = new Set<string>();
let deletingOnExit = false;

function deleteOnExit(): void {
  if (deletingOnExit) return;
  deletingOnExit = true;
  process.once('exit', () => deleteNamespaces([...madeNamespaces]));
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)
    process.once(signal, () => process.exit(code));
}

export function addNamespaces(names: string[]): void {
  for (const name of names) {
    deleteOnExit();
    ip(['netns', 'add', name]);
    madeNamespaces.add(name);
  }
}

export function deleteNamespaces(names: string[]): void {
  for (const name of names) {
    madeNamespaces.delete(name);
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
