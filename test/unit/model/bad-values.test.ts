// Runs every file of the bad-values corpus (test/data/bad-values/*.json) through the parser:
// each must be refused with an InvalidValueError naming its key and the expected field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidValueError, parseItemText } from '../../../src/model/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const corpus = path.join(repoRoot, 'test/data/bad-values');

interface BadValue {
  description: string;
  key: string;
  value: string;
  field: string;
}

const files = readdirSync(corpus)
  .filter((f) => f.endsWith('.json'))
  .sort();

test('the corpus has at least 50 bad values', () => {
  assert.ok(files.length >= 50, `only ${files.length} files`);
});

for (const file of files) {
  const bad = JSON.parse(readFileSync(path.join(corpus, file), 'utf8')) as BadValue;
  test(`${file}: ${bad.description}`, () => {
    let thrown: unknown;
    try {
      parseItemText(bad.key, bad.value);
    } catch (error) {
      thrown = error;
    }
    assert.ok(thrown instanceof InvalidValueError, `expected InvalidValueError, got ${String(thrown)}`);
    assert.equal(thrown.code, 'ERR_INVALID_VALUE');
    assert.equal(thrown.key, bad.key);
    for (const e of thrown.errors) assert.equal(e.key, bad.key);
    const fields = thrown.errors.map((e) => e.field);
    assert.ok(
      fields.includes(bad.field),
      `expected an error on ${bad.field}, got ${JSON.stringify(thrown.errors)}`,
    );
    assert.match(thrown.message, new RegExp(bad.key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });
}
