/** The last valid values in the state directory (src/agent/last-valid-file.ts). */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { withTempDir } from '../../helpers/temp-dir.js';
import { FileLastValid } from '../../../src/agent/last-valid-file.js';

const withDir = (run: (dir: string) => void | Promise<void>): Promise<void> =>
  withTempDir('last-valid-', run);
const v = (text: string, created = 1) => ({ text, created });

test('written at close (or a while after a change), read back by the next agent, atomically', () =>
  withDir(async (dir) => {
    const file = FileLastValid.fileFor(dir, 'a1');
    const first = new FileLastValid(file);
    first.replaceAll(new Map([['k1', v('{"v":1}')]]));
    first.set('k2', v('{"v":2}', 7));
    first.delete('k1');
    await Promise.all([first.close(), first.close()]); // idempotent, both wait for the write
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
      format: 3,
      seq: 3,
      values: { k2: { text: '{"v":2}', created: 7 } },
    });
    assert.deepEqual(readdirSync(dir), ['a1.last-valid.json'], 'no temporary file, no journal left');

    const second = new FileLastValid(file);
    assert.deepEqual(second.get('k2'), v('{"v":2}', 7));
    assert.equal(second.get('k1'), undefined);
    await second.close();
  }));

test('no values, no file', () =>
  withDir(async (dir) => {
    const file = FileLastValid.fileFor(dir, 'a4');
    const values = new FileLastValid(file);
    values.set('k', v('v'));
    await values.close();
    assert.ok(existsSync(file));
    const again = new FileLastValid(file);
    again.replaceAll(new Map());
    await again.close();
    assert.equal(existsSync(file), false);
  }));

test('a write follows a change after the write delay, without close', () =>
  withDir(async (dir) => {
    const file = FileLastValid.fileFor(dir, 'a2');
    const values = new FileLastValid(file, undefined, 200);
    values.set('k', v('v'));
    assert.equal(existsSync(file), false, 'not at once');
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).values, { k: v('v') });
    await values.close();
  }));

test('a full read replaces what the file held without reading it', () =>
  withDir(async (dir) => {
    const file = FileLastValid.fileFor(dir, 'a3');
    writeFileSync(file, JSON.stringify({ format: 2, values: { old: v('x') } }), { mode: 0o600 });
    const values = new FileLastValid(file);
    values.replaceAll(new Map([['new', v('y')]]));
    assert.equal(values.get('old'), undefined);
    await values.close();
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).values, { new: v('y') });
  }));

test('a file that does not parse is set aside; one others can write is neither used nor overwritten', () =>
  withDir(async (dir) => {
    const errors: string[] = [];
    const bad = FileLastValid.fileFor(dir, 'bad');
    writeFileSync(bad, '{not json', { mode: 0o600 });
    const fromBad = new FileLastValid(bad, (message) => errors.push(message));
    assert.equal(fromBad.get('k'), undefined);
    assert.ok(existsSync(`${bad}.bad`));
    await fromBad.close();

    const open = FileLastValid.fileFor(dir, 'open');
    const theirs = JSON.stringify({ format: 2, values: { k: v('theirs') } });
    writeFileSync(open, theirs);
    chmodSync(open, 0o666);
    const fromOpen = new FileLastValid(open, (message) => errors.push(message));
    assert.equal(fromOpen.get('k'), undefined, 'not believed');
    fromOpen.set('k', v('ours'));
    await fromOpen.close();
    // Nor by a full read, which does not read the file but must not replace it either.
    const replacing = new FileLastValid(open, (message) => errors.push(message));
    replacing.replaceAll(new Map([['k', v('ours')]]));
    await replacing.close();
    assert.equal(readFileSync(open, 'utf8'), theirs, 'not overwritten');
    assert.equal(errors.length, 3, errors.join('\n'));
  }));

test("a crash's temporary files are removed before the first write; others' files are left", () =>
  withDir(async (dir) => {
    const file = FileLastValid.fileFor(dir, 'a9');
    const leftover = `${file}.0123456789ab.tmp`;
    const notOurs = [
      `${file}.tmp`,
      `${file}.0123456789ab.tmp.keep`,
      'other.last-valid.json.0123456789ab.tmp',
    ];
    for (const name of [leftover, ...notOurs.map((n) => (n.startsWith('/') ? n : `${dir}/${n}`))])
      writeFileSync(name, 'half', { mode: 0o600 });
    const values = new FileLastValid(file);
    values.replaceAll(new Map([['k', v('v')]]));
    assert.equal(existsSync(leftover), false);
    await values.close();
    assert.deepEqual(
      readdirSync(dir).sort(),
      [
        'a9.last-valid.json',
        'a9.last-valid.json.0123456789ab.tmp.keep',
        'a9.last-valid.json.tmp',
        'other.last-valid.json.0123456789ab.tmp',
      ].sort(),
    );
  }));

