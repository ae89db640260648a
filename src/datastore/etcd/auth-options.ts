/**
 * etcd's own authentication (a user and password, for clusters with `etcdctl auth enable`):
 * `--etcd-user` (or NETNS_AGENT_ETCD_USER), the password from NETNS_AGENT_ETCD_PASSWORD or a file
 * (`--etcd-password-file`). Never a password on the command line: every user of the host could
 * read it in the process list. Pure checks, for the programs' start.
 */
export interface EtcdAuthOptions {
  username: string;
  /** The password itself (from the environment). */
  password?: string;
  /** A file holding the password (its first line). */
  passwordFile?: string;
}

/** The settings of the programs' options and environment; undefined without a user. */
export function etcdAuthFromOptions(options: {
  etcdUser?: string | undefined;
  etcdPasswordFile?: string | undefined;
  password?: string | undefined;
}): EtcdAuthOptions | undefined {
  if (!options.etcdUser) return undefined;
  return {
    username: options.etcdUser,
    ...(options.password ? { password: options.password } : {}),
    ...(options.etcdPasswordFile ? { passwordFile: options.etcdPasswordFile } : {}),
  };
}

/** The mistakes in these settings (none: []), named by option. */
export function etcdAuthProblems(auth: EtcdAuthOptions | undefined, passwordWithoutUser: boolean): string[] {
  if (!auth) {
    return passwordWithoutUser
      ? [
          'an etcd password is given (NETNS_AGENT_ETCD_PASSWORD or --etcd-password-file) without --etcd-user (NETNS_AGENT_ETCD_USER)',
        ]
      : [];
  }
  if (auth.password === undefined && auth.passwordFile === undefined)
    return [
      '--etcd-user (NETNS_AGENT_ETCD_USER) needs a password: NETNS_AGENT_ETCD_PASSWORD or --etcd-password-file',
    ];
  if (auth.password !== undefined && auth.passwordFile !== undefined)
    return ['NETNS_AGENT_ETCD_PASSWORD and --etcd-password-file: give one of them'];
  return [];
}
