/**
 * The microservice watcher against a real dockerd (started by test/services/docker.sh): containers
 * of the local busybox image with --network none, labelled through MICROSERVICE_LABEL.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  MicroserviceWatcher,
  type MicroserviceUp,
  type WatcherWarning,
} from '../../../src/containers/index.js';
import {
  DockerTestContainers,
  containerState,
  docker,
  dockerAnswers,
  eventually,
  startDockerd,
  stopDockerd,
} from '../../helpers/docker.js';

interface Recorder {
  ups: Array<MicroserviceUp & { at: number }>;
  downs: Array<{ label: string; containerId: string; at: number }>;
  warnings: WatcherWarning[];
}

const containers = new DockerTestContainers('watch');
const watchers: MicroserviceWatcher[] = [];
let available = false;

/** A watcher on the real daemon with a short backoff, recording what it says. */
function startWatcher(): { watcher: MicroserviceWatcher; seen: Recorder } {
  const watcher = new MicroserviceWatcher({ backoff: () => 100 });
  watchers.push(watcher);
  const seen: Recorder = { ups: [], downs: [], warnings: [] };
  watcher.on('microservice-up', (u) => seen.ups.push({ ...u, at: Date.now() }));
  watcher.on('microservice-down', (d) => seen.downs.push({ ...d, at: Date.now() }));
  watcher.on('warning', (w) => seen.warnings.push(w));
  watcher.start();
  return { watcher, seen };
}

