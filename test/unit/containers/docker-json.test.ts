import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseContainerEvent, parseContainerInspect } from '../../../src/containers/docker-json.js';
import { DockerProtocolError } from '../../../src/containers/errors.js';

describe('parseContainerEvent', () => {
  test('reads a current event', () => {
    const event = {
      status: 'start',
      id: 'abc',
      Type: 'container',
      Action: 'start',
      Actor: { ID: 'abc', Attributes: { name: 'web' } },
      time: 1,
      timeNano: 1,
    };
    assert.deepEqual(parseContainerEvent(event), { action: 'start', id: 'abc' });
  });
  test('reads an old-style event (status and id only)', () => {
    assert.deepEqual(parseContainerEvent({ status: 'die', id: 'abc' }), { action: 'die', id: 'abc' });
  });
  test('ignores other types and junk', () => {
    assert.equal(parseContainerEvent({ Type: 'network', Action: 'connect', Actor: { ID: 'n' } }), undefined);
    assert.equal(parseContainerEvent({ Type: 'container' }), undefined);
    assert.equal(parseContainerEvent(null), undefined);
    assert.equal(parseContainerEvent([1]), undefined);
  });
});

describe('parseContainerInspect', () => {
  test('reads the fields the watcher needs', () => {
    const details = parseContainerInspect({
      Id: 'abc',
      Name: '/web-1',
      State: { Running: true, Pid: 42, StartedAt: '2024-01-01T00:00:00.5Z' },
      Config: { Env: ['MICROSERVICE_LABEL=web', 7] },
    });
    assert.deepEqual(details, {
      id: 'abc',
      name: 'web-1',
      running: true,
      pid: 42,
      startedAt: '2024-01-01T00:00:00.5Z',
      env: ['MICROSERVICE_LABEL=web'],
    });
  });
  test('tolerates a null Env and missing State', () => {
    const details = parseContainerInspect({ Id: 'abc', Config: { Env: null } });
    assert.deepEqual(details, { id: 'abc', name: '', running: false, pid: 0, startedAt: '', env: [] });
  });
  test('rejects a document without Id', () => {
    assert.throws(() => parseContainerInspect({ Name: '/x' }), DockerProtocolError);
    assert.throws(() => parseContainerInspect('x'), DockerProtocolError);
  });
});
