import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MicroserviceWatcher } from '../../../src/containers/watcher.js';
import type { MicroserviceWatcherEvents } from '../../../src/containers/watcher-types.js';
import { ClosedError } from '../../../src/errors.js';
import { FakeDocker, eventually } from './fake-docker.js';

type Recorded = {
  [K in keyof MicroserviceWatcherEvents]: { name: K; payload: MicroserviceWatcherEvents[K] };
}[keyof MicroserviceWatcherEvents];

const watchers: MicroserviceWatcher[] = [];

function watch(
  docker: FakeDocker,
  backoff: (n: number) => number = () => 1,
): { watcher: MicroserviceWatcher; log: Recorded[]; lines: () => string[] } {
  const watcher = new MicroserviceWatcher({ docker, backoff });
  watchers.push(watcher);
  const log: Recorded[] = [];
  watcher.on('microservice-up', (payload) => log.push({ name: 'microservice-up', payload }));
  watcher.on('microservice-down', (payload) => log.push({ name: 'microservice-down', payload }));
  watcher.on('warning', (payload) => log.push({ name: 'warning', payload }));
  const lines = (): string[] =>
    log.map((r) => {
      switch (r.name) {
        case 'microservice-up':
          return `up ${r.payload.label} ${r.payload.containerId}/${r.payload.pid}`;
        case 'microservice-down':
          return `down ${r.payload.label}`;
        case 'warning':
          return `warning ${r.payload.code}`;
        case 'status':
          return `status ${r.payload.state}`;
      }
    });
  return { watcher, log, lines };
}

afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.close()));
});

