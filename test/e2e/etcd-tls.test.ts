/**
 * The agent and netnsctl on an etcd that speaks TLS with a certificate from a private authority,
 * trusted through NODE_EXTRA_CA_CERTS as node users do. bin/* start node without that variable
 * (it costs every start ~45 ms) and the etcd client adds the file to its roots
 * (src/datastore/etcd/trust.ts), also where GRPC_DEFAULT_SSL_ROOTS_FILE_PATH is set: this is the
 * test that it works, and that without the authority the server is not trusted.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
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
let etcd: ChildProcess | undefined;
let endpoint = '';

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
}

function healthy(): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${endpoint}/health`, { ca: readFileSync(ca), timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(body.includes('"health":"true"')));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function datastoreState(agent: AgentProcess): Promise<string | undefined> {
  const about = await agent.json<{ datastore?: { state?: string } }>('GET', '/v1/about');
  return about.datastore?.state;
}

describe('etcd over TLS, trusted through NODE_EXTRA_CA_CERTS', { skip: skipUnlessRoot() }, () => {
  before(async () => {
    makeCertificates();
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    endpoint = `https://127.0.0.1:${clientPort}`;
    etcd = spawn(
      'etcd',
      [
        '--data-dir',
        path.join(dir, 'data'),
        '--listen-client-urls',
        endpoint,
        '--advertise-client-urls',
        endpoint,
        '--listen-peer-urls',
        `http://127.0.0.1:${peerPort}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${peerPort}`,
        '--initial-cluster',
        `default=http://127.0.0.1:${peerPort}`,
        '--cert-file',
        path.join(dir, 'server.pem'),
        '--key-file',
        path.join(dir, 'server.key'),
        '--log-level',
        'error',
      ],
      { stdio: 'ignore' },
    );
    await eventually(async () => assert.ok(await healthy(), 'etcd answers over TLS'), 20_000);
  });

  after(() => {
    etcd?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('the agent follows its configuration; netnsctl writes to it', async () => {
    const label = `tls${tag()}`;
    const agent = await AgentProcess.start({ label, etcd: [endpoint], env: { NODE_EXTRA_CA_CERTS: ca } });
    try {
      assert.equal(await datastoreState(agent), 'in-sync');
      // Through etcd only. A microservice namespace: the agent (without Docker) keeps the item
      // pending, and the kernel is not touched.
      const key = configKey(label, 'interface', 'tls0');
      const value = {
        name: 'tls0',
        type: 'DUMMY',
        namespace: { type: 'MICROSERVICE_REF_NS', microservice: 'none' },
      };
      const put = spawnSync(path.join(ROOT, 'bin/netnsctl'), ['--etcd', endpoint, 'put', key, '-'], {
        input: JSON.stringify(value),
        env: { ...process.env, NODE_EXTRA_CA_CERTS: ca },
        encoding: 'utf8',
      });
      assert.equal(put.status, 0, put.stderr);
      await eventually(async () => assert.equal((await agent.stateOf(key))?.state, 'pending'));
    } finally {
      await agent.stop();
    }
  });

  test('without the authority the agent does not trust the server', async () => {
    const agent = await AgentProcess.start({
      label: `tls${tag()}`,
      etcd: [endpoint],
      ready: 'listening',
      // Trust only another file (node's own roots, as on a host without the variable).
      env: { NODE_EXTRA_CA_CERTS: '', GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: '' },
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.notEqual(await datastoreState(agent), 'in-sync');
      // The log says why, not only that the member keeps failing.
      assert.match(agent.logText(), /unable to verify|self.signed|certificate/i);
    } finally {
      await agent.stop();
    }
  });
});
