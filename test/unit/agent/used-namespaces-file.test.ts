/** The namespaces the agent made something in, across restarts (src/agent/used-namespaces-file.ts). */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { withTempDir } from '../../helpers/temp-dir.js';
import { FileUsedNamespaces } from '../../../src/agent/used-namespaces-file.js';

test('written when the set changes, read back by the next agent, removed when empty; a bad file is set aside', () =>
  withTempDir('used-ns-', async (dir) => {
    const file = FileUsedNamespaces.fileFor(dir, 'a1');
    const first = new FileUsedNamespaces(file);
    first.set(['named/b', 'microservice/web', 'named/b']);
    await first.close();
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
      format: 1,
      namespaces: ['microservice/web', 'named/b'],
    });
    const second = new FileUsedNamespaces(file);
    assert.deepEqual(second.ids(), ['microservice/web', 'named/b']);
    second.set([]);
    await second.close();
    assert.equal(existsSync(file), false);

    writeFileSync(file, '[1,2', { mode: 0o600 });
    const errors: string[] = [];
    assert.deepEqual(new FileUsedNamespaces(file, (m) => errors.push(m)).ids(), []);
    assert.equal(errors.length, 1);
    assert.ok(existsSync(`${file}.bad`));
  }));

test("the start time of a pid reference's process is kept with its id, and goes with it", () =>
  withTempDir('used-ns-', async (dir) => {
    const file = FileUsedNamespaces.fileFor(dir, 'a2');
    const first = new FileUsedNamespaces(file);
    first.set(['pid/77', 'named/b']);
    first.noteProcessStart('pid/77', 123456);
    first.noteProcessStart('pid/78', 1); // not written down: nothing to remember it for
    await first.close();
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
      format: 1,
      namespaces: ['named/b', 'pid/77'],
      processStarts: { 'pid/77': 123456 },
    });
    const second = new FileUsedNamespaces(file);
    assert.equal(second.processStart('pid/77'), 123456);
    second.set(['named/b']);
    assert.equal(second.processStart('pid/77'), undefined);
    await second.close();
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { format: 1, namespaces: ['named/b'] });
  }));

test('recorded() resolves once the ids set so far are in the file, without closing it', () =>
  withTempDir('used-ns-', async (dir) => {
    const file = FileUsedNamespaces.fileFor(dir, 'a3');
    const book = new FileUsedNamespaces(file);
    book.set(['named/x']);
    book.set(['named/x', 'named/y']);
    await book.recorded();
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
      format: 1,
      namespaces: ['named/x', 'named/y'],
    });
    book.set(['named/y']);
    await book.recorded();
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { format: 1, namespaces: ['named/y'] });
    await book.close();
  }));
