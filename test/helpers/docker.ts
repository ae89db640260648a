/**
 * Test helpers for the docker tier: run labelled containers of the local busybox image (built by
 * test/services/docker.sh; no pulls), and remove every one of them afterwards.
 *
 * Each test file makes its own DockerTestContainers, whose names share a unique prefix, and calls
 * removeAll() in an after/afterEach hook, so a failing test still leaves no container behind.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const TEST_IMAGE = process.env['NETNS_AGENT_TEST_IMAGE'] ?? 'netns-agent-test/busybox:latest';
/** Every test container's name starts with this. */
export const TEST_CONTAINER_PREFIX = 'netns-agent-test-';
/** Stops at once on SIGTERM (a bare `sleep` as PID 1 would ignore it and cost a 10 s stop timeout). */
export const IDLE_COMMAND = ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'];

const SERVICE_SCRIPT = fileURLToPath(new URL('../../../test/services/docker.sh', import.meta.url));
const DOCKERD_PID_FILES = ['/tmp/netns-agent-dockerd/dockerd.pid', '/var/run/docker.pid'];

/** Runs the docker CLI; resolves with its trimmed stdout. */
export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { timeout: 60_000 });
  return stdout.trim();
}

/** True when a daemon answers (the tier's tests skip otherwise). */
export async function dockerAnswers(): Promise<boolean> {
  try {
    await run('docker', ['info', '--format', '{{.ID}}'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export interface RunOptions {
  /** MICROSERVICE_LABEL of the container; none when undefined. */
  label?: string;
  /** Suffix of the name (the prefix is added); default: a counter. */
  name?: string;
  command?: string[];
  extraArgs?: string[];
}

export interface TestContainer {
  id: string;
  name: string;
}

export interface ContainerState {
  running: boolean;
  pid: number;
  startedAt: string;
}

export class DockerTestContainers {
  readonly prefix: string;
  private counter = 0;

  constructor(tag = 'c') {
    this.prefix = `${TEST_CONTAINER_PREFIX}${process.pid}-${tag}-`;
  }

  /** `docker run -d --network none [-e MICROSERVICE_LABEL=label] IMAGE command`. */
  async run(options: RunOptions = {}): Promise<TestContainer> {
    const name = `${this.prefix}${options.name ?? String(++this.counter)}`;
    const args = ['run', '-d', '--network', 'none', '--name', name];
    if (options.label !== undefined) args.push('-e', `MICROSERVICE_LABEL=${options.label}`);
    args.push(...(options.extraArgs ?? []), TEST_IMAGE, ...(options.command ?? IDLE_COMMAND));
    const id = await docker(...args);
    return { id, name };
  }

  /** Removes (forcibly) every container of this instance; never throws. */
  async removeAll(): Promise<void> {
    try {
      const ids = (await docker('ps', '-aq', '--filter', `name=^/${this.prefix}`))
        .split('\n')
        .filter((s) => s !== '');
      if (ids.length > 0) await docker('rm', '-f', ...ids);
    } catch {
      // dockerd may be down in the middle of a failed test; nothing more we can do here.
    }
  }
}

export async function containerState(id: string): Promise<ContainerState> {
  const out = await docker(
    'inspect',
    '--format',
    '{{.State.Running}} {{.State.Pid}} {{.State.StartedAt}}',
    id,
  );
  const [running = '', pid = '0', startedAt = ''] = out.split(' ');
  return { running: running === 'true', pid: Number(pid), startedAt };
}

async function dockerdPid(): Promise<number | undefined> {
  for (const file of DOCKERD_PID_FILES) {
    try {
      const pid = Number((await readFile(file, 'utf8')).trim());
      if (pid > 0) {
        process.kill(pid, 0);
        return pid;
      }
    } catch {
      // not this file
    }
  }
  return undefined;
}

/** Stops the running dockerd (SIGTERM) and waits until it is gone. */
export async function stopDockerd(timeoutMs = 60_000): Promise<void> {
  const pid = await dockerdPid();
  if (pid === undefined) throw new Error('no dockerd pid file found; cannot stop dockerd');
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new Error(`dockerd ${pid} did not stop within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts dockerd again the way the tier's service script does, and waits until it answers. */
export async function startDockerd(): Promise<void> {
  await run(SERVICE_SCRIPT, [], { timeout: 120_000 });
}

/** Polls `condition` until it holds. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
