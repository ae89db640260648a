/** netnsctl example (src/cli/netnsctl/main.ts), run in this process: the list and -o json|yaml. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { buildProgram } from '../../../src/cli/netnsctl/main.js';

async function run(args: string[]): Promise<string> {
  const out: string[] = [];
  await buildProgram((text) => out.push(text)).parseAsync(['node', 'netnsctl', ...args]);
  return out.join('\n');
}

describe('netnsctl example', () => {
  test('the list is a table by default, data with -o json|yaml (it was the table with every -o)', async () => {
    assert.match(await run(['example']), /^veth +the seeds' VETH pair/m);
    const asJson = JSON.parse(await run(['-o', 'json', 'example'])) as {
      name: string;
      description: string;
    }[];
    assert.deepEqual(
      asJson.map((e) => e.name),
      ['veth', 'tap', 'route', 'arp', 'microservice'],
    );
    assert.ok(asJson.every((e) => e.description.length > 0));
    assert.deepEqual(parse(await run(['-o', 'yaml', 'example'])), asJson);
  });
});