describe('MicroserviceWatcher', () => {
  test('reports containers already running, then is ready', async () => {
    const docker = new FakeDocker();
    docker.run('a', 'web', 10, { quiet: true });
    docker.run('b', undefined, 11, { quiet: true });
    docker.stop('c');
    const { watcher, lines } = watch(docker);
    assert.equal(watcher.status().state, 'idle');
    watcher.start();
    await watcher.ready;
    assert.deepEqual(lines(), ['up web a/10']);
    assert.deepEqual(watcher.status().state, 'connected');
    assert.equal(watcher.get('web')?.pid, 10);
    assert.equal(watcher.labelOf('a'), 'web');
    assert.equal(watcher.pendingReason('web'), undefined);
    assert.equal(watcher.pendingReason('db'), 'waiting for microservice db');
    assert.deepEqual(docker.calls.slice(0, 2), ['subscribe', 'list'], 'stream opened before the list');
  });

  test('never says "not running" before the first list is applied', async () => {
    const docker = new FakeDocker();
    docker.run('a', 'web', 10, { quiet: true });
    docker.holdInspects = true;
    const { watcher } = watch(docker);
    let ready = false;
    void watcher.ready.then(() => (ready = true));
    watcher.start();
    await eventually(() => docker.calls.includes('inspect a'));
    assert.equal(ready, false);
    assert.equal(watcher.status().synced, false);
    assert.match(watcher.pendingReason('web') ?? '', /waiting for the list of Docker containers/);
    docker.release();
    await watcher.ready;
    assert.equal(watcher.pendingReason('web'), undefined);
  });

  test('start, stop and start again with a new pid', async () => {
    const docker = new FakeDocker();
    const { watcher, lines, log } = watch(docker);
    watcher.start();
    await watcher.ready;
    docker.run('a', 'web', 10);
    await eventually(() => watcher.get('web')?.pid === 10);
    docker.stop('a');
    await eventually(() => watcher.get('web') === undefined);
    docker.run('a', 'web', 12);
    await eventually(() => watcher.get('web')?.pid === 12);
    assert.deepEqual(lines(), ['up web a/10', 'down web', 'up web a/12']);
    const down = log[1];
    assert.ok(down?.name === 'microservice-down');
    assert.deepEqual(down.payload, { label: 'web', containerId: 'a', pid: 10 });
  });

  test('a restart reported in a burst ends with the new pid', async () => {
    const docker = new FakeDocker();
    docker.run('a', 'web', 10, { quiet: true });
    const { watcher, log } = watch(docker);
    watcher.start();
    await watcher.ready;
    docker.holdInspects = true;
    docker.emit('a', 'kill');
    docker.stop('a');
    docker.run('a', 'web', 20);
    docker.emit('a', 'restart');
    docker.release();
    await eventually(() => watcher.get('web')?.pid === 20);
    const last = log.at(-1);
    assert.ok(last?.name === 'microservice-up');
    assert.equal(last.payload.pid, 20);
    assert.deepEqual(last.payload.previous?.pid ?? 10, 10);
  });

  test('events that arrive while a container is being read are not lost', async () => {
    const docker = new FakeDocker();
    docker.run('a', 'web', 10, { quiet: true });
    docker.holdInspects = true;
    const { watcher, lines } = watch(docker);
    watcher.start();
    await eventually(() => docker.calls.includes('inspect a'));
    docker.stop('a'); // die while the list's inspect of `a` (which saw it running) is in flight
    docker.release();
    await watcher.ready;
    await eventually(() => lines().includes('down web'));
    assert.deepEqual(lines(), ['up web a/10', 'down web']);
    assert.equal(watcher.get('web'), undefined);
  });

  test('destroy and die drop the container without asking Docker', async () => {
    const docker = new FakeDocker();
    docker.run('a', 'web', 10, { quiet: true });
    const { watcher } = watch(docker);
    watcher.start();
    await watcher.ready;
    docker.unreachable = 'would fail'; // an inspect now would end the connection
    docker.remove('a');
    await eventually(() => watcher.get('web') === undefined);
    assert.equal(watcher.status().state, 'connected');
    docker.unreachable = undefined;
  });

  test('two containers with one label: newest wins, with a warning; the other takes over', async () => {
    const docker = new FakeDocker();
    const { watcher, lines } = watch(docker);
    watcher.start();
    await watcher.ready;
    docker.run('a', 'web', 10);
    await eventually(() => watcher.get('web')?.containerId === 'a');
    docker.run('b', 'web', 20);
    await eventually(() => watcher.get('web')?.containerId === 'b');
    docker.stop('b');
    await eventually(() => watcher.get('web')?.containerId === 'a');
    assert.deepEqual(lines(), ['up web a/10', 'up web b/20', 'warning duplicate-label', 'up web a/10']);
  });

  test('Docker unreachable at start: pending reason, backoff, then converges', async () => {
    const docker = new FakeDocker();
    docker.unreachable = 'connect ENOENT /var/run/docker.sock';
    const attempts: number[] = [];
    const { watcher, lines } = watch(docker, (n) => {
      attempts.push(n);
      return 1;
    });
    watcher.start();
    await eventually(() => attempts.length >= 3);
    const status = watcher.status();
    assert.equal(status.state, 'unreachable');
    assert.equal(status.synced, false);
    assert.equal(status.reason, 'Docker is unreachable: connect ENOENT /var/run/docker.sock');
    assert.equal(watcher.pendingReason('web'), 'Docker is unreachable: connect ENOENT /var/run/docker.sock');
    assert.deepEqual(attempts.slice(0, 3), [0, 1, 2], 'backoff grows with consecutive failures');
    docker.run('a', 'web', 10, { quiet: true });
    docker.unreachable = undefined;
    await watcher.ready;
    assert.equal(watcher.status().state, 'connected');
    assert.equal(watcher.status().failedAttempts, 0);
    assert.deepEqual(lines(), ['up web a/10']);
  });

  test('a broken event stream is re-opened and the list re-applied (differences only)', async () => {
    const docker = new FakeDocker();
    docker.run('a', 'web', 10, { quiet: true });
    docker.run('b', 'db', 11, { quiet: true });
    const { watcher, lines } = watch(docker);
    const states: string[] = [];
    watcher.on('status', (s) => states.push(s.state));
    watcher.start();
    await watcher.ready;
    docker.unreachable = 'connect ECONNREFUSED /var/run/docker.sock';
    docker.breakStreams();
    await eventually(() => watcher.status().state === 'unreachable');
    // While away: a stops, b restarts with a new pid, c starts; none of it is heard as events.
    docker.stop('a', { quiet: true });
    docker.run('b', 'db', 21, { quiet: true });
    docker.run('c', 'cache', 30, { quiet: true });
    assert.equal(watcher.get('web')?.pid, 10, 'last known map kept while unreachable');
    assert.match(
      watcher.pendingReason('cache') ?? '',
      /^waiting for microservice cache \(Docker is unreachable: /,
    );
    // A label of the last known map too: an item of it waits because its process went.
    assert.match(
      watcher.pendingReason('web') ?? '',
      /^waiting for microservice web \(Docker is unreachable: /,
    );
    docker.unreachable = undefined;
    await eventually(() => watcher.status().state === 'connected');
    assert.equal(docker.openStreams, 1);
    assert.deepEqual(lines().slice(2).sort(), ['down web', 'up cache c/30', 'up db b/21']);
    // (The reason may change while unreachable: each change is a status event of its own.)
    const transitions = states.filter((state, i) => state !== states[i - 1]);
    assert.deepEqual(transitions, ['connecting', 'connected', 'unreachable', 'connected']);
    // And events flow on the new stream.
    docker.run('d', 'web', 40);
    await eventually(() => watcher.get('web')?.pid === 40);
  });

  test('a stream that ends while Docker still answers is simply re-opened', async () => {
    const docker = new FakeDocker();
    const { watcher } = watch(docker);
    watcher.start();
    await watcher.ready;
    docker.breakStreams('Docker closed the event stream');
    await eventually(
      () =>
        docker.calls.filter((c) => c === 'subscribe').length === 2 && watcher.status().state === 'connected',
    );
    docker.run('a', 'web', 10);
    await eventually(() => watcher.get('web')?.pid === 10);
  });

  test('an inspect that fails with an HTTP error warns and keeps the connection', async () => {
    const docker = new FakeDocker();
    const { watcher, lines } = watch(docker);
    watcher.start();
    await watcher.ready;
    docker.brokenIds.add('a');
    docker.run('a', 'web', 10);
    await eventually(() => lines().includes('warning container-unreadable'));
    assert.equal(watcher.status().state, 'connected');
    docker.brokenIds.delete('a');
    docker.emit('a', 'restart');
    await eventually(() => watcher.get('web')?.pid === 10);
  });

  test('a throwing listener does not stop the others or the watcher', async () => {
    const docker = new FakeDocker();
    const { watcher, lines } = watch(docker);
    watcher.on('microservice-up', () => {
      throw new Error('consumer bug');
    });
    watcher.start();
    await watcher.ready;
    docker.run('a', 'web', 10);
    await eventually(() => lines().includes('warning listener-failed'));
    assert.ok(lines().includes('up web a/10'));
    docker.run('b', 'db', 11);
    await eventually(() => watcher.get('db') !== undefined);
  });

  test('unsubscribe stops delivery', async () => {
    const docker = new FakeDocker();
    const watcher = new MicroserviceWatcher({ docker, backoff: () => 1 });
    watchers.push(watcher);
    const seen: string[] = [];
    const off = watcher.on('microservice-up', (u) => seen.push(u.label));
    watcher.start();
    await watcher.ready;
    docker.run('a', 'web', 10);
    await eventually(() => seen.length === 1);
    off();
    docker.run('b', 'db', 11);
    await eventually(() => watcher.get('db') !== undefined);
    assert.deepEqual(seen, ['web']);
  });

  test('close is idempotent, rejects a pending ready, and stops everything', async () => {
    const docker = new FakeDocker();
    docker.unreachable = 'connect ENOENT /var/run/docker.sock';
    const { watcher, lines } = watch(docker, () => 60_000);
    watcher.start();
    await eventually(() => watcher.status().state === 'unreachable');
    const started = Date.now();
    await Promise.all([watcher.close(), watcher.close()]);
    assert.ok(Date.now() - started < 1000, 'close does not wait for the backoff');
    await assert.rejects(watcher.ready, ClosedError);
    assert.equal(watcher.status().state, 'closed');
    assert.ok(docker.closed);
    assert.throws(() => watcher.get('web'), ClosedError);
    assert.throws(() => watcher.start(), ClosedError);
    docker.unreachable = undefined;
    docker.run('a', 'web', 10);
    assert.deepEqual(lines(), []);
  });

  test('close while connected closes the event stream', async () => {
    const docker = new FakeDocker();
    const { watcher } = watch(docker);
    watcher.start();
    await watcher.ready;
    assert.equal(docker.openStreams, 1);
    await watcher.close();
    assert.equal(docker.openStreams, 0);
    await watcher.close();
  });
});
