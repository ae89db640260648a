/**
 * TLS to etcd: which authorities the members' certificates are checked against, and the client
 * certificate the agent shows them (etcd's --client-cert-auth), from `--etcd-ca`, `--etcd-cert` and
 * `--etcd-key` (tls-options.ts). Every mistake is found before a connection is tried, and named
 * by option and file: a typo in a path must not look like an unreachable cluster.
 */
import { readFileSync } from 'node:fs';
import { EtcdSettingError } from '../errors.js';
import { extraCaFile, rootsWithExtra, usualRoots } from './trust.js';
import { etcdTlsProblems, type EtcdTlsOptions } from './tls-options.js';

export type { EtcdTlsOptions };

/** The credentials the etcd client takes (etcd3's IOptions['credentials']). */
export interface EtcdCredentials {
  rootCertificate: Buffer;
  privateKey?: Buffer;
  certChain?: Buffer;
}

/**
 * The client's credentials: undefined for plain connections (no https:// endpoint and no TLS
 * option). An endpoint without a scheme speaks TLS when a TLS option is given.
 */
export function etcdCredentials(
  endpoints: readonly string[],
  tls: EtcdTlsOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): EtcdCredentials | undefined {
  const problems = etcdTlsProblems(endpoints, tls);
  if (problems.length > 0) throw new EtcdSettingError(`etcd: ${problems.join('; ')}`);
  if (!tls.caFile && !tls.certFile) {
    // As before these options: https:// endpoints checked against the usual roots and the extra file.
    const extraCa = extraCaFile(endpoints, env);
    return extraCa ? { rootCertificate: rootsWithExtra(extraCa, env) } : undefined;
  }
  const extraCa = extraCaFile(['https://'], env);
  const credentials: EtcdCredentials = {
    rootCertificate: tls.caFile
      ? readPemFile(tls.caFile, '--etcd-ca', 'CERTIFICATE')
      : extraCa
        ? rootsWithExtra(extraCa, env)
        : usualRoots(env),
  };
  if (tls.certFile && tls.keyFile) {
    credentials.certChain = readPemFile(tls.certFile, '--etcd-cert', 'CERTIFICATE');
    credentials.privateKey = readPemFile(tls.keyFile, '--etcd-key', 'PRIVATE KEY');
  }
  return credentials;
}

/**
 * A PEM file's bytes, after checking it holds a block of that kind (e.g. "PRIVATE KEY") and, for a
 * key, that it is not encrypted (the client has no passphrase to give: the handshake would fail
 * later, looking like an unreachable cluster).
 */
function readPemFile(file: string, option: string, block: string): Buffer {
  const refuse = (why: string): never => {
    throw new EtcdSettingError(`etcd: ${option} ${file}: ${why}`, { field: option });
  };
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (error) {
    return refuse(`cannot read it (${error instanceof Error ? error.message : String(error)})`);
  }
  const text = data.toString('latin1');
  // "-----BEGIN PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----".
  if (!new RegExp(`-----BEGIN [A-Z ]*${block}-----`).test(text)) refuse(`no PEM "${block}" block in it`);
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text))
    refuse('the key is encrypted (give it unencrypted, readable by the agent only)');
  return data;
}
