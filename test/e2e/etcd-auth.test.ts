/**
 * An etcd with its own authentication on (`auth enable`, a user and password): the agent logs in
 * with --etcd-user and NETNS_AGENT_ETCD_PASSWORD, netnsctl with --etcd-user and
 * --etcd-password-file; a wrong password keeps the agent out, and says why; a user without a
 * password exits 2.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { skipUnlessRoot } from '../helpers/kernel.js';
import { TcpProxy, startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { AgentProcess, ROOT, eventually, tag } from '../helpers/agent.js';

const dir = mkdtempSync(path.join(tmpdir(), 'netns-etcd-auth-'));
const passwordFile = path.join(dir, 'password');
const PASSWORD = `pw-${tag()}`;
let cluster: EtcdCluster | undefined;
let endpoint = '';

/** etcd's JSON gateway (etcd 3.4 serves it under /v3/). */
async function gateway(route: string, body: object): Promise<void> {
  const response = await fetch(`${endpoint}/v3/${route}`, { method: 'POST', body: JSON.stringify(body) });
  assert.equal(response.status, 200, `${route}: ${await response.text()}`);
}

describe("etcd's own authentication: --etcd-user", { skip: skipUnlessRoot() }, () => {
  before(async () => {
    // Tokens that expire after 2 s of not being used: an agent that idles longer holds a dead one.
    cluster = await startEtcd(1, ['--auth-token-ttl', '2']);
    endpoint = cluster.endpoints[0]!;
    await gateway('auth/user/add', { name: 'root', password: PASSWORD });
    await gateway('auth/user/grant', { user: 'root', role: 'root' });
    await gateway('auth/enable', {});
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  });

  after(async () => {
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An agent logging in as root with the right password, on `endpoints` (default the cluster's). */
  const startWithUser = (endpoints = [endpoint]): Promise<AgentProcess> =>
    AgentProcess.start({
      label: `auth${tag()}`,
      etcd: endpoints,
      env: { NETNS_AGENT_ETCD_USER: 'root', NETNS_AGENT_ETCD_PASSWORD: PASSWORD },
    });

  test('the agent and netnsctl log in; the agent follows what netnsctl puts', async () => {
    const agent = await startWithUser();
    try {
      assert.equal(await agent.datastoreState(), 'in-sync');
      await agent.putPendingThroughNetnsctl('auth0', [
        ...['--etcd', endpoint],
        ...['--etcd-user', 'root', '--etcd-password-file', passwordFile],
      ]);
    } finally {
      await agent.stop();
    }
  });

  test('etcd restarted (every token it gave is gone): the agent logs in again and follows', async () => {
    const agent = await startWithUser();
    try {
      assert.equal(await agent.datastoreState(), 'in-sync');
      await cluster!.stopAll('SIGTERM');
      await cluster!.startAll();
      await agent.putPendingThroughNetnsctl('auth1', [
        ...['--etcd', endpoint],
        ...['--etcd-user', 'root', '--etcd-password-file', passwordFile],
      ]);
      await eventually(async () => assert.equal(await agent.datastoreState(), 'in-sync'));
    } finally {
      await agent.stop();
    }
  });

  test('its token expired while it idled, then the connection broke: the agent logs in again and follows', async () => {
    const proxy = await TcpProxy.start(endpoint);
    const agent = await startWithUser([proxy.url]);
    try {
      // Its first token may have expired already on a slow machine (2 s): in sync once logged in.
      await eventually(async () => assert.equal(await agent.datastoreState(), 'in-sync'));
      await sleep(3000);
      proxy.cut();
      await eventually(async () => assert.notEqual(await agent.datastoreState(), 'in-sync'));
      proxy.restore();
      await agent.putPendingThroughNetnsctl('auth2', [
        ...['--etcd', endpoint],
        ...['--etcd-user', 'root', '--etcd-password-file', passwordFile],
      ]);
      await eventually(async () => assert.equal(await agent.datastoreState(), 'in-sync'));
    } finally {
      await agent.stop();
      await proxy.close();
    }
  });

  test('a wrong password keeps the agent out, and its log says why', () =>
    AgentProcess.expectRefused(
      {
        label: `auth${tag()}`,
        etcd: [endpoint],
        env: { NETNS_AGENT_ETCD_USER: 'root', NETNS_AGENT_ETCD_PASSWORD: 'wrong' },
      },
      /authentication failed|invalid user ID or password/i,
    ));

  test('a user without a password, or a password without a user, exits 2', () => {
    const netnsctl = spawnSync(
      path.join(ROOT, 'bin/netnsctl'),
      ['--etcd', endpoint, '--etcd-user', 'root', 'list'],
      { encoding: 'utf8', env: { ...process.env, NETNS_AGENT_ETCD_PASSWORD: '' } },
    );
    assert.equal(netnsctl.status, 2, netnsctl.stderr);
    assert.match(netnsctl.stderr, /--etcd-user \(NETNS_AGENT_ETCD_USER\) needs a password/);
    const daemon = spawnSync(
      path.join(ROOT, 'bin/netns-agent'),
      ['--etcd', endpoint, '--etcd-password-file', passwordFile, '--http', '', '--no-docker'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(daemon.status, 2, daemon.stderr);
    assert.match(daemon.stderr, /without --etcd-user/);
  });
});
