/**
 * bin/netns-agent: the daemon. Options also come from the environment (MICROSERVICE_LABEL for the
 * label, as the seeds' agent did; NETNS_AGENT_ETCD, NETNS_AGENT_ETCD_CA, NETNS_AGENT_ETCD_CERT,
 * NETNS_AGENT_ETCD_KEY, NETNS_AGENT_ETCD_USER, NETNS_AGENT_ETCD_PASSWORD(_FILE), NETNS_AGENT_STORE, NETNS_AGENT_STATE_DIR, NETNS_AGENT_HTTP, NETNS_AGENT_TOKEN,
 * NETNS_AGENT_LOG_LEVEL). For reliability tests only: NETNS_AGENT_FAULTS turns
 * on netlink fault injection (src/netlink/fault-injection.ts); unset, nothing is injected.
 */
import { Command } from 'commander';
import { Agent } from '../agent/agent.js';
import { parseEndpoints } from '../datastore/endpoints.js';
import { parseListen } from '../api/listen-address.js';
import {
  addEtcdAccessOptions,
  etcdAccess,
  etcdFlagsWithoutEtcd,
  type EtcdAccessFlags,
} from './etcd-access-options.js';
import { codeCacheState } from './code-cache-state.js';
import { FAULTS_ENV, faultsFromEnvironment, installNetlinkFaults } from '../netlink/fault-injection.js';
import { parseLabel } from './label-option.js';
import { routeProcessWarnings } from '../util/process-warnings.js';

const env = process.env;
/** What --log-level takes, as --help lists it and its error says (`silent`: nothing is logged). */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const program = new Command('netns-agent')
  .description("Owns the Linux network configuration of this host's namespaces, as declared in its datastore")
  .option(
    '--label <label>',
    'agent label: the datastore prefix /vnf-agent/<label>/',
    parseLabel,
    env.MICROSERVICE_LABEL ?? 'vpp1',
  )
  .option(
    '--etcd <urls>',
    'etcd endpoints, comma-separated (default: the embedded store)',
    env.NETNS_AGENT_ETCD,
  );
addEtcdAccessOptions(program, env)
  .option('--store <file>', 'embedded store file', env.NETNS_AGENT_STORE)
  .option(
    '--state-dir <dir>',
    "the agent's own state, e.g. what others' links were before it configured them (default: the store file's directory)",
    env.NETNS_AGENT_STATE_DIR,
  )
  .option(
    '--http <address>',
    'HTTP API: HOST:PORT, unix:/path, or "" for none',
    env.NETNS_AGENT_HTTP ?? '127.0.0.1:9191',
  )
  .option(
    '--http-token <token>',
    // Not a commander default: help and usage errors print those, and this is a secret.
    'bearer token required by the HTTP API (all but /metrics) (default: $NETNS_AGENT_TOKEN)',
  )
  .option('--log-level <level>', LOG_LEVELS.join(', '), env.NETNS_AGENT_LOG_LEVEL ?? 'info')
  .option(
    '--no-docker',
    'do not watch Docker (microservices stay where the agent last saw them, while those processes run)',
  )
  .option(
    '--status-interval <ms>',
    'how often interface counters are written to the datastore (changes of state go within a second)',
    env.NETNS_AGENT_STATUS_INTERVAL ?? '5000',
  )
  // A usage error (unknown option, missing value) exits 2, as the checks below do.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
  .parse();

const opts = program.opts<
  EtcdAccessFlags & {
    label: string;
    etcd?: string;
    store?: string;
    stateDir?: string;
    http: string;
    httpToken?: string;
    logLevel: string;
    docker: boolean;
    statusInterval: string;
  }
>();

if (!LOG_LEVELS.includes(opts.logLevel)) {
  console.error(`--log-level: ${JSON.stringify(opts.logLevel)} is not one of ${LOG_LEVELS.join(', ')}`);
  process.exit(2);
}

const statusIntervalMs = Number(opts.statusInterval);
if (!Number.isInteger(statusIntervalMs) || statusIntervalMs < 100) {
  console.error(
    `--status-interval: ${JSON.stringify(opts.statusInterval)} is not a whole number of ms >= 100`,
  );
  process.exit(2);
}

if (opts.http !== '') {
  try {
    parseListen(opts.http);
  } catch {
    console.error(`--http: ${JSON.stringify(opts.http)} is not HOST:PORT, unix:/path or ""`);
    process.exit(2);
  }
}

const etcdEndpoints = parseEndpoints(opts.etcd);
// Checked before anything starts (exit 2, as other option errors); the files are read by the client.
const {
  tls: etcdTls,
  auth: etcdAuth,
  problems: optionProblems,
} = etcdAccess(etcdEndpoints, opts, env.NETNS_AGENT_ETCD_PASSWORD);
optionProblems.push(...etcdFlagsWithoutEtcd(program, etcdEndpoints));
const httpToken = opts.httpToken ?? env.NETNS_AGENT_TOKEN;
// Read once: not left in the environment its children inherit. /proc/PID/environ (mode 0400) still
// shows them: the kernel keeps the environment the process started with, which unsetenv() leaves.
delete env.NETNS_AGENT_ETCD_PASSWORD;
delete env.NETNS_AGENT_TOKEN;
if (optionProblems.length > 0) {
  for (const problem of optionProblems) console.error(problem);
  process.exit(2);
}

let agent: Agent;
try {
  agent = makeAgent();
} catch (error) {
  // Another agent of this label runs (LabelInUseError), or the lock directory cannot be made.
  console.error(`netns-agent: cannot start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
// Into the JSON log, not as plain text between its lines.
routeProcessWarnings((warning) =>
  agent.logger.warn({ code: warning.code, warning: warning.message }, 'node warning'),
);

function makeAgent(): Agent {
  return new Agent({
    label: opts.label,
    ...(etcdEndpoints.length ? { etcd: etcdEndpoints } : {}),
    ...(Object.keys(etcdTls).length ? { etcdTls } : {}),
    ...(etcdAuth ? { etcdAuth } : {}),
    ...(opts.store ? { storeFile: opts.store } : {}),
    ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
    http: opts.http,
    ...(httpToken ? { httpToken } : {}),
    logLevel: opts.logLevel,
    docker: opts.docker,
    statusIntervalMs,
    codeCache: codeCacheState(),
  });
}

// Read once, before any socket opens; a spec that does not parse stops the daemon (exit code 2).
try {
  const faults = faultsFromEnvironment(env, {
    onFault: (fault) => agent.logger.warn({ ...fault }, 'netlink fault injected'),
  });
  if (faults) {
    installNetlinkFaults(faults);
    agent.logger.warn(
      { plan: faults.plan, spec: env[FAULTS_ENV] },
      'netlink FAULT INJECTION is active (tests only)',
    );
  }
} catch (error) {
  agent.logger.fatal({ error: error instanceof Error ? error.message : String(error) }, 'cannot start');
  process.exit(2);
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    agent.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        agent.logger.error({ error: String(error) }, 'stop failed');
        process.exit(1);
      },
    );
  });
}

// Not a top-level await: the daemon's bundle (scripts/bundle.mjs) is a CommonJS script.
agent.start().catch(async (error: unknown) => {
  agent.logger.fatal({ error: error instanceof Error ? error.message : String(error) }, 'cannot start');
  await agent.stop().catch(() => undefined);
  process.exit(1);
});
