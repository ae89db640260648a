/**
 * bin/netns-agent's --log-level (src/cli/agent-main.ts): --help lists the levels its check takes
 * (`silent` was taken and named in the error, not in --help). The daemon's entry runs as it is
 * imported, so it runs here as a child process; --help and a refused option start nothing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/agent-main.js', import.meta.url));

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.NETNS_AGENT_LOG_LEVEL;
  const result = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('netns-agent --log-level', () => {
  test('--help and the error for a level it does not take list the same levels', () => {
    const help = run(['--help']);
    assert.equal(help.status, 0, help.stderr);
    // The option's description, wrapped over lines, up to the next option.
    const described = /--log-level <level>\s+([\s\S]*?)\n\s{2}-/.exec(help.stdout)?.[1] ?? '';
    const inHelp = described
      .replace(/\(default:[\s\S]*\)/, '')
      .split(/[,\s]+/)
      .filter(Boolean);
    const bogus = run(['--log-level', 'bogus']);
    assert.equal(bogus.status, 2);
    const inError = /is not one of (.*)/.exec(bogus.stderr)?.[1]?.split(', ') ?? [];
    assert.ok(inError.includes('silent'), bogus.stderr);
    assert.deepEqual(inHelp, inError, `--help: ${described}`);
  });
});
