/**
 * Regenerates test/data/netlink/golden.json: what iproute2's `ip` sends to and receives from the
 * kernel for a few commands, captured with strace in a throwaway namespace. Needs root and strace
 * (only to make the fixture; the tests read the JSON and need neither).
 *
 *   npx tsc -p tsconfig.json && node dist/test/data/netlink/capture.js
 *
 * Each capture keeps every netlink datagram `ip` sent (`sent`) and received (`received`) as hex,
 * its standard output (`stdout`, the JSON of `ip -json` commands) and its exit status.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Capture {
  name: string;
  command: string[];
  status: number;
  stdout: string;
  stderr: string;
  sent: string[];
  received: string[];
}

const here = path.dirname(fileURLToPath(import.meta.url));
// dist/test/data/netlink -> test/data/netlink
const output = path.resolve(here, '../../../../test/data/netlink/golden.json');
const ns = `nlcap${randomBytes(3).toString('hex')}`;
const trace = path.join(tmpdir(), `${ns}.strace`);

/** Cuts strace's `-e write=all -e read=all` output into the data of each sendmsg/recvmsg. */
function parseStrace(text: string): { sent: string[]; received: string[] } {
  const sent: string[] = [];
  const received: string[] = [];
  let current: string[] | undefined;
  let hex = '';
  const finish = (): void => {
    if (current && hex) current.push(hex);
    current = undefined;
    hex = '';
  };
  for (const line of text.split('\n')) {
    if (/^\s*\d*\s*send(?:msg|to)\(/.test(line)) {
      finish();
      current = sent;
    } else if (/^\s*\d*\s*recvmsg\(/.test(line)) {
      finish();
      // A MSG_PEEK only sizes the next datagram; its data (none) is read again afterwards.
      current = line.includes('MSG_PEEK') ? undefined : received;
    } else if (/^ \| [0-9a-f]{5} {2}/.test(line)) {
      hex += (line.slice(10, 59).match(/[0-9a-f]{2}/g) ?? []).join('');
    } else if (!/^ \* \d+ bytes in buffer/.test(line)) {
      finish();
    }
  }
  finish();
  return { sent, received };
}

function capture(name: string, args: string[]): Capture {
  const command = ['ip', '-n', ns, ...args];
  const run = spawnSync(
    'strace',
    ['-o', trace, '-e', 'trace=sendmsg,sendto,recvmsg', '-e', 'write=all', '-e', 'read=all', ...command],
    {
      encoding: 'utf8',
    },
  );
  const { sent, received } = parseStrace(readFileSync(trace, 'utf8'));
  return {
    name,
    command: ['ip', ...args],
    status: run.status ?? -1,
    stdout: run.stdout,
    stderr: run.stderr,
    sent,
    received,
  };
}

function ip(...args: string[]): void {
  execFileSync('ip', ['-n', ns, ...args], { stdio: 'inherit' });
}

function ifindex(name: string): number {
  const [link] = JSON.parse(
    execFileSync('ip', ['-n', ns, '-json', 'link', 'show', 'dev', name], { encoding: 'utf8' }),
  ) as {
    ifindex: number;
  }[];
  return link!.ifindex;
}

execFileSync('ip', ['netns', 'add', ns]);
try {
  const captures: Capture[] = [];
  captures.push(capture('veth', ['link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb']));
  captures.push(
    capture('veth-attributes', [
      'link',
      'add',
      'vc',
      'mtu',
      '1400',
      'address',
      '02:00:00:00:00:0c',
      'group',
      '7',
      'type',
      'veth',
      'peer',
      'name',
      'vd',
      'mtu',
      '1400',
      'address',
      '02:00:00:00:00:0d',
      'group',
      '7',
    ]),
  );
  ip('link', 'set', 'va', 'up');
  ip('link', 'set', 'vb', 'up');
  ip('link', 'set', 'va', 'alias', 'golden end');
  captures.push(capture('addr-v4', ['addr', 'add', '10.1.2.3/24', 'dev', 'va']));
  captures.push(capture('addr-v6', ['addr', 'add', '2001:db8::3/64', 'dev', 'va', 'nodad']));
  captures.push(
    capture('route-gateway-table', [
      'route',
      'add',
      '10.9.0.0/16',
      'via',
      '10.1.2.1',
      'dev',
      'va',
      'proto',
      'static',
      'metric',
      '100',
      'table',
      '1000',
    ]),
  );
  captures.push(
    capture('route-scope-src', [
      'route',
      'add',
      '10.8.0.0/16',
      'dev',
      'va',
      'proto',
      'static',
      'scope',
      'link',
      'src',
      '10.1.2.3',
      'table',
      '1000',
    ]),
  );
  captures.push(
    capture('route-default-main', ['route', 'add', 'default', 'via', '10.1.2.1', 'proto', 'static']),
  );
  captures.push(
    capture('route-v6', [
      '-6',
      'route',
      'add',
      '2001:db8:9::/48',
      'via',
      '2001:db8::1',
      'dev',
      'va',
      'proto',
      'static',
      'metric',
      '1024',
      'table',
      '1000',
    ]),
  );
  captures.push(
    capture('route-invalid-gateway', [
      'route',
      'add',
      '10.7.0.0/16',
      'via',
      '10.99.0.1',
      'dev',
      'va',
      'proto',
      'static',
    ]),
  );
  captures.push(
    capture('neigh-v4', [
      'neigh',
      'add',
      '10.1.2.4',
      'lladdr',
      '02:00:00:00:00:04',
      'dev',
      'va',
      'nud',
      'permanent',
    ]),
  );
  captures.push(
    capture('neigh-v6', [
      '-6',
      'neigh',
      'add',
      '2001:db8::4',
      'lladdr',
      '02:00:00:00:00:05',
      'dev',
      'va',
      'nud',
      'noarp',
    ]),
  );
  captures.push(capture('show-link', ['-json', '-s', 'link', 'show', 'dev', 'va']));
  captures.push(capture('show-addr', ['-json', 'addr', 'show', 'dev', 'va']));
  captures.push(capture('show-route', ['-json', 'route', 'show', 'table', '1000']));
  captures.push(capture('show-neigh', ['-json', 'neigh', 'show', 'dev', 'va']));
  captures.push(capture('del-group', ['link', 'del', 'group', '7']));
  const fixture = {
    comment:
      'Made by test/data/netlink/capture.ts (strace of iproute2 in a fresh namespace). Do not edit by hand.',
    iproute2: execFileSync('ip', ['-V'], { encoding: 'utf8' }).trim(),
    kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
    ifindex: { lo: ifindex('lo'), va: ifindex('va'), vb: ifindex('vb') },
    captures,
  };
  writeFileSync(output, JSON.stringify(fixture, null, 2) + '\n');
  console.log(`wrote ${captures.length} captures to ${output}`);
} finally {
  execFileSync('ip', ['netns', 'del', ns]);
  rmSync(trace, { force: true });
}
