import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { FileOriginals } from '../../../src/agent/originals-file.js';
import type { RecordedOriginal } from '../../../src/descriptors/originals.js';

const entry: RecordedOriginal = {
  key: '/vnf-agent/a/linux/config/v1/interface/ex',
  type: 'EXISTING',
  namespaceId: 'named/ns1',
  namespaceIdentity: '4:4026532290',
  ifindex: 7,
  hostIfName: 'ex0',
  original: { mtu: 1600, up: false, name: 'ex0', mac: '02:00:00:00:00:01' },
};

function withDir(run: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'originals-'));
  try {
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('book of originals: kept in its file (mode 0600) across instances; no file once empty', () =>
  withDir((dir) => {
    const file = FileOriginals.fileFor(path.join(dir, 'state'), 'a');
    const first = new FileOriginals(file);
    assert.deepEqual(first.all(), []);
    assert.equal(existsSync(file), false, 'nothing recorded: no file');
    first.record(entry);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    first.noteAddress(entry.namespaceIdentity, entry.ifindex, '10.3.0.1/24', true);
    first.noteAddress(entry.namespaceIdentity, 99, '10.3.0.2/24', true); // not a recorded link
    const second = new FileOriginals(file);
    assert.deepEqual(second.get(entry.namespaceIdentity, entry.ifindex), {
      ...entry,
      addresses: ['10.3.0.1/24'],
    });
    // Recorded again (configured again after a restart): the addresses we added stay ours.
    second.record(entry);
    assert.deepEqual(second.get(entry.namespaceIdentity, entry.ifindex)?.addresses, ['10.3.0.1/24']);
    second.noteAddress(entry.namespaceIdentity, entry.ifindex, '10.3.0.1/24', false);
    assert.deepEqual(new FileOriginals(file).get(entry.namespaceIdentity, entry.ifindex), entry);
    assert.equal(second.get(entry.namespaceIdentity, 8), undefined);
    second.forget(entry.namespaceIdentity, entry.ifindex);
    assert.equal(existsSync(file), false);
  }));

test('book of originals: a file that cannot be used is set aside, told, and the book starts empty', () =>
  withDir((dir) => {
    const file = FileOriginals.fileFor(dir, 'a');
    const told: string[] = [];
    for (const text of ['{not json', '{"format":1,"links":[{"key":"x"}]}', '{"format":2,"links":[]}']) {
      writeFileSync(file, text);
      const book = new FileOriginals(file, { onError: (message) => told.push(message) });
      assert.deepEqual(book.all(), []);
      assert.equal(readFileSync(`${file}.bad`, 'utf8'), text);
      assert.equal(existsSync(file), false);
    }
    assert.equal(told.length, 3);
    assert.match(told[0]!, /cannot be used; set aside as .*\.bad/);
  }));
