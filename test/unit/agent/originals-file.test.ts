import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { withTempDir } from '../../helpers/temp-dir.js';
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
  set: { up: true, mtu: 1400 },
};

const withDir = (run: (dir: string) => void | Promise<void>): Promise<void> => withTempDir('originals-', run);

/** Writes of one turn are one, made at its end. */
const written = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const book = (file: string, told: string[] = [], bootId = 'boot-1'): FileOriginals =>
  new FileOriginals(file, {
    bootId,
    onError: (message, error) => told.push(error instanceof Error ? `${message}: ${error.message}` : message),
  });

test('book of originals: kept in its file (mode 0600) across instances; no file once empty', () =>
  withDir(async (dir) => {
    const file = FileOriginals.fileFor(path.join(dir, 'state'), 'a');
    const first = book(file);
    assert.deepEqual(first.all(), []);
    assert.equal(existsSync(file), false, 'nothing recorded: no file');
    first.record(entry);
    await written();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    first.noteAddress(entry.namespaceIdentity, entry.ifindex, '10.3.0.1/24', true);
    first.noteAddress(entry.namespaceIdentity, 99, '10.3.0.2/24', true); // not a recorded link
    await written();
    const second = book(file);
    assert.deepEqual(second.get(entry.namespaceIdentity, entry.ifindex), {
      ...entry,
      addresses: ['10.3.0.1/24'],
    });
    assert.equal(second.get(entry.namespaceIdentity, 8), undefined);
    second.noteAddress(entry.namespaceIdentity, entry.ifindex, '10.3.0.1/24', false);
    await written();
    assert.deepEqual(book(file).get(entry.namespaceIdentity, entry.ifindex), entry);
    second.forget(entry.namespaceIdentity, entry.ifindex);
    await written();
    assert.equal(existsSync(file), false);
    assert.deepEqual(readdirSync(path.dirname(file)), [], 'no temporary file left');
  }));

test('book of originals: from another boot, not used; bad entries left out, the others kept', () =>
  withDir(async (dir) => {
    const file = FileOriginals.fileFor(dir, 'a');
    book(file).record(entry);
    await written();
    const told: string[] = [];
    assert.deepEqual(book(file, told, 'boot-2').all(), []);
    assert.match(told.join(), /from another boot/);
    const text = JSON.parse(readFileSync(file, 'utf8')) as { links: unknown[] };
    text.links.push({ key: 'x' });
    writeFileSync(file, JSON.stringify(text), { mode: 0o600 });
    const kept = book(file, told);
    assert.deepEqual(kept.all(), [entry]);
    assert.match(told.at(-1)!, /1 entries that cannot be used were left out/);
  }));

test('book of originals: a file that cannot be used is set aside, told, and the book starts empty', () =>
  withDir(async (dir) => {
    const file = FileOriginals.fileFor(dir, 'a');
    const told: string[] = [];
    for (const text of ['{not json', '{"format":1,"links":[]}']) {
      writeFileSync(file, text, { mode: 0o600 });
      assert.deepEqual(book(file, told).all(), []);
      assert.equal(readFileSync(`${file}.bad`, 'utf8'), text);
      assert.equal(existsSync(file), false);
    }
    assert.equal(told.length, 2);
    assert.match(told[0]!, /cannot be used; set aside as .*\.bad/);
  }));

test('book of originals: one others could have written is not read, nor overwritten', () =>
  withDir(async (dir) => {
    const file = FileOriginals.fileFor(dir, 'a');
    book(file).record(entry);
    await written();
    chmodSync(file, 0o666);
    const told: string[] = [];
    const untrusted = book(file, told);
    assert.deepEqual(untrusted.all(), []);
    assert.match(told.join(), /stays in memory: not owned by uid \d+, or writable by others \(mode 666\)/);
    untrusted.record({ ...entry, ifindex: 8 });
    await written();
    assert.match(readFileSync(file, 'utf8'), /"ifindex": 7/, 'left as it was');
  }));
