/**
 * The options of both programs (the daemon, netnsctl) for reaching a secured etcd: TLS
 * (`--etcd-ca`, `--etcd-cert`, `--etcd-key`) and etcd's own users (`--etcd-user`, the password from
 * NETNS_AGENT_ETCD_PASSWORD or `--etcd-password-file`), each also from the environment. Declared
 * and checked here once, so the two programs cannot drift apart.
 */
import type { Command } from 'commander';
import {
  etcdAuthFromOptions,
  etcdAuthProblems,
  type EtcdAuthOptions,
} from '../datastore/etcd/auth-options.js';
import { etcdTlsFromOptions, etcdTlsProblems, type EtcdTlsOptions } from '../datastore/etcd/tls-options.js';

export interface EtcdAccessFlags {
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdUser?: string;
  etcdPasswordFile?: string;
}

export function addEtcdAccessOptions(command: Command, env: NodeJS.ProcessEnv): Command {
  return command
    .option(
      '--etcd-ca <file>',
      'PEM authorities of the etcd members (TLS; default: the usual roots)',
      env.NETNS_AGENT_ETCD_CA,
    )
    .option(
      '--etcd-cert <file>',
      'PEM client certificate for etcd (its --client-cert-auth)',
      env.NETNS_AGENT_ETCD_CERT,
    )
    .option('--etcd-key <file>', 'PEM private key of --etcd-cert', env.NETNS_AGENT_ETCD_KEY)
    .option(
      '--etcd-user <name>',
      "etcd user (etcd's auth); its password from NETNS_AGENT_ETCD_PASSWORD or --etcd-password-file",
      env.NETNS_AGENT_ETCD_USER,
    )
    .option(
      '--etcd-password-file <file>',
      'file holding the password of --etcd-user',
      env.NETNS_AGENT_ETCD_PASSWORD_FILE,
    );
}

/**
 * The TLS and user settings of these flags, and the mistakes in them (each naming its option).
 * Checked only when etcd is used: settings exported for one program must not stop the other on
 * its own store.
 */
export function etcdAccess(
  endpoints: readonly string[],
  flags: EtcdAccessFlags,
  password: string | undefined,
): { tls: EtcdTlsOptions; auth: EtcdAuthOptions | undefined; problems: string[] } {
  const tls = etcdTlsFromOptions(flags);
  const auth = etcdAuthFromOptions({ ...flags, password });
  const problems = endpoints.length
    ? [...etcdTlsProblems(endpoints, tls), ...etcdAuthProblems(auth, !!(password || flags.etcdPasswordFile))]
    : [];
  return { tls, auth, problems };
}

/** The options above, by commander's attribute name, as a user writes them. */
const ETCD_ACCESS_FLAGS: ReadonlyArray<readonly [keyof EtcdAccessFlags, string]> = [
  ['etcdCa', '--etcd-ca'],
  ['etcdCert', '--etcd-cert'],
  ['etcdKey', '--etcd-key'],
  ['etcdUser', '--etcd-user'],
  ['etcdPasswordFile', '--etcd-password-file'],
];

/**
 * An etcd option written on the command line while no etcd endpoint is given (no `--etcd`, no
 * NETNS_AGENT_ETCD): a forgotten `--etcd`. Before, it was ignored without a word and the program
 * used the embedded store (the daemon: the default store file and its state, as if on purpose).
 * Settings from the environment are not refused (one exported for a program on etcd must not stop
 * another on its own store).
 */
export function etcdFlagsWithoutEtcd(command: Command, endpoints: readonly string[]): string[] {
  if (endpoints.length > 0) return [];
  return ETCD_ACCESS_FLAGS.filter(([name]) => command.getOptionValueSource(name) === 'cli').map(
    ([, flag]) => `${flag} is an option of etcd, but no --etcd (or NETNS_AGENT_ETCD) names its endpoints`,
  );
}
