/**
 * The TLS options of the programs for etcd (`--etcd-ca`, `--etcd-cert`, `--etcd-key`) and their
 * checks, pure: the programs check them at start, before the etcd client (or node:tls) is loaded.
 */
export interface EtcdTlsOptions {
  /** `--etcd-ca`: PEM authorities that sign the members' certificates; only these are trusted. */
  caFile?: string;
  /** `--etcd-cert`: PEM client certificate (chain), for clusters that ask for one. */
  certFile?: string;
  /** `--etcd-key`: PEM private key of that certificate. */
  keyFile?: string;
}

/** The TLS settings of the programs' options (absent ones left out). */
export function etcdTlsFromOptions(options: {
  etcdCa?: string | undefined;
  etcdCert?: string | undefined;
  etcdKey?: string | undefined;
}): EtcdTlsOptions {
  return {
    ...(options.etcdCa ? { caFile: options.etcdCa } : {}),
    ...(options.etcdCert ? { certFile: options.etcdCert } : {}),
    ...(options.etcdKey ? { keyFile: options.etcdKey } : {}),
  };
}

/** The option errors of these settings, before anything is read: [] when they can be used. */
export function etcdTlsProblems(endpoints: readonly string[], tls: EtcdTlsOptions = {}): string[] {
  const problems: string[] = [];
  if (tls.certFile && !tls.keyFile)
    problems.push('--etcd-cert needs --etcd-key (the key of that certificate)');
  if (tls.keyFile && !tls.certFile)
    problems.push('--etcd-key needs --etcd-cert (the certificate of that key)');
  // host:port, or a URL of http or https: anything else (ftp://, unix://) the client would try for
  // ever ("Failed to parse DNS address").
  const unknown = endpoints.filter((e) => /^[a-z][a-z0-9+.-]*:\/\//i.test(e) && !/^https?:\/\//.test(e));
  if (unknown.length > 0)
    problems.push(
      `etcd endpoints ${unknown.join(', ')}: expected http://HOST:PORT, https://HOST:PORT or HOST:PORT`,
    );
  const plain = endpoints.filter((e) => e.startsWith('http://'));
  const secure = endpoints.filter((e) => e.startsWith('https://'));
  // One client speaks TLS to every member or to none (gRPC credentials are per client).
  if (plain.length > 0 && secure.length > 0) {
    problems.push(
      `etcd endpoints mix http:// (${plain.join(', ')}) and https:// (${secure.join(', ')}): ` +
        'the members of a cluster all speak TLS or none does',
    );
  } else if (plain.length > 0 && (tls.caFile || tls.certFile)) {
    problems.push(
      `--etcd-${tls.caFile ? 'ca' : 'cert'} is for TLS, but ${plain.join(', ')} ${
        plain.length > 1 ? 'are' : 'is'
      } plain http:// (write https://, or no scheme)`,
    );
  }
  return problems;
}