/** A tick for the journal's append (off the event loop's thread) to land. */
const appended = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

test('a change is in the journal at once: an agent killed before the whole file is written still knows it', () =>
  withDir(async (dir) => {
    const file = FileLastValid.fileFor(dir, 'j1');
    const first = new FileLastValid(file, undefined, 60_000);
    first.replaceAll(new Map([['k1', v('a')]]));
    first.set('k2', v('b'));
    first.delete('k1');
    await appended();
    assert.equal(existsSync(file), false, 'the whole file is not written yet');
    // Killed: never closed. The next agent reads the journal.
    const second = new FileLastValid(file, undefined, 60_000);
    assert.deepEqual(second.get('k2'), v('b'));
    assert.equal(second.get('k1'), undefined);
    second.set('k3', v('c'));
    await appended();
    const third = new FileLastValid(file);
    assert.deepEqual([third.get('k2'), third.get('k3')], [v('b'), v('c')]);
    await third.close();
    assert.deepEqual(readdirSync(dir), ['j1.last-valid.json'], 'the journal goes with a whole write');
  }));

test('the journal: changes the file holds already are skipped, a line cut short by a crash is left out', () =>
  withDir(async (dir) => {
    const file = FileLastValid.fileFor(dir, 'j2');
    writeFileSync(file, JSON.stringify({ format: 3, seq: 5, values: { k: v('new') } }), { mode: 0o600 });
    const lines = [
      { s: 4, k: 'k', v: v('old') },
      { s: 6, k: 'k2', v: v('x') },
      { s: 7, k: 'gone' },
    ];
    writeFileSync(
      file.replace(/json$/, 'journal'),
      `${lines.map((l) => JSON.stringify(l)).join('\n')}\n{"s":8,"k":"k","v":{"te`,
      { mode: 0o600 },
    );
    const values = new FileLastValid(file, undefined, 60_000);
    assert.deepEqual([values.get('k'), values.get('k2')], [v('new'), v('x')]);
    // The next change starts on a line of its own, not glued to the one cut short.
    values.set('k3', v('y'));
    await appended();
    const next = new FileLastValid(file);
    assert.deepEqual(next.get('k3'), v('y'));
    await next.close();
    await values.close();
  }));

test('a start that never reads the file numbers its changes after the ones the file holds', () =>
  withDir(async (dir) => {
    const file = FileLastValid.fileFor(dir, 'j3');
    writeFileSync(file, JSON.stringify({ format: 3, seq: 10, values: { k: v('a') } }), { mode: 0o600 });
    const first = new FileLastValid(file, undefined, 60_000);
    first.replaceAll(new Map([['k', v('b')]])); // the start's full read: the file is not parsed
    first.set('k', v('c'));
    await appended();
    const second = new FileLastValid(file);
    assert.deepEqual(second.get('k'), v('c'), 'not skipped as older than the file');
    await second.close();
  }));

test('changes after a whole write are kept in the journal, cut to them', () =>
  withDir(async (dir) => {
    const file = FileLastValid.fileFor(dir, 'j4');
    const values = new FileLastValid(file, undefined, 100);
    values.replaceAll(new Map([['k', v('a')]]));
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.ok(existsSync(file));
    assert.equal(existsSync(file.replace(/json$/, 'journal')), false, 'cut: the file holds everything');
    values.set('k', v('b'));
    await appended();
    const killed = new FileLastValid(file);
    assert.deepEqual(killed.get('k'), v('b'));
    await values.close();
  }));

test('a state directory that does not exist yet: the first change is in the journal all the same', () =>
  withDir(async (dir) => {
    const file = FileLastValid.fileFor(`${dir}/not/yet`, 'j5');
    const errors: string[] = [];
    const first = new FileLastValid(file, (message) => errors.push(message), 60_000);
    first.set('k', v('a'));
    await appended();
    assert.deepEqual(errors, []);
    // Killed: never closed. The next agent reads the journal.
    const second = new FileLastValid(file, undefined, 60_000);
    assert.deepEqual(second.get('k'), v('a'));
    await second.close();
  }));
