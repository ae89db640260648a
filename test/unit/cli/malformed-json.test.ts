/**
 * A value or a file that is not JSON: `put` and `apply -f` (also `plan -f`, `del -f`) exit 5, as
 * for invalid values, and both say the line and column (JSON.parse gives neither for an input that
 * ends too soon, nor for an unexpected token). src/util/json-error-position.ts, run in this process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configValueErrors } from '../../../src/model/index.js';
import { jsonErrorOffset, jsonErrorPlace } from '../../../src/util/json-error-position.js';
import { runNetnsctl } from './run-netnsctl.js';

describe('malformed JSON', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'wtc-json-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('put and apply -f of the same text: exit 5 with the line and column, both', async () => {
    const base = ['--store', path.join(dir, 'store.db'), '--label', 'wtc1'];
    for (const [text, place] of [
      ['{"a":\n', 'line 1, column 6'],
      ['{"name": "wtcd1",\n  "type": DUMMY}\n', 'line 2, column 11'],
    ] as const) {
      const file = path.join(dir, 'x.json');
      writeFileSync(file, text);
      const put = await runNetnsctl([...base, 'put', 'interface/wtcd1', file]);
      assert.equal(put.error?.exitCode, 5, put.error?.message);
      assert.ok(put.error?.message.includes(`(${place})`), put.error?.message);
      for (const command of ['apply', 'plan', 'del']) {
        const run = await runNetnsctl([...base, command, '-f', file]);
        assert.equal(run.error?.exitCode, 5, `${command}: ${run.error?.message}`);
        assert.ok(run.error?.message.includes(`(${place})`), `${command}: ${run.error?.message}`);
      }
    }
  });

  test('the place: where JSON.parse stops, or just after the last character when the text ends too soon', () => {
    assert.equal(jsonErrorOffset('{"a": [1, 2, {"b": null}], "c": "\\u00e9", "d": -1.5e+3}'), undefined);
    assert.equal(jsonErrorOffset('{"a": tru}'), 9);
    assert.equal(jsonErrorOffset('[1, 2,]'), 6);
    assert.equal(jsonErrorOffset('{"a": 1} x'), 9);
    assert.equal(jsonErrorOffset('"tab\there"'), 4);
    assert.equal(jsonErrorPlace('[\n  1,\n  2\n'), 'line 3, column 4');
    // A part of a text (documents separated by ---): its place in the whole text.
    const whole = '{"a": 1}\n---\n{"b":\n  oops}\n';
    assert.equal(jsonErrorPlace(whole, 13), 'line 4, column 3');
    // The agent's check of a value (API, etcd, store file) says it too.
    const [error] = configValueErrors('/vnf-agent/wtc1/linux/config/v1/interface/wtcd1', '{"a":');
    assert.match(error?.message ?? '', /^malformed JSON: .*\(line 1, column 6\)$/);
    // Where JSON.parse names a position, the line and column are that position's (they disagreed
    // at the end of a text: "position 13 (line 1, column 13)").
    for (const [text, place] of [
      ['{"type":101, ', 'at position 13 (line 1, column 14)'],
      ['{"type":101, \n', 'at position 14 (line 2, column 1)'],
    ] as const) {
      const [shown] = configValueErrors('/vnf-agent/wtc1/linux/config/v1/interface/wtcd1', text);
      assert.ok(shown?.message.endsWith(place), shown?.message);
    }
  });
});
