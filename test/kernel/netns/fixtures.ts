/**
 * Fixtures of the namespace kernel tests: unique `nt<hex>` names, remembered so that every test can
 * delete what it made (with `ip netns del`, the oracle) in its finally, and children to kill.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { eventually, uniqueName } from '../../helpers/kernel.js';

export class Scratch {
  private readonly names: string[] = [];
  private readonly children: ChildProcess[] = [];

  /** A fresh name, deleted by cleanup() whoever created it. */
  name(): string {
    const name = uniqueName('nt');
    this.names.push(name);
    return name;
  }

  /** `ip netns exec NAME sleep 60`: a process living in the namespace (ip execs sleep: same pid). */
  sleeper(name: string): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', name, 'sleep', '60'], { stdio: 'ignore' });
    this.children.push(child);
    return child;
  }

  /** A sleeper that is inside the namespace already (ip netns identify says so); returns its pid. */
  async sleeperIn(name: string): Promise<{ child: ChildProcess; pid: number }> {
    const child = this.sleeper(name);
    const pid = child.pid;
    if (pid === undefined) throw new Error('could not start ip netns exec');
    await eventually(() => {
      if (!ipNetnsIdentify(pid).includes(name)) throw new Error(`pid ${pid} not in ${name} yet`);
    });
    return { child, pid };
  }

  cleanup(): void {
    for (const child of this.children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const name of this.names) {
      if (existsSync(`/var/run/netns/${name}`)) spawnSync('ip', ['netns', 'del', name]);
    }
  }
}

/** `ip netns list`, names only. */
export function ipNetnsList(): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

/** `ip netns identify PID`: the names of the namespace PID is in. */
export function ipNetnsIdentify(pid: number): string[] {
  const out = spawnSync('ip', ['netns', 'identify', String(pid)], { encoding: 'utf8' }).stdout;
  return out.split(/\s+/).filter((name) => name !== '');
}

/** Waits for an exited child (after kill). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
