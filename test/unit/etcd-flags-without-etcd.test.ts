import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { addEtcdAccessOptions, etcdFlagsWithoutEtcd } from '../../src/cli/etcd-access-options.js';

function parsed(args: string[], env: NodeJS.ProcessEnv = {}): Command {
  const command = addEtcdAccessOptions(new Command('x').option('--etcd <urls>'), env);
  return command.parse(args, { from: 'user' });
}

test('an etcd option on the command line without --etcd is refused, naming it (a forgotten --etcd)', () => {
  // Before, the daemon started on its embedded store (the default file) without a word.
  const problems = etcdFlagsWithoutEtcd(parsed(['--etcd-cert', 'c.pem', '--etcd-user', 'u']), []);
  assert.equal(problems.length, 2);
  assert.match(problems[0] ?? '', /^--etcd-cert is an option of etcd, but no --etcd/);
  assert.match(problems[1] ?? '', /^--etcd-user is an option of etcd/);
});

test('etcd options from the environment, or with endpoints, are not refused by this check', () => {
  const fromEnv = parsed([], { NETNS_AGENT_ETCD_CA: 'ca.pem', NETNS_AGENT_ETCD_USER: 'u' });
  assert.deepEqual(etcdFlagsWithoutEtcd(fromEnv, []), []);
  const withEtcd = parsed(['--etcd', 'https://127.0.0.1:2379', '--etcd-ca', 'ca.pem']);
  assert.deepEqual(etcdFlagsWithoutEtcd(withEtcd, ['https://127.0.0.1:2379']), []);
});
