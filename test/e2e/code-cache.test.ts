/**
 * bin/netns-agent runs from its bundle with a V8 code cache (src/cli/run-bundle.ts): a first start
 * has none and writes one when it exits; the next start uses it; a cache made from another source
 * is never used; NETNS_AGENT_CODE_CACHE=off runs without one. Each case has its own cache directory.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { encodeCodeCache, sourceDigest } from '../../src/cli/code-cache.js';
import { skipUnlessRoot } from '../helpers/kernel.js';
import { AgentProcess, tag } from '../helpers/agent.js';

interface About {
  codeCache?: { state: string; file?: string; bytes?: number };
}

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'netns-code-cache-'));
  dirs.push(dir);
  return dir;
}

async function aboutOfRun(cacheSetting: string, store: string): Promise<About> {
  const agent = await AgentProcess.start({
    label: `cc${tag()}`,
    store,
    env: { NETNS_AGENT_CODE_CACHE: cacheSetting },
  });
  try {
    return await agent.json<About>('GET', '/v1/about');
  } finally {
    await agent.stop();
  }
}

describe('the agent code cache', { skip: skipUnlessRoot() }, () => {
  test('a first run writes the cache at exit, the next run uses it', async () => {
    const dir = freshDir();
    const store = path.join(dir, 'store.db');
    const first = await aboutOfRun(dir, store);
    assert.equal(first.codeCache?.state, 'none');
    const file = path.join(dir, 'netns-agent.cjs.cache');
    assert.equal(first.codeCache?.file, file);
    assert.ok(existsSync(file), 'the cache was written when the agent exited');

    const second = await aboutOfRun(dir, store);
    assert.equal(second.codeCache?.state, 'accepted');
    assert.ok((second.codeCache?.bytes ?? 0) > 100_000, JSON.stringify(second.codeCache));
  });

  test('a cache made from another source is not used, and is replaced', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'netns-agent.cjs.cache');
    writeFileSync(file, encodeCodeCache(sourceDigest('another bundle'), Buffer.alloc(4096, 1)));
    const run = await aboutOfRun(dir, path.join(dir, 'store.db'));
    assert.equal(run.codeCache?.state, 'none');
    assert.notEqual(readFileSync(file).length, 40 + 4096, 'rewritten from this bundle');
  });

  test('off: no cache read or written', async () => {
    const dir = freshDir();
    const run = await aboutOfRun('off', path.join(dir, 'store.db'));
    assert.equal(run.codeCache?.state, 'off');
    assert.ok(!existsSync(path.join(dir, 'netns-agent.cjs.cache')));
  });
});