/** A label no other test (or run) uses. */
function uniqueLabel(name: string): string {
  return `${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

describe('MicroserviceWatcher on a real dockerd', () => {
  before(async () => {
    available = await dockerAnswers();
  });
  afterEach(async () => {
    await Promise.all(watchers.splice(0).map((w) => w.close()));
    await containers.removeAll();
  });
  after(async () => {
    await containers.removeAll();
  });

  test('a container started before the watcher is in the first list', async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const label = uniqueLabel('before');
    const c = await containers.run({ label });
    const { pid } = await containerState(c.id);
    const { watcher, seen } = startWatcher();
    await watcher.ready;
    const m = watcher.get(label);
    assert.equal(m?.containerId, c.id);
    assert.equal(m?.pid, pid);
    assert.equal(m?.name, c.name);
    assert.ok(existsSync(`/proc/${pid}/ns/net`), 'Docker reports host PIDs');
    assert.equal(seen.ups.filter((u) => u.label === label).length, 1, 'reported before ready');
    assert.equal(watcher.status().state, 'connected');
  });

  test('a container started after the watcher is reported well within a second', async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const label = uniqueLabel('after');
    const { watcher, seen } = startWatcher();
    await watcher.ready;
    assert.equal(watcher.pendingReason(label), `waiting for microservice ${label}`);
    const c = await containers.run({ label });
    await eventually(() => watcher.get(label) !== undefined, 10_000, 'microservice up');
    const up = seen.ups.find((u) => u.label === label);
    assert.ok(up !== undefined);
    const state = await containerState(c.id);
    assert.equal(up.pid, state.pid);
    const latency = up.at - Date.parse(state.startedAt);
    t.diagnostic(`start -> microservice-up: ${latency} ms`);
    // Docker's own event delivery and the inspect are in it too; under CPU steal 500 ms was tight.
    assert.ok(latency < 1000, `start reached the watcher after ${latency} ms`);
    // An unlabelled container is not a microservice.
    await containers.run({});
    assert.deepEqual(
      watcher
        .list()
        .filter((m) => m.label.startsWith('after-'))
        .map((m) => m.label),
      [label],
    );
  });

  test('stop then start: down, then up with a new pid', async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const label = uniqueLabel('stopstart');
    const c = await containers.run({ label });
    const { watcher, seen } = startWatcher();
    await watcher.ready;
    const firstPid = watcher.get(label)?.pid;
    await docker('stop', '-t', '5', c.id);
    await eventually(() => watcher.get(label) === undefined, 10_000, 'microservice down');
    assert.deepEqual(
      seen.downs.map((d) => d.label),
      [label],
    );
    await docker('start', c.id);
    await eventually(() => watcher.get(label) !== undefined, 10_000, 'microservice up again');
    const { pid } = await containerState(c.id);
    assert.notEqual(pid, firstPid);
    assert.equal(watcher.get(label)?.pid, pid);
  });

  test('restart: the label follows the new pid', async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const label = uniqueLabel('restart');
    const c = await containers.run({ label });
    const { watcher, seen } = startWatcher();
    await watcher.ready;
    const firstPid = watcher.get(label)?.pid;
    await docker('restart', '-t', '5', c.id);
    const { pid } = await containerState(c.id);
    assert.notEqual(pid, firstPid);
    await eventually(() => watcher.get(label)?.pid === pid, 10_000, 'new pid');
    assert.equal(seen.ups.at(-1)?.pid, pid);
  });

  test('kill -9: down', async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const label = uniqueLabel('kill');
    const c = await containers.run({ label });
    const { watcher } = startWatcher();
    await watcher.ready;
    assert.ok(watcher.get(label) !== undefined);
    await docker('kill', '-s', 'KILL', c.id);
    await eventually(() => watcher.get(label) === undefined, 10_000, 'microservice down');
    assert.equal(watcher.pendingReason(label), `waiting for microservice ${label}`);
  });

  test('two containers with one label: the newest wins with a warning', async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const label = uniqueLabel('dup');
    const { watcher, seen } = startWatcher();
    await watcher.ready;
    const older = await containers.run({ label });
    await eventually(() => watcher.get(label)?.containerId === older.id, 10_000, 'first container');
    const newer = await containers.run({ label });
    await eventually(() => watcher.get(label)?.containerId === newer.id, 10_000, 'newest wins');
    assert.ok(seen.warnings.some((w) => w.code === 'duplicate-label' && w.label === label));
    await docker('rm', '-f', newer.id);
    await eventually(() => watcher.get(label)?.containerId === older.id, 10_000, 'older takes over');
  });

  test('dockerd stopped and started again while watching: converges', async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const gone = uniqueLabel('gone');
    const back = uniqueLabel('back');
    const late = uniqueLabel('late');
    await containers.run({ label: gone });
    const survivor = await containers.run({ label: back, extraArgs: ['--restart', 'always'] });
    const { watcher } = startWatcher();
    await watcher.ready;
    const before = watcher.get(back)?.pid;
    assert.ok(before !== undefined && watcher.get(gone) !== undefined);
    try {
      await stopDockerd();
      await eventually(() => watcher.status().state === 'unreachable', 5000, 'unreachable');
      t.diagnostic(`while stopped: ${watcher.status().reason ?? ''}`);
      assert.match(watcher.status().reason ?? '', /^Docker is unreachable: /);
    } finally {
      await startDockerd(); // leave dockerd running, whatever happened
    }
    await eventually(() => watcher.status().state === 'connected', 10_000, 'reconnected');
    // The plain container did not survive the daemon; the --restart always one came back anew.
    await eventually(() => watcher.get(gone) === undefined, 5000, 'gone is down');
    const { pid } = await containerState(survivor.id);
    await eventually(() => watcher.get(back)?.pid === pid, 10_000, 'back with its new pid');
    assert.notEqual(pid, before);
    // And the new event stream works.
    await containers.run({ label: late });
    await eventually(() => watcher.get(late) !== undefined, 10_000, 'late up');
  });

  test('close is idempotent and releases the connection', async (t) => {
    if (!available) return t.skip('dockerd does not answer');
    const { watcher } = startWatcher();
    await watcher.ready;
    await Promise.all([watcher.close(), watcher.close()]);
    assert.equal(watcher.status().state, 'closed');
  });
});
