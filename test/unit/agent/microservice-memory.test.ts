/** Where microservices ran, remembered across restarts (src/agent/microservice-memory.ts). */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { withTempDir } from '../../helpers/temp-dir.js';
import { MicroserviceMemory } from '../../../src/agent/microservice-memory.js';
import { processStartTime } from '../../../src/util/process-start.js';

const withDir = (run: (dir: string) => void | Promise<void>): Promise<void> => withTempDir('ms-memory-', run);

test('a process that still runs where it ran is found again by the next agent; one that changed is not', () =>
  withDir(async (dir) => {
    const file = MicroserviceMemory.fileFor(dir, 'a1');
    const first = new MicroserviceMemory(file);
    first.record([{ label: 'web', pid: process.pid, containerId: 'c1' }]);
    await first.close();
    const saved = JSON.parse(readFileSync(file, 'utf8')) as {
      microservices: Record<string, { pid: number; started: number }>;
    };
    assert.equal(saved.microservices['web']?.pid, process.pid);
    assert.equal(saved.microservices['web']?.started, processStartTime(process.pid));

    assert.equal(new MicroserviceMemory(file).pidOf('web'), process.pid);
    assert.equal(new MicroserviceMemory(file).pidOf('db'), undefined);

    // The same pid, another process (its start time differs): not the container's.
    saved.microservices['web']!.started += 1;
    writeFileSync(file, JSON.stringify(saved), { mode: 0o600 });
    const changed = new MicroserviceMemory(file);
    assert.equal(changed.pidOf('web'), undefined);
  }));

test('no microservices, no file; a file that does not parse is set aside', () =>
  withDir(async (dir) => {
    const file = MicroserviceMemory.fileFor(dir, 'a2');
    const memory = new MicroserviceMemory(file);
    memory.record([{ label: 'web', pid: process.pid, containerId: 'c1' }]);
    memory.record([]);
    await memory.close();
    assert.equal(existsSync(file), false);

    writeFileSync(file, '{not json', { mode: 0o600 });
    const errors: string[] = [];
    const bad = new MicroserviceMemory(file, (message) => errors.push(message));
    assert.equal(bad.pidOf('web'), undefined);
    assert.equal(errors.length, 1);
    assert.deepEqual(readdirSync(dir), ['a2.microservices.json.bad']);
  }));
