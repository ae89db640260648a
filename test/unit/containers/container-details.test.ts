import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { microserviceLabelOf, startedAtNanos } from '../../../src/containers/container-details.js';

describe('microserviceLabelOf', () => {
  const cases: Array<[string[], string | undefined]> = [
    [[], undefined],
    [['PATH=/bin'], undefined],
    [['MICROSERVICE_LABEL=web'], 'web'],
    [['PATH=/bin', 'MICROSERVICE_LABEL=a=b'], 'a=b'],
    [['MICROSERVICE_LABEL='], undefined],
    [['MICROSERVICE_LABEL'], undefined],
    [['MICROSERVICE_LABELX=web'], undefined],
    [['MICROSERVICE_LABEL=old', 'MICROSERVICE_LABEL=new'], 'new'],
  ];
  for (const [env, expected] of cases) {
    test(`${JSON.stringify(env)} -> ${String(expected)}`, () =>
      assert.equal(microserviceLabelOf(env), expected));
  }
});

describe('startedAtNanos', () => {
  test('keeps nanoseconds', () => {
    assert.equal(startedAtNanos('1970-01-01T00:00:01.000000002Z'), 1_000_000_002n);
  });
  test('orders times whose trimmed fractions do not sort as strings', () => {
    // Go trims trailing zeros: .2 is later than .19, though "…30.2Z" < "…30.19Z" is false as text.
    assert.ok(startedAtNanos('2024-01-01T00:00:30.2Z') > startedAtNanos('2024-01-01T00:00:30.19Z'));
    assert.ok(
      startedAtNanos('2024-01-01T00:00:30.000000002Z') > startedAtNanos('2024-01-01T00:00:30.000000001Z'),
    );
    assert.ok(startedAtNanos('2024-01-01T00:00:31Z') > startedAtNanos('2024-01-01T00:00:30.999999999Z'));
  });
  test('honours offsets', () => {
    assert.equal(startedAtNanos('2024-01-01T01:00:00+01:00'), startedAtNanos('2024-01-01T00:00:00Z'));
  });
  test('unparsable is oldest', () => {
    assert.equal(startedAtNanos(''), 0n);
    assert.equal(startedAtNanos('yesterday'), 0n);
  });
});
