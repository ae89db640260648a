/**
 * The etcd connection: building the etcd3 client from the agent's options, and turning its errors
 * into ours (retriable when another attempt, maybe on another member, may succeed).
 */
import {
  ClientClosedError,
  Etcd3,
  GRPCDeadlineExceededError,
  isRecoverableError,
  type IOptions,
} from 'etcd3';
import { AgentError, ClosedError } from '../../errors.js';
import { DatastoreError, DatastoreUnavailableError, EtcdSettingError } from '../errors.js';
import { memberBreakerPolicy } from './member-breaker.js';
import { requireLeaderOnWatch } from './require-leader.js';
import { saysNoLeader, tidyGrpcMessage } from './grpc-message.js';
import { readFileSync } from 'node:fs';
import { etcdCredentials, type EtcdTlsOptions } from './tls.js';
import type { EtcdAuthOptions } from './auth-options.js';

export interface EtcdClientOptions {
  /** Cluster members, e.g. ['http://10.0.0.1:2379', '10.0.0.2:2379']. Calls go to any live one. */
  endpoints: readonly string[];
  /** Deadline of each unary call; default 5000 ms. */
  callTimeoutMs?: number;
  /** Deadline to establish a connection; default 3000 ms. */
  dialTimeoutMs?: number;
  /** How long a member that keeps failing is skipped; default 1000 ms. */
  memberSkipMs?: number;
  /** Authorities and client certificate for TLS (etcd's --client-cert-auth). */
  tls?: EtcdTlsOptions;
  /** A user and password (etcd's `auth enable`). */
  auth?: EtcdAuthOptions;
}

const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

export function createEtcdClient(options: EtcdClientOptions): Etcd3 {
  if (options.endpoints.length === 0) throw new DatastoreError('etcd: no endpoints given');
  const callTimeoutMs = options.callTimeoutMs ?? 5000;
  const credentials = etcdCredentials(options.endpoints, options.tls);
  const auth = options.auth
    ? { username: options.auth.username, password: etcdPassword(options.auth) }
    : undefined;
  const clientOptions: IOptions = {
    hosts: [...options.endpoints],
    ...(credentials ? { credentials } : {}),
    ...(auth ? { auth } : {}),
    dialTimeout: options.dialTimeoutMs ?? 3000,
    // Streams (the watch) live for ever; unary calls must not hang on a member that went silent.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    grpcOptions: {
      // A whole prefix is read in one response (4000 items is about 1.5 MB).
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      // Notice a dead connection (e.g. a partitioned member) instead of waiting on it for ever;
      // etcd refuses pings more frequent than every 5 s.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      // Come back quickly after an outage (gRPC's default waits up to 2 minutes between attempts).
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
      // Given to each service client (grpc-js ClientOptions); it acts on the Watch stream only.
      interceptors: [requireLeaderOnWatch],
    },
    faultHandling: { host: memberBreakerPolicy({ openMs: options.memberSkipMs ?? 1000 }) },
  };
  return new Etcd3(clientOptions);
}

/** The password of these settings, read from its file when it is in one. */
function etcdPassword(auth: EtcdAuthOptions): string {
  if (auth.password !== undefined) return auth.password;
  const file = auth.passwordFile ?? '';
  let password: string;
  try {
    password = readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
  } catch (error) {
    throw new EtcdSettingError(
      `etcd: --etcd-password-file ${file}: cannot read it (${error instanceof Error ? error.message : String(error)})`,
      { field: '--etcd-password-file' },
    );
  }
  if (password === '')
    throw new EtcdSettingError(`etcd: --etcd-password-file ${file}: its first line is empty`, {
      field: '--etcd-password-file',
    });
  return password;
}

function isBrokenCircuit(error: Error): boolean {
  // cockatiel's error once every member's circuit breaker is open: all members are failing.
  return error.name === 'BrokenCircuitError' || error.constructor.name === 'BrokenCircuitError';
}

/** An etcd3 error as an AgentError. */
export function etcdError(what: string, error: unknown): Error {
  if (error instanceof AgentError) return error;
  if (error instanceof ClientClosedError) return new ClosedError('etcd store');
  const cause = error instanceof Error ? error : new Error(String(error));
  const said = tidyGrpcMessage(cause.message);
  // A member reached without a leader (etcd says so): say what it means.
  const message = saysNoLeader(said)
    ? `etcd ${what}: the member has no leader (the cluster lost its quorum, or this member is cut off from it): ${said}`
    : `etcd ${what}: ${said}`;
  if (isRecoverableError(cause) || cause instanceof GRPCDeadlineExceededError || isBrokenCircuit(cause)) {
    return new DatastoreUnavailableError(message, { cause });
  }
  return new DatastoreError(message, { cause });
}
