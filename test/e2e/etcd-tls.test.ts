/**
 * The agent and netnsctl on an etcd that speaks TLS with a certificate from a private authority.
 *
 * - Trusted through NODE_EXTRA_CA_CERTS as node users do. bin/* start node without that variable
 *   (it costs every start ~45 ms) and the etcd client adds the file to its roots
 *   (src/datastore/etcd/trust.ts), also where GRPC_DEFAULT_SSL_ROOTS_FILE_PATH is set: this is the
 *   test that it works, and that without the authority the server is not trusted.
 * - An etcd that asks its clients for a certificate (--client-cert-auth), as fleets' clusters do:
 *   `--etcd-ca`, `--etcd-cert` and `--etcd-key` (src/datastore/etcd/tls.ts).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { skipUnlessRoot } from '../helpers/kernel.js';
import { freePort } from '../helpers/etcd.js';
import { AgentProcess, ROOT, configKey, eventually, tag } from '../helpers/agent.js';

const dir = mkdtempSync(path.join(tmpdir(), 'netns-etcd-tls-'));
const ca = path.join(dir, 'ca.pem');
const etcds: ChildProcess[] = [];

function openssl(...args: string[]): void {
  const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  assert.equal(run.status, 0, `openssl ${args.join(' ')}: ${run.stderr}`);
}

/** A private authority and a server certificate for 127.0.0.1 signed by it. */
function makeCertificates(): void {
  const newKey = '-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'.split(' ');
  openssl(
    'req',
    '-x509',
    ...newKey,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=netns-agent test CA',
  );
  openssl('req', ...newKey, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    ...'x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1'.split(' '),
    ...['-extfile', 'san.ext'],
  );
  openssl('req', ...newKey, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=netns-agent');
  writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl(
    ...'x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 1'.split(' '),
    ...['-extfile', 'client.ext'],
  );
}

/** An etcd on loopback serving TLS with server.pem; its client URL. */
async function startEtcd(name: string, extraArgs: string[] = []): Promise<string> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const endpoint = `https://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  etcds.push(
    spawn(
      'etcd',
      [
        ...['--name', name, '--data-dir', path.join(dir, `data-${name}`)],
        ...['--listen-client-urls', endpoint, '--advertise-client-urls', endpoint],
        ...['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer],
        ...['--initial-cluster', `${name}=${peer}`],
        ...['--cert-file', path.join(dir, 'server.pem'), '--key-file', path.join(dir, 'server.key')],
        ...['--log-level', 'error'],
        ...extraArgs,
      ],
      { stdio: 'ignore' },
    ),
  );
  const withClientCertificate = extraArgs.includes('--client-cert-auth');
  await eventually(
    async () => assert.ok(await healthy(endpoint, withClientCertificate), 'etcd answers over TLS'),
    20_000,
  );
  return endpoint;
}

function healthy(endpoint: string, withClientCertificate: boolean): Promise<boolean> {
  const client = withClientCertificate
    ? { cert: readFileSync(path.join(dir, 'client.pem')), key: readFileSync(path.join(dir, 'client.key')) }
    : {};
  return new Promise((resolve) => {
    const req = request(`${endpoint}/health`, { ca: readFileSync(ca), timeout: 1000, ...client }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(body.includes('"health":"true"')));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

before(() => {
  if (!skipUnlessRoot()) makeCertificates();
});

after(() => {
  for (const etcd of etcds) etcd.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('etcd over TLS, trusted through NODE_EXTRA_CA_CERTS', { skip: skipUnlessRoot() }, () => {
  let endpoint = '';
  before(async () => {
    endpoint = await startEtcd('plain-tls');
  });

  test('the agent follows its configuration; netnsctl writes to it', async () => {
    const label = `tls${tag()}`;
    const agent = await AgentProcess.start({ label, etcd: [endpoint], env: { NODE_EXTRA_CA_CERTS: ca } });
    try {
      assert.equal(await agent.datastoreState(), 'in-sync');
      // Through etcd only.
      await agent.putPendingThroughNetnsctl('tls0', ['--etcd', endpoint], {
        ...process.env,
        NODE_EXTRA_CA_CERTS: ca,
      });
    } finally {
      await agent.stop();
    }
  });

  test('without the authority the agent does not trust the server', () =>
    // The log says why, not only that the member keeps failing.
    AgentProcess.expectRefused(
      {
        label: `tls${tag()}`,
        etcd: [endpoint],
        // Trust only another file (node's own roots, as on a host without the variable).
        env: { NODE_EXTRA_CA_CERTS: '', GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: '' },
      },
      /unable to verify|self.signed|certificate/i,
    ));
});

describe(
  'etcd asking for client certificates: --etcd-ca, --etcd-cert, --etcd-key',
  { skip: skipUnlessRoot() },
  () => {
    let endpoint = '';
    const file = (name: string): string => path.join(dir, name);
    const netnsctl = (args: string[], input?: string): SpawnSyncReturns<string> =>
      spawnSync(path.join(ROOT, 'bin/netnsctl'), args, {
        ...(input === undefined ? {} : { input }),
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
        encoding: 'utf8',
      });

    before(async () => {
      endpoint = await startEtcd('mutual-tls', ['--client-cert-auth', '--trusted-ca-file', ca]);
    });

    test('the agent (options from its environment) and netnsctl (from its command line) show theirs', async () => {
      const label = `mtls${tag()}`;
      const agent = await AgentProcess.start({
        label,
        etcd: [endpoint],
        env: {
          NODE_EXTRA_CA_CERTS: '',
          NETNS_AGENT_ETCD_CA: ca,
          NETNS_AGENT_ETCD_CERT: file('client.pem'),
          NETNS_AGENT_ETCD_KEY: file('client.key'),
        },
      });
      try {
        assert.equal(await agent.datastoreState(), 'in-sync');
        const tls = ['--etcd-ca', ca, '--etcd-cert', file('client.pem'), '--etcd-key', file('client.key')];
        const key = await agent.putPendingThroughNetnsctl('mtls0', ['--etcd', endpoint, ...tls], {
          ...process.env,
          NODE_EXTRA_CA_CERTS: '',
        });
        const get = netnsctl(['--etcd', endpoint, ...tls, '-o', 'json', 'get', key]);
        assert.equal(get.status, 0, get.stderr);
        assert.match(get.stdout, /"mtls0"/);
        // An https://IP endpoint: node's warning about a TLS server name that is an IP address
        // (the gRPC library sets it) is not printed, nor written between the agent's JSON lines.
        assert.doesNotMatch(get.stderr, /DEP0123|ServerName/);
        assert.doesNotMatch(agent.log.join(''), /DEP0123|ServerName/);
      } finally {
        await agent.stop();
      }
    });

    test('without a client certificate the agent is refused, and says why', () =>
      AgentProcess.expectRefused(
        {
          label: `mtls${tag()}`,
          etcd: [endpoint],
          env: { NODE_EXTRA_CA_CERTS: '', NETNS_AGENT_ETCD_CA: ca },
        },
        /certificate|handshake|alert/i,
      ));

    test('options that cannot work exit 2 and name the option (and the file)', () => {
      const key = configKey(`mtls${tag()}`, 'interface', 'x');
      const noKey = netnsctl(['--etcd', endpoint, '--etcd-cert', file('client.pem'), 'get', key]);
      assert.equal(noKey.status, 2, noKey.stderr);
      assert.match(noKey.stderr, /--etcd-cert needs --etcd-key/);
      const missing = netnsctl(['--etcd', endpoint, '--etcd-ca', file('nowhere.pem'), 'get', key]);
      assert.equal(missing.status, 2, missing.stderr);
      assert.match(missing.stderr, /--etcd-ca .*nowhere\.pem: cannot read it/);
      const keyAsCa = netnsctl(['--etcd', endpoint, '--etcd-ca', file('client.key'), 'get', key]);
      assert.equal(keyAsCa.status, 2, keyAsCa.stderr);
      assert.match(keyAsCa.stderr, /no PEM "CERTIFICATE" block/);
      const daemon = spawnSync(
        path.join(ROOT, 'bin/netns-agent'),
        ['--etcd', `http://127.0.0.1:1,${endpoint}`, '--http', '', '--no-docker'],
        { encoding: 'utf8', timeout: 20_000 },
      );
      assert.equal(daemon.status, 2, daemon.stderr);
      assert.match(daemon.stderr, /mix http:\/\/ .* and https:\/\//);
    });
  },
);
