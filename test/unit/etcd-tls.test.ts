import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { etcdTlsFromOptions, etcdTlsProblems } from '../../src/datastore/etcd/tls-options.js';
import { etcdAuthFromOptions, etcdAuthProblems } from '../../src/datastore/etcd/auth-options.js';
import { etcdCredentials } from '../../src/datastore/etcd/tls.js';
import { createEtcdClient } from '../../src/datastore/etcd/client.js';

const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n';

test('etcd TLS options: a certificate needs its key and the other way round', () => {
  const endpoints = ['https://10.0.0.1:2379'];
  assert.deepEqual(etcdTlsProblems(endpoints, {}), []);
  assert.deepEqual(etcdTlsProblems(endpoints, { certFile: 'c', keyFile: 'k', caFile: 'a' }), []);
  assert.match(etcdTlsProblems(endpoints, { certFile: 'c' }).join(), /--etcd-cert needs --etcd-key/);
  assert.match(etcdTlsProblems(endpoints, { keyFile: 'k' }).join(), /--etcd-key needs --etcd-cert/);
});

test('etcd TLS options: http and https members together, or TLS options for http members, are refused', () => {
  const mixed = etcdTlsProblems(['http://10.0.0.1:2379', 'https://10.0.0.2:2379']);
  assert.match(mixed.join(), /mix http:\/\/ \(http:\/\/10\.0\.0\.1:2379\) and https:\/\//);
  const plain = etcdTlsProblems(['http://10.0.0.1:2379'], { caFile: 'ca.pem' });
  assert.match(plain.join(), /--etcd-ca is for TLS, but http:\/\/10\.0\.0\.1:2379 is plain/);
  // No scheme: TLS when an option asks for it.
  assert.deepEqual(etcdTlsProblems(['10.0.0.1:2379'], { caFile: 'ca.pem' }), []);
  assert.deepEqual(etcdTlsFromOptions({ etcdCa: 'a', etcdCert: '', etcdKey: undefined }), { caFile: 'a' });
});

test('etcd endpoints of another scheme than http or https are refused (the client would try them for ever)', () => {
  assert.match(
    etcdTlsProblems(['ftp://x:2379', 'http://10.0.0.1:2379']).join(),
    /etcd endpoints ftp:\/\/x:2379: expected http:\/\/HOST:PORT, https:\/\/HOST:PORT or HOST:PORT/,
  );
  assert.deepEqual(etcdTlsProblems(['127.0.0.1:2379', 'localhost:2379']), []);
  assert.deepEqual(etcdTlsProblems(['HTTP://a:1'].map((e) => e.toLowerCase())), []);
});

test('etcd credentials: only the given authorities, and the client certificate with its key', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'etcd-tls-'));
  try {
    const file = (name: string, text: string): string => {
      writeFileSync(path.join(dir, name), text);
      return path.join(dir, name);
    };
    const [ca, cert, key, notPem] = [
      file('ca.pem', CERT),
      file('c.pem', CERT),
      file('k.pem', KEY),
      file('x', 'x'),
    ];
    // Plain members, no options: no credentials (the client speaks plain gRPC).
    assert.equal(etcdCredentials(['http://10.0.0.1:2379'], {}, {}), undefined);
    assert.equal(etcdCredentials(['https://10.0.0.1:2379'], {}, {}), undefined);
    const mutual = etcdCredentials(['10.0.0.1:2379'], { caFile: ca, certFile: cert, keyFile: key }, {});
    assert.equal(mutual?.rootCertificate.toString(), CERT);
    assert.equal(mutual?.certChain?.toString(), CERT);
    assert.equal(mutual?.privateKey?.toString(), KEY);
    // A client certificate without --etcd-ca: the usual roots and the extra file.
    const usual = etcdCredentials(
      ['10.0.0.1:2379'],
      { certFile: cert, keyFile: key },
      {
        GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: ca,
        NODE_EXTRA_CA_CERTS: file('extra.pem', 'EXTRA'),
      },
    );
    assert.equal(usual?.rootCertificate.toString(), `${CERT}\nEXTRA`);
    // Each mistake names its option and file.
    assert.throws(
      () => etcdCredentials(['10.0.0.1:2379'], { caFile: path.join(dir, 'missing.pem') }, {}),
      /--etcd-ca .*missing\.pem: cannot read it/,
    );
    assert.throws(
      () => etcdCredentials(['10.0.0.1:2379'], { certFile: cert, keyFile: notPem }, {}),
      /--etcd-key .*\/x: no PEM "PRIVATE KEY" block/,
    );
    const encrypted = file(
      'enc.pem',
      '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n',
    );
    assert.throws(
      () => etcdCredentials(['10.0.0.1:2379'], { certFile: cert, keyFile: encrypted }, {}),
      (error: Error & { code?: string; field?: string }) =>
        /--etcd-key .*enc\.pem: the key is encrypted/.test(error.message) &&
        error.code === 'ERR_ETCD_SETTING' &&
        error.field === '--etcd-key',
    );
    assert.throws(() => etcdCredentials(['10.0.0.1:2379'], { certFile: cert }, {}), /--etcd-cert needs/);
    // The client is not made when they are wrong.
    assert.throws(
      () => createEtcdClient({ endpoints: ['http://a:2379', 'https://b:2379'] }),
      /mix http:\/\//,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('etcd user options: a user needs exactly one password source; a password needs a user', () => {
  assert.equal(etcdAuthFromOptions({}), undefined);
  const user = etcdAuthFromOptions({ etcdUser: 'root', password: 'pw' });
  assert.deepEqual(user, { username: 'root', password: 'pw' });
  assert.deepEqual(etcdAuthProblems(user, true), []);
  assert.deepEqual(
    etcdAuthProblems(etcdAuthFromOptions({ etcdUser: 'root', etcdPasswordFile: 'f' }), true),
    [],
  );
  assert.match(etcdAuthProblems(etcdAuthFromOptions({ etcdUser: 'root' }), false).join(), /needs a password/);
  assert.match(
    etcdAuthProblems(
      etcdAuthFromOptions({ etcdUser: 'root', password: 'pw', etcdPasswordFile: 'f' }),
      true,
    ).join(),
    /give one of them/,
  );
  assert.match(etcdAuthProblems(undefined, true).join(), /without --etcd-user/);
  assert.deepEqual(etcdAuthProblems(undefined, false), []);
});
