import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planInRounds } from '../../../src/agent/plan-rounds.js';

test('planInRounds: the event loop turns before each round', async () => {
  let turns = 0;
  let stop = false;
  const tick = (): void => {
    turns++;
    if (!stop) setImmediate(tick);
  };
  setImmediate(tick);
  const turnsAt: number[] = [];
  const last = await planInRounds(
    6,
    () => turnsAt.push(turns),
    (round) => round < 3,
  );
  stop = true;
  assert.equal(last, 3);
  assert.equal(turnsAt.length, 3);
  assert.ok(
    turnsAt[0]! > 0 && turnsAt[1]! > turnsAt[0]! && turnsAt[2]! > turnsAt[1]!,
    `turns at each round: ${turnsAt.join(', ')}`,
  );
});

test('planInRounds: stops when nothing more is assumed, or after the last round', async () => {
  let rounds = 0;
  assert.equal(
    await planInRounds(
      6,
      () => ++rounds,
      () => false,
    ),
    1,
  );
  rounds = 0;
  assert.equal(
    await planInRounds(
      4,
      () => ++rounds,
      () => true,
    ),
    4,
  );
  assert.equal(rounds, 4);
});
