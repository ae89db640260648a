import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MicroserviceTable, type TableChange } from '../../../src/containers/microservice-table.js';
import type { ContainerDetails } from '../../../src/containers/docker-api.js';

function container(id: string, label: string | undefined, pid: number, second: number): ContainerDetails {
  return {
    id,
    name: `n-${id}`,
    running: pid > 0,
    pid,
    startedAt: `2024-01-01T00:00:${String(second).padStart(2, '0')}Z`,
    env: label === undefined ? [] : [`MICROSERVICE_LABEL=${label}`],
  };
}

function kinds(changes: TableChange[]): string[] {
  return changes.map((c) => {
    switch (c.kind) {
      case 'up':
        return `up ${c.microservice.label} ${c.microservice.containerId}/${c.microservice.pid}`;
      case 'down':
        return `down ${c.label}`;
      case 'duplicate':
        return `duplicate ${c.label} ${c.winner.containerId}`;
    }
  });
}

describe('MicroserviceTable', () => {
  test('up, unchanged re-read, new pid, down', () => {
    const table = new MicroserviceTable();
    assert.deepEqual(kinds(table.update(container('a', 'web', 10, 1))), ['up web a/10']);
    assert.deepEqual(kinds(table.update(container('a', 'web', 10, 1))), []);
    assert.equal(table.get('web')?.pid, 10);
    assert.equal(table.labelOf('a'), 'web');
    const restarted = table.update(container('a', 'web', 11, 2));
    assert.deepEqual(kinds(restarted), ['up web a/11']);
    assert.equal(restarted[0]?.kind === 'up' ? restarted[0].previous?.pid : undefined, 10);
    assert.deepEqual(kinds(table.update(container('a', 'web', 0, 2))), ['down web']);
    assert.equal(table.get('web'), undefined);
    assert.equal(table.labelOf('a'), undefined);
    assert.deepEqual(kinds(table.remove('a')), []);
  });

  test('containers without a label are not tracked', () => {
    const table = new MicroserviceTable();
    assert.deepEqual(table.update(container('a', undefined, 10, 1)), []);
    assert.deepEqual(table.containerIds(), []);
  });

  test('newest wins with a warning; the next newest takes over when it stops', () => {
    const table = new MicroserviceTable();
    table.update(container('old', 'web', 10, 1));
    assert.deepEqual(kinds(table.update(container('new', 'web', 20, 5))), [
      'up web new/20',
      'duplicate web new',
    ]);
    // An older duplicate appearing later does not take over, but is still reported.
    assert.deepEqual(kinds(table.update(container('older', 'web', 5, 0))), ['duplicate web new']);
    assert.deepEqual(kinds(table.remove('new')), ['up web old/10']);
    assert.deepEqual(kinds(table.remove('old')), ['up web older/5']);
    assert.deepEqual(kinds(table.remove('older')), ['down web']);
  });

  test('equal start times: the greater id wins, whatever the order seen', () => {
    const one = new MicroserviceTable();
    one.update(container('a', 'web', 1, 1));
    one.update(container('b', 'web', 2, 1));
    const two = new MicroserviceTable();
    two.update(container('b', 'web', 2, 1));
    two.update(container('a', 'web', 1, 1));
    assert.equal(one.get('web')?.containerId, 'b');
    assert.equal(two.get('web')?.containerId, 'b');
  });

  test('a container whose label changed moves between labels', () => {
    const table = new MicroserviceTable();
    table.update(container('a', 'web', 10, 1));
    assert.deepEqual(kinds(table.update(container('a', 'db', 10, 1))), ['down web', 'up db a/10']);
  });

  test('the result depends only on the final states, not on the order of updates', () => {
    const ids = ['a', 'b', 'c', 'd'];
    const labels = ['x', 'y'];
    const op = fc.record({
      id: fc.constantFrom(...ids),
      label: fc.constantFrom(...labels),
      pid: fc.integer({ min: 0, max: 3 }),
      second: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const table = new MicroserviceTable();
        const final = new Map<string, ContainerDetails>();
        // Replaying the emitted changes must give the table's own view at every step.
        const seen = new Map<string, string>();
        for (const o of ops) {
          const details = container(o.id, o.label, o.pid, o.second);
          final.set(o.id, details);
          for (const change of table.update(details)) {
            if (change.kind === 'up')
              seen.set(
                change.microservice.label,
                `${change.microservice.containerId}/${change.microservice.pid}`,
              );
            if (change.kind === 'down') seen.delete(change.label);
          }
        }
        const fresh = new MicroserviceTable();
        for (const details of [...final.values()].reverse()) fresh.update(details);
        for (const label of labels) {
          const mine = table.get(label);
          assert.deepEqual(mine, fresh.get(label));
          assert.equal(seen.get(label), mine === undefined ? undefined : `${mine.containerId}/${mine.pid}`);
        }
      }),
    );
  });
});
