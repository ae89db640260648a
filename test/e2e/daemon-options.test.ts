/**
 * bin/netns-agent configured from the environment only (MICROSERVICE_LABEL, NETNS_AGENT_HTTP,
 * NETNS_AGENT_STORE, NETNS_AGENT_LOG_LEVEL), stopped by SIGINT (exit 0); a bad --log-level is a
 * clear usage error (exit 2), not a stack trace.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { SqliteStore } from '../../src/datastore/index.js';
import { freePort } from '../helpers/etcd.js';
import { skipUnlessRoot } from '../helpers/kernel.js';
import { AgentProcess, ROOT, deleteNamespaces, eventually, netnsctlSpawn, tag } from '../helpers/agent.js';

const dir = mkdtempSync(path.join(tmpdir(), 'netns-daemon-options-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('daemon options', { skip: skipUnlessRoot() }, () => {
  test('from the environment; SIGINT stops it with exit code 0', async () => {
    const label = `env${tag()}`;
    const listen = `127.0.0.1:${await freePort()}`;
    const store = path.join(dir, 'env.db');
    const child = spawn(path.join(ROOT, 'bin/netns-agent'), ['--no-docker'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        MICROSERVICE_LABEL: label,
        NETNS_AGENT_HTTP: listen,
        NETNS_AGENT_STORE: store,
        NETNS_AGENT_LOG_LEVEL: 'warn',
      },
    });
    let log = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (log += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const about = await eventually(async () => {
        const response = await fetch(`http://${listen}/v1/about`);
        return (await response.json()) as { label: string; store: string; http: string };
      });
      assert.equal(about.label, label);
      assert.equal(about.store, 'sqlite');
      assert.equal(about.http, listen);
      assert.ok(existsSync(store), 'the store file of NETNS_AGENT_STORE');
      assert.doesNotMatch(log, /"level":30/, 'no info lines at level warn');
      child.kill('SIGINT');
      assert.equal(await exited, 0, log);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('NETNS_AGENT_TOKEN: required by the agent, sent by netnsctl, never printed in help or usage errors', async () => {
    const secret = `s3cret-${tag(8)}`;
    const env = { ...process.env, NETNS_AGENT_TOKEN: secret };
    for (const program of ['bin/netns-agent', 'bin/netnsctl'])
      for (const args of [['--help'], ['--bogus']]) {
        const run = spawnSync(path.join(ROOT, program), args, { encoding: 'utf8', env, timeout: 20_000 });
        assert.ok(
          !(run.stdout + run.stderr).includes(secret),
          `${program} ${args.join(' ')} printed the token`,
        );
        if (args[0] === '--help')
          assert.match(run.stdout, /\$NETNS_AGENT_TOKEN/, `${program} --help names the variable`);
      }
    const listen = `127.0.0.1:${await freePort()}`;
    const child = spawn(
      path.join(ROOT, 'bin/netns-agent'),
      ['--label', `tok${tag()}`, '--http', listen, '--store', path.join(dir, 'token.db'), '--no-docker'],
      { stdio: 'ignore', env },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const status = await eventually(async () => (await fetch(`http://${listen}/v1/about`)).status);
      assert.equal(status, 401, 'the token from the environment is required');
      const authorized = await fetch(`http://${listen}/v1/about`, {
        headers: { authorization: `Bearer ${secret}` },
      });
      assert.equal(authorized.status, 200);
      const ctl = spawnSync(path.join(ROOT, 'bin/netnsctl'), ['--server', `http://${listen}`, 'status'], {
        encoding: 'utf8',
        env,
        timeout: 20_000,
      });
      assert.equal(ctl.status, 0, ctl.stderr);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('an unknown --log-level: exit 2 with the allowed levels', () => {
    const run = spawnSync(
      path.join(ROOT, 'bin/netns-agent'),
      ['--log-level', 'loud', '--http', '', '--store', path.join(dir, 'x.db'), '--no-docker'],
      { encoding: 'utf8' },
    );
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--log-level: "loud" is not one of fatal, error, warn, info, debug, trace/);
  });

  test('an unknown option or a bad --http address: exit 2, as every usage error', () => {
    for (const [args, why] of [
      [['--bogus'], /unknown option '--bogus'/],
      [['--http', '127.0.0.1:notaport'], /--http: "127.0.0.1:notaport" is not HOST:PORT/],
    ] as const) {
      const run = spawnSync(
        path.join(ROOT, 'bin/netns-agent'),
        [...args, '--store', path.join(dir, 'x.db'), '--no-docker'],
        { encoding: 'utf8', timeout: 20_000 },
      );
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, why);
    }
  });

  test('--http at an address in use: exit 1 saying so, before anything in the kernel is changed', async () => {
    const label = `inuse${tag()}`;
    const ns = `inuse${tag(4)}`;
    const store = path.join(dir, 'in-use.db');
    // Its configuration makes a named namespace, the first thing a start would do.
    const direct = new SqliteStore({ file: store });
    await direct.put(
      `/vnf-agent/${label}/linux/config/v1/interface/lo1`,
      JSON.stringify({ name: 'lo1', type: 'LOOPBACK', namespace: { type: 'NAMED_NS', name: ns } }),
    );
    await direct.close();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const run = spawnSync(
        path.join(ROOT, 'bin/netns-agent'),
        ['--label', label, '--http', `127.0.0.1:${port}`, '--store', store, '--no-docker'],
        { encoding: 'utf8', timeout: 20_000 },
      );
      assert.equal(run.status, 1, run.stdout + run.stderr);
      assert.match(run.stdout + run.stderr, /EADDRINUSE/);
      assert.ok(!existsSync(`/run/netns/${ns}`), 'no namespace made by an agent that did not start');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
      deleteNamespaces(ns);
    }
  });

  test('SIGTERM with `netnsctl watch` connected: the agent ends the stream and exits 0 at once', async () => {
    const agent = await AgentProcess.start({ label: `wt${tag()}`, store: path.join(dir, 'watch.db') });
    const watch = netnsctlSpawn(['--server', agent.server, 'watch']);
    let watchOut = '';
    watch.stderr!.setEncoding('utf8').on('data', (d: string) => (watchOut += d));
    const watchExit = new Promise<number | null>((resolve) => watch.once('exit', resolve));
    try {
      // Connected once it prints a state change the agent made after it started.
      let watchLines = '';
      watch.stdout!.setEncoding('utf8').on('data', (d: string) => (watchLines += d));
      const label = agent.options.label;
      await eventually(async () => {
        const key = `/vnf-agent/${label}/linux/config/v1/interface/w${tag(4)}`;
        const value = {
          name: key.slice(key.lastIndexOf('/') + 1),
          type: 'DUMMY',
          namespace: { type: 'MICROSERVICE_REF_NS', microservice: 'none' },
        };
        await agent.request('PUT', `/v1/config${key}`, JSON.stringify(value));
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.match(watchLines, /pending/);
      });
      const started = Date.now();
      await agent.stop();
      assert.ok(Date.now() - started < 5000, `stopped in ${Date.now() - started} ms`);
      assert.equal(agent.child.exitCode, 0, agent.logText());
      assert.equal(await watchExit, 3, watchOut);
      assert.match(watchOut, /ended the event stream/);
    } finally {
      watch.kill('SIGKILL');
      await agent.stop();
    }
  });

  test('watch --follow goes on watching across an agent restart (the first one killed)', async () => {
    const label = `wf${tag()}`;
    const store = path.join(dir, 'follow.db');
    const { first, http, watch, out, err } = await watchFollowing(label, store);
    let second: AgentProcess | undefined;
    const put = async (agent: AgentProcess, name: string): Promise<void> => {
      const key = `/vnf-agent/${label}/linux/config/v1/interface/${name}`;
      const value = { name, type: 'DUMMY', namespace: { type: 'MICROSERVICE_REF_NS', microservice: 'none' } };
      await agent.request('PUT', `/v1/config${key}`, JSON.stringify(value));
    };
    try {
      await eventually(async () => {
        await put(first, `a${tag(4)}`);
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.match(out(), /pending/);
      });
      // Killed, not stopped: the stream ends abruptly (no clean end of the response).
      const exited = new Promise((resolve) => first.child.once('exit', resolve));
      first.child.kill('SIGKILL');
      await exited;
      await eventually(() => assert.match(err(), /waiting for it to come back/));
      assert.equal(watch.exitCode, null, 'still watching');
      second = await AgentProcess.start({ label, store, http });
      const before = out().length;
      await eventually(async () => {
        await put(second!, `b${tag(4)}`);
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.match(out().slice(before), /pending/);
      }, 10_000);
      // It came back with the last event id it had, of the first agent's run: told what it missed.
      assert.match(err(), /events were missed \(the agent restarted since that event\)/);
    } finally {
      watch.kill('SIGKILL');
      await first.stop();
      await second?.stop();
    }
  });

  test('watch --follow that had shown no event yet is told, after an agent restart, that events were missed', async () => {
    const label = `wr${tag()}`;
    const store = path.join(dir, 'follow-quiet.db');
    const { first, http, watch, out, err } = await watchFollowing(label, store);
    let second: AgentProcess | undefined;
    try {
      // Connected (it says so below, when the stream ends), nothing happening.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await first.stop();
      await eventually(() => assert.match(err(), /waiting for it to come back/));
      assert.equal(out(), '', 'no event shown before the restart');
      second = await AgentProcess.start({ label, store, http });
      // Back at the second agent with the id the first one's stream started at: what the second did
      // before (its start) was not shown, and it says so.
      await eventually(
        () => assert.match(err(), /events were missed \(the agent restarted since that event\)/),
        10_000,
      );
      await second.putPendingThroughNetnsctl(`wr${tag(4)}`, ['--server', second.server]);
      await eventually(() => assert.match(out(), /pending/));
      assert.match(out(), /reset events missed/);
    } finally {
      watch.kill('SIGKILL');
      await first.stop();
      await second?.stop();
    }
  });

  test('--http 0.0.0.0:PORT without a token: a warning, and the address it listens on as given', async () => {
    const port = await freePort();
    const agent = await AgentProcess.start({
      label: `wl${tag()}`,
      store: path.join(dir, 'listen.db'),
      http: `0.0.0.0:${port}`,
    });
    try {
      await eventually(() => {
        assert.match(agent.logText(), /beyond loopback, without --http-token/);
        assert.match(
          agent.logText(),
          new RegExp(`"address":"http://0\\.0\\.0\\.0:${port}".*HTTP API listening`),
        );
      });
    } finally {
      await agent.stop();
    }
  });
});

/** An agent of `label` on `store`, and `netnsctl watch --follow` connected to it; out and err so far. */
async function watchFollowing(
  label: string,
  store: string,
): Promise<{ first: AgentProcess; http: string; watch: ChildProcess; out(): string; err(): string }> {
  const first = await AgentProcess.start({ label, store });
  const watch = netnsctlSpawn(['--server', first.server, 'watch', '--follow']);
  let out = '';
  let err = '';
  watch.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  watch.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return { first, http: first.server.replace(/^http:\/\//, ''), watch, out: () => out, err: () => err };
}
