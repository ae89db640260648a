/**
 * Which certificate authorities an https etcd endpoint is checked against: the usual roots and the
 * file of NODE_EXTRA_CA_CERTS, as node programs do for their TLS connections.
 *
 * Two reasons to do it here. The etcd client (gRPC) does not use node's store when
 * GRPC_DEFAULT_SSL_ROOTS_FILE_PATH is set, so the extra file was ignored on such hosts. And node
 * reads NODE_EXTRA_CA_CERTS when a process starts: on a 2-core host that costs ~45 ms of every
 * start of the agent, though only a TLS connection needs it. So bin/netns-agent starts node
 * without the variable and passes the file on as NETNS_AGENT_EXTRA_CA_CERTS. (bin/netnsctl keeps
 * it: its fetch of the agent's API may need it.)
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { DatastoreError } from '../errors.js';

export const SAVED_EXTRA_CA_ENV = 'NETNS_AGENT_EXTRA_CA_CERTS';

/** The file of extra authorities to trust for these endpoints, if any. */
export function extraCaFile(
  endpoints: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (!endpoints.some((e) => e.startsWith('https://'))) return undefined;
  return env.NODE_EXTRA_CA_CERTS || env[SAVED_EXTRA_CA_ENV] || undefined;
}

/**
 * The roots gRPC would use (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, else node's own) and the extra
 * file, as one PEM bundle for the etcd client.
 */
export function rootsWithExtra(file: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  return Buffer.from(`${usualRoots(env).toString()}\n${readPem(file, 'NODE_EXTRA_CA_CERTS')}`);
}

/** The roots gRPC uses by default: GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, else node's own. */
export function usualRoots(env: NodeJS.ProcessEnv = process.env): Buffer {
  return Buffer.from(
    env.GRPC_DEFAULT_SSL_ROOTS_FILE_PATH
      ? readPem(env.GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, 'GRPC_DEFAULT_SSL_ROOTS_FILE_PATH')
      : rootCertificates.join('\n'),
  );
}

function readPem(file: string, variable: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new DatastoreError(
      `etcd: cannot read the certificate authorities of ${variable} (${file}): ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
}
