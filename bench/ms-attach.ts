/**
 * ms-attach: a container's start -> its VETH configured. The agent runs in this process (embedded
 * store in a temp file, Docker watched, no HTTP API) with a VETH pair between a named namespace and
 * the container labelled ms-bench-<tag>; the container is started and stopped `starts` times (default
 * 20) and each time we measure dockerd's `start` event (its own timestamp) -> both VETH ends
 * `configured`, and `docker start` invoked -> configured. Prints a table and
 * `RESULT {"ms_attach_p50_ms": x, "ms_attach_p99_ms": y}`; null values when it cannot run (not root,
 * dockerd not answering, no local test image and no /bin/busybox to build one). No image pulls.
 *
 *     node dist/bench/ms-attach.js [starts]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Agent } from '../src/agent/agent.js';
import { createLogger } from '../src/agent/logger.js';
import { openDatastore } from '../src/datastore/index.js';
import { interfaceKey } from '../src/model/index.js';
import { ip, printTable, uniquePrefix } from './harness.js';

const run = promisify(execFile);
const IMAGE = process.env['NETNS_AGENT_TEST_IMAGE'] ?? 'netns-agent-test/busybox:latest';
const IDLE = ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'];

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { timeout: 60_000 });
  return stdout.trim();
}

function result(p50: number | null, p99: number | null): void {
  console.log(`RESULT ${JSON.stringify({ ms_attach_p50_ms: p50, ms_attach_p99_ms: p99 })}`);
}

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[index]! * 10) / 10;
}

/** Why the benchmark cannot run here, or undefined. Builds the local image if missing (no pull). */
async function cannotRun(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root';
  try {
    await run('docker', ['info', '--format', '{{.ID}}'], { timeout: 10_000 });
  } catch {
    return 'dockerd does not answer';
  }
  try {
    await docker('image', 'inspect', IMAGE);
    return undefined;
  } catch {
    // build it below
  }
  if (!existsSync('/bin/busybox')) return `no image ${IMAGE} and no /bin/busybox to build it`;
  const root = mkdtempSync(path.join(tmpdir(), 'ms-attach-image-'));
  try {
    for (const dir of ['bin', 'proc', 'sys', 'dev', 'etc', 'tmp']) mkdirSync(path.join(root, dir));
    copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
    for (const tool of ['sh', 'sleep']) symlinkSync('busybox', path.join(root, 'bin', tool));
    await run('sh', ['-c', `tar -C '${root}' -c . | docker import -c 'CMD ["/bin/sh"]' - '${IMAGE}'`]);
    return undefined;
  } catch (error) {
    return `cannot build ${IMAGE}: ${String(error)}`;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Follows dockerd's `start` events of one container: their timestamps (ms), in order. */
function followStartEvents(containerId: string): { times: number[]; child: ChildProcess } {
  const times: number[] = [];
  const child = spawn(
    'docker',
    [
      'events',
      '--filter',
      `container=${containerId}`,
      '--filter',
      'event=start',
      '--format',
      '{{.TimeNano}}',
    ],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let end;
    while ((end = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (line !== '') times.push(Number(BigInt(line) / 1_000_000n));
    }
  });
  return { times, child };
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function main(): Promise<void> {
  const starts = Number(process.argv[2] ?? 20);
  const why = await cannotRun();
  if (why !== undefined) {
    console.log(`ms-attach skipped: ${why}`);
    result(null, null);
    return;
  }

  const tag = uniquePrefix('');
  const label = `msbench-${tag}`;
  const microservice = `ms-bench-${tag}`;
  const hubNs = `msbench${tag}`;
  const hubIf = `hb${tag}`;
  const msIf = `mb${tag}`;
  const containerName = `netns-agent-bench-${process.pid}-${tag}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'ms-attach-'));
  const storeFile = path.join(dir, 'store.db');
  const hubKey = interfaceKey(label, hubIf);
  const msKey = interfaceKey(label, msIf);
  let agent: Agent | undefined;
  let events: ChildProcess | undefined;
  let containerCreated = false;
  let nsCreated = false;
  try {
    ip(['netns', 'add', hubNs]);
    nsCreated = true;
    const store = openDatastore({ file: storeFile });
    try {
      await store.put(
        hubKey,
        JSON.stringify({
          name: hubIf,
          type: 'VETH',
          enabled: true,
          ip_addresses: ['10.204.0.1/30'],
          namespace: { type: 'NAMED_NS', name: hubNs },
          veth: { peer_if_name: msIf },
        }),
      );
      await store.put(
        msKey,
        JSON.stringify({
          name: msIf,
          type: 'VETH',
          enabled: true,
          ip_addresses: ['10.204.0.2/30'],
          namespace: { type: 'MICROSERVICE_REF_NS', microservice },
          veth: { peer_if_name: hubIf },
        }),
      );
    } finally {
      await store.close();
    }
    agent = new Agent({ label, storeFile, http: '', docker: true, logger: createLogger('silent') });
    const configuredAt = new Map<string, number>();
    agent.engine.onStatus((changes) => {
      const now = Date.now();
      for (const s of changes) if (s.state === 'configured') configuredAt.set(s.key, now);
    });
    await agent.start();
    const engine = agent.engine;
    const state = (key: string): string | undefined => engine.status(key)?.state;

    const id = await docker(
      'create',
      '--network',
      'none',
      '--name',
      containerName,
      '-e',
      `MICROSERVICE_LABEL=${microservice}`,
      IMAGE,
      ...IDLE,
    );
    containerCreated = true;
    const follower = followStartEvents(id);
    events = follower.child;
    await new Promise((resolve) => setTimeout(resolve, 200)); // let `docker events` subscribe

    const fromEvent: number[] = [];
    const fromCommand: number[] = [];
    const rows: [string, string][] = [];
    for (let i = 0; i < starts; i++) {
      configuredAt.clear();
      const invoked = Date.now();
      await docker('start', id);
      await until(
        () =>
          state(hubKey) === 'configured' &&
          state(msKey) === 'configured' &&
          configuredAt.has(hubKey) &&
          configuredAt.has(msKey),
        10_000,
        'both VETH ends configured',
      );
      await until(() => follower.times.length > i, 5000, 'the start event');
      const done = Math.max(configuredAt.get(hubKey)!, configuredAt.get(msKey)!);
      const ms1 = done - follower.times[i]!;
      const ms2 = done - invoked;
      fromEvent.push(ms1);
      fromCommand.push(ms2);
      rows.push([
        `start ${String(i + 1).padStart(2)}`,
        `${ms1.toFixed(1).padStart(7)} ms from start event, ${ms2.toFixed(1).padStart(7)} ms from docker start`,
      ]);
      await docker('stop', '-t', '2', id);
      await until(
        () => state(hubKey) === 'pending' && state(msKey) === 'pending',
        10_000,
        'both VETH ends pending',
      );
    }
    const sortedEvent = [...fromEvent].sort((a, b) => a - b);
    const sortedCommand = [...fromCommand].sort((a, b) => a - b);
    const p50 = percentile(sortedEvent, 50);
    const p99 = percentile(sortedEvent, 99);
    rows.push(
      ['p50 (start event -> configured)', `${p50} ms`],
      ['p99 (start event -> configured)', `${p99} ms`],
      ['p50 (docker start -> configured)', `${percentile(sortedCommand, 50)} ms`],
      ['p99 (docker start -> configured)', `${percentile(sortedCommand, 99)} ms`],
    );
    printTable(`ms-attach: container start -> its VETH configured (${starts} starts)`, rows);
    result(p50, p99);
  } finally {
    events?.kill();
    if (containerCreated) await docker('rm', '-f', containerName).catch(() => undefined);
    await agent?.stop().catch(() => undefined);
    if (nsCreated) {
      try {
        ip(['netns', 'del', hubNs]);
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(
      `ms-attach failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    result(null, null);
    process.exit(1);
  },
);
