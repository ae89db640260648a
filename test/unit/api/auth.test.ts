import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tokenMatches } from '../../../src/api/auth.js';

test('bearer token: the scheme in any case (RFC 7235), the token exactly', () => {
  for (const header of ['Bearer s3cret', 'bearer s3cret', 'BEARER s3cret'])
    assert.equal(tokenMatches('s3cret', header), true, header);
  for (const header of [undefined, '', 'Bearer', 'Bearer S3cret', 'Basic s3cret', 's3cret', 'Bearer s3cret '])
    assert.equal(tokenMatches('s3cret', header), false, String(header));
});
