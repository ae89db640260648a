/**
 * Fixtures for kernel tests (root, real namespaces). Every test makes its own uniquely-prefixed named
 * namespaces with `ip netns add` and removes them afterwards, also when it fails; nothing here ever
 * touches the default namespace's interfaces. iproute2 is the oracle: `ipJson()` runs `ip -json`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export const NETNS_DIR = '/var/run/netns';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** For `describe(name, { skip: skipUnlessRoot() }, ...)`: a reason to skip, or false. */
export function skipUnlessRoot(): string | false {
  if (!isRoot()) return 'kernel tests need root';
  if (spawnSync('ip', ['-V']).status !== 0) return 'kernel tests need iproute2 (ip)';
  return false;
}

/** A name no one else uses: prefix + 8 hex digits (at most 15 bytes for prefixes up to 7). */
export function uniqueName(prefix = 'nl'): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

export interface TestNamespace {
  name: string;
  /** Path of the namespace file, as NetlinkHandle's namespacePath wants it. */
  path: string;
}

export interface IpResult {
  status: number;
  stdout: string;
  stderr: string;
}

function ipArgs(ns: string | null, args: string[]): string[] {
  return ns === null ? args : ['-n', ns, ...args];
}

/** Runs `ip [-n NS] ARGS` and reports how it went, without throwing. */
export function ipTry(ns: string | null, args: string[]): IpResult {
  const run = spawnSync('ip', ipArgs(ns, args), { encoding: 'utf8' });
  return { status: run.status ?? -1, stdout: run.stdout ?? '', stderr: run.stderr ?? '' };
}

/** Runs `ip [-n NS] ARGS`; throws with ip's message when it fails. Returns its output. */
export function ip(ns: string | null, args: string[]): string {
  const result = ipTry(ns, args);
  if (result.status !== 0) {
    throw new Error(`ip ${ipArgs(ns, args).join(' ')} failed (${result.status}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** `ip [-n NS] -json ARGS`, parsed. `ns` null means the default namespace (read only, please). */
export function ipJson<T = unknown>(ns: string | null, args: string[]): T {
  const out = ip(ns, ['-json', ...args]).trim();
  return (out === '' ? [] : JSON.parse(out)) as T;
}

export function makeNamespace(prefix = 'nl'): TestNamespace {
  for (let attempt = 0; ; attempt++) {
    const name = uniqueName(prefix);
    const result = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
    if (result.status === 0) return { name, path: `${NETNS_DIR}/${name}` };
    if (attempt >= 3) throw new Error(`ip netns add ${name} failed: ${result.stderr.trim()}`);
  }
}

/** Deletes a namespace made by makeNamespace(); a namespace already gone is fine. */
export function deleteNamespace(ns: TestNamespace | string): void {
  const name = typeof ns === 'string' ? ns : ns.name;
  if (!existsSync(`${NETNS_DIR}/${name}`)) return;
  spawnSync('ip', ['netns', 'del', name]);
}

/** Runs fn with `count` fresh namespaces and deletes them afterwards, whatever fn does. */
export async function withNamespaces<T>(
  count: number,
  fn: (namespaces: TestNamespace[]) => Promise<T> | T,
  prefix = 'nl',
): Promise<T> {
  const namespaces: TestNamespace[] = [];
  try {
    for (let i = 0; i < count; i++) namespaces.push(makeNamespace(prefix));
    return await fn(namespaces);
  } finally {
    for (const ns of namespaces) deleteNamespace(ns);
  }
}

/** Retries `check` until it stops throwing (returns its value) or the time is up (rethrows). */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 3000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(intervalMs);
    }
  }
}

const kindSupport = new Map<string, boolean>();

/** Whether the running kernel can create links of this kind (some kernels lack dummy, vrf...). */
export function kernelSupportsLinkKind(kind: string): boolean {
  const known = kindSupport.get(kind);
  if (known !== undefined) return known;
  const ns = makeNamespace('nlk');
  try {
    const supported = ipTry(ns.name, ['link', 'add', 'probe0', 'type', kind]).status === 0;
    kindSupport.set(kind, supported);
    return supported;
  } finally {
    deleteNamespace(ns);
  }
}

/** The interface index of NAME in NS, from iproute2. */
export function ifindexOf(ns: string | null, name: string): number {
  const [link] = ipJson<{ ifindex: number }[]>(ns, ['link', 'show', 'dev', name]);
  if (!link) throw new Error(`no link ${name}`);
  return link.ifindex;
}

/** Runs a shell-free list of `ip` commands in NS through one `ip -batch -` (fast setup). */
export function ipBatch(ns: string | null, lines: string[]): void {
  execFileSync('ip', ipArgs(ns, ['-batch', '-']), {
    input: lines.join('\n') + '\n',
    stdio: ['pipe', 'ignore', 'pipe'],
  });
}
