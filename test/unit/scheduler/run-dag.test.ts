import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDag } from '../../../src/scheduler/run-dag.js';

const N = 100_000;

test('tasks that finish before run() returns: a long run of them does not overflow the stack', async () => {
  const chain = Array.from({ length: N }, (_, i) => (i > 0 ? [i - 1] : []));
  const order: number[] = [];
  await runDag(chain, (i, done) => (order.push(i), done()), { limit: 64, sliceMs: 1e9 });
  assert.equal(order.length, N);
  assert.ok(order.every((task, position) => task === position));

  const independent = Array.from({ length: N }, (): number[] => []);
  let ran = 0;
  await runDag(independent, (_i, done) => (ran++, done()), { limit: 64, sliceMs: 1e9 });
  assert.equal(ran, N);
});

test('tasks that finish before run() returns: the slice still ends, the event loop turns', async () => {
  // sliceMs 0: every task after the first of a turn waits for the next turn. Before, each task
  // started the next from inside its done(), always as the first of its (nested) slice.
  let turns = 0;
  let stop = false;
  const tick = (): void => {
    turns++;
    if (!stop) setImmediate(tick);
  };
  setImmediate(tick);
  const turnsAt: number[] = [];
  const tasks = Array.from({ length: 200 }, (): number[] => []);
  await runDag(tasks, (_i, done) => (turnsAt.push(turns), done()), { limit: 8, sliceMs: 0 });
  stop = true;
  assert.equal(turnsAt.length, 200);
  assert.ok(turnsAt.at(-1)! >= 100, `the loop turned ${turnsAt.at(-1)} times during 200 tasks`);
});
