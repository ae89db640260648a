import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { rootCertificates } from 'node:tls';
import { extraCaFile, rootsWithExtra, SAVED_EXTRA_CA_ENV } from '../../src/datastore/etcd/trust.js';

test('etcd trust: the extra authorities are added for https endpoints only', () => {
  const https = ['https://10.0.0.1:2379'];
  assert.equal(extraCaFile(['http://10.0.0.1:2379'], { NODE_EXTRA_CA_CERTS: '/ca.pem' }), undefined);
  assert.equal(extraCaFile(https, {}), undefined);
  assert.equal(extraCaFile(https, { NODE_EXTRA_CA_CERTS: '/ca.pem' }), '/ca.pem');
  // Started by bin/*: node did not get the variable, the file came under the saved name.
  assert.equal(extraCaFile(https, { [SAVED_EXTRA_CA_ENV]: '/ca.pem' }), '/ca.pem');
  assert.equal(extraCaFile(https, { [SAVED_EXTRA_CA_ENV]: '' }), undefined);
});

test("etcd trust: gRPC's roots (or node's) and the extra file; an unreadable file is named", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'etcd-trust-'));
  try {
    const extra = path.join(dir, 'extra.pem');
    const grpcRoots = path.join(dir, 'roots.pem');
    writeFileSync(extra, 'EXTRA');
    writeFileSync(grpcRoots, 'GRPC ROOTS');
    const withNodeRoots = rootsWithExtra(extra, {}).toString();
    assert.ok(withNodeRoots.startsWith(rootCertificates[0]!));
    assert.ok(withNodeRoots.endsWith('\nEXTRA'));
    assert.equal(
      rootsWithExtra(extra, { GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: grpcRoots }).toString(),
      'GRPC ROOTS\nEXTRA',
    );
    assert.throws(
      () => rootsWithExtra(path.join(dir, 'missing.pem'), {}),
      /NODE_EXTRA_CA_CERTS.*missing\.pem/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
