import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SqliteStore } from '../../../src/datastore/index.js';
import { collector } from './collect.js';

const root = mkdtempSync(join(tmpdir(), 'netns-agent-sqlite-crash-'));
after(() => rmSync(root, { recursive: true, force: true }));
const storeModule = new URL('../../../src/datastore/index.js', import.meta.url).href;

/**
 * A child that writes batches of 100 keys (batch i: /crash/<i>/<j> = i) as fast as it can, printing
 * each batch number once committed, until it is killed.
 */
function startWriter(file: string) {
  const script = `import { SqliteStore } from ${JSON.stringify(storeModule)};
const store = new SqliteStore({ file: ${JSON.stringify(file)} });
for (let i = 1; ; i++) {
  await store.putMany(Array.from({ length: 100 }, (_, j) => ({ key: '/crash/' + i + '/' + j, value: String(i) })));
  process.stdout.write(i + '\\n');
}`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let lastCommitted = 0;
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n'))
      if (line !== '') lastCommitted = Math.max(lastCommitted, Number(line));
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    proc.on('exit', (_code, signal) => resolve(signal)),
  );
  return { proc, exited, lastCommitted: () => lastCommitted };
}

describe('SqliteStore crash safety', () => {
  test('a writer killed mid-write leaves whole transactions only, and a consistent log', async () => {
    const file = join(root, 'crash.db');
    const writer = startWriter(file);
    try {
      const deadline = Date.now() + 10_000;
      while (writer.lastCommitted() < 20 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      assert.ok(writer.lastCommitted() >= 20, 'the writer made progress');
    } finally {
      writer.proc.kill('SIGKILL');
    }
    assert.equal(await writer.exited, 'SIGKILL');
    const acknowledged = writer.lastCommitted();

    const raw = new Database(file);
    try {
      assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
      const revision = (
        raw.prepare("SELECT value FROM meta WHERE name = 'revision'").get() as { value: number }
      ).value;
      assert.ok(revision >= acknowledged, `revision ${revision} covers acknowledged batch ${acknowledged}`);
      const groups = raw
        .prepare(
          'SELECT value, count(*) AS n, min(mod_revision) AS lo, max(mod_revision) AS hi FROM kv GROUP BY value',
        )
        .all() as { value: string; n: number; lo: number; hi: number }[];
      assert.equal(groups.length, revision, 'one batch per revision');
      for (const group of groups) {
        assert.equal(group.n, 100, `batch ${group.value} is whole`);
        assert.equal(group.lo, Number(group.value));
        assert.equal(group.hi, Number(group.value));
      }
      const logTop = (raw.prepare('SELECT max(revision) AS top FROM changes').get() as { top: number }).top;
      assert.equal(logTop, revision);
    } finally {
      raw.close();
    }

    // The store opens normally afterwards, and a watcher from revision 1 replays in order.
    const store = new SqliteStore({ file });
    try {
      const events = collector();
      const watcher = store.watch('/crash/1/', { fromRevision: 1, onEvent: events.onEvent });
      await events.until(() => events.changes().length === 100);
      const before = await store.revision();
      assert.equal(await store.put('/crash/after', 'x'), before + 1);
      await watcher.close();
    } finally {
      await store.close();
    }
  });
});
