/**
 * `netnsctl report DIR`: a support bundle for a bug report. What the agent's API tells (status,
 * history, configuration, kernel dump, metrics, version, recent logs), and its state files; with
 * the agent not answering, what can be read without it (the configuration from --store or --etcd,
 * the kernel read by netnsctl itself, the state files), each missing part saying why.
 */
import type { Command } from 'commander';
import { copyFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_STORE_FILE } from '../../datastore/sqlite/default-file.js';
import { makeDirectories } from '../../util/make-directories.js';
import { CliError } from './client.js';
import type { CommandContext } from './context.js';

const PARTS: readonly [file: string, endpoint: (label: string) => string][] = [
  ['status.json', () => '/v1/status'],
  ['history.json', () => '/v1/history'],
  ['config.json', (label) => `/v1/config?prefix=${encodeURIComponent(`/vnf-agent/${label}/`)}`],
  ['kernel.json', () => '/v1/kernel'],
  ['metrics.txt', () => '/metrics'],
  ['agent.json', () => '/v1/about'],
  ['agent-logs.jsonl', () => '/v1/logs'],
];

/** A directory that holds nothing yet (or does not exist): an earlier bundle is never overwritten. */
function refuseUsedDirectory(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return; // made below (or that says why not)
  }
  if (entries.length > 0)
    throw new CliError(
      `${dir} is not empty: give a new directory (an earlier report there would be overwritten)`,
      2,
    );
}

/** The agent's state files (src/agent/*-file.ts, microservice-memory.ts), by what follows `<label>.`. */
const STATE_FILES = [
  'last-valid.json',
  'last-valid.journal',
  'namespaces.json',
  'microservices.json',
  'originals.json',
];

/**
 * The agent's state files of this label (those set aside as `.bad` too) copied into `state/`; what
 * could not be read is said instead. Exact names: a label may hold dots (`vpp` and `vpp.2`).
 */
function copyStateFiles(
  stateDir: string,
  label: string,
  bundle: string,
): { copied: string[]; error?: string } {
  const wanted = new Set(STATE_FILES.flatMap((file) => [`${label}.${file}`, `${label}.${file}.bad`]));
  let names: string[];
  try {
    names = readdirSync(stateDir).filter((name) => wanted.has(name));
  } catch (error) {
    return { copied: [], error: (error as Error).message };
  }
  if (names.length === 0) return { copied: [], error: `no state file of label ${label} in ${stateDir}` };
  const copied: string[] = [];
  if (names.length > 0) makeDirectories(path.join(bundle, 'state'));
  for (const name of names.sort()) {
    try {
      copyFileSync(path.join(stateDir, name), path.join(bundle, 'state', name));
      copied.push(`state/${name}`);
    } catch (error) {
      return { copied, error: `${name}: ${(error as Error).message}` };
    }
  }
  return { copied };
}

/**
 * Whether the agent's --server names this host (its state directory is then a path here): a
 * loopback address, in any form the client takes (HOST:PORT too), or a unix socket, which is
 * always on this host. Both were taken for another host's ("give --state-dir").
 */
export function isLoopback(server: string): boolean {
  if (server.startsWith('unix:')) return true;
  let host: string;
  try {
    host = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `http://${server}`).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

export function addReportCommand(program: Command, ctx: CommandContext): void {
  const { globals, client, tell, withConfig } = ctx;

  /** The configuration as --store or --etcd holds it (for a report without the agent). */
  const configFromStore = async (fallback: string, label: string): Promise<string> => {
    let text = fallback;
    await withConfig(false, async (config) => {
      text = JSON.stringify({ source: 'store', body: await config.list(`/vnf-agent/${label}/`) }, null, 2);
    }).catch((error: unknown) => {
      text = JSON.stringify({ error: (error as Error).message }, null, 2);
    });
    return text;
  };

  /** The kernel as netnsctl reads it (for a report without the agent); needs root, as the agent does. */
  const kernelReadHere = async (fallback: string, label: string): Promise<string> => {
    try {
      const { readKernel } = await import('./kernel-read.js');
      const { namespaces, unread } = await readKernel(label);
      return JSON.stringify(
        { source: 'kernel, read by netnsctl: default and named namespaces only', body: namespaces, unread },
        null,
        2,
      );
    } catch (error) {
      const agentError = (JSON.parse(fallback) as { error?: string }).error;
      return JSON.stringify({ error: agentError, kernelNotRead: (error as Error).message }, null, 2);
    }
  };

  program
    .command('report')
    .description(
      'write a support bundle (status, history, config, kernel dump, metrics, agent version and logs, state files) into DIR, a new or empty directory',
    )
    .argument('<dir>')
    .option(
      '--state-dir <dir>',
      "the agent's state directory, when the agent does not answer (default: the --store file's, else /var/lib/netns-agent)",
    )
    .action(async (dir: string, options: { stateDir?: string }) => {
      const api = client();
      refuseUsedDirectory(dir);
      try {
        makeDirectories(dir);
        if (!statSync(dir).isDirectory()) throw new Error('not a directory');
      } catch (error) {
        throw new CliError(`cannot make the report directory ${dir}: ${(error as Error).message}`, 2);
      }
      const g = globals();
      // The agent's own keys (configuration and published status), not other labels' on a shared
      // etcd: under the label the agent says it has, else the one given here.
      const about = await api
        .request('GET', '/v1/about')
        .then(({ json }) => json as { label?: unknown; stateDir?: unknown } | undefined)
        .catch(() => undefined);
      const label = typeof about?.label === 'string' ? about.label : g.label;
      const written: string[] = [];
      // An agent that does not answer is when a report is most wanted: each part says why it is
      // missing, and the configuration is read from --store or --etcd when given.
      const unanswered: string[] = [];
      for (const [file, endpoint] of PARTS) {
        let text: string;
        try {
          const { status, json } = await api.request('GET', endpoint(label));
          text = typeof json === 'string' ? json : JSON.stringify({ status, body: json }, null, 2);
        } catch (error) {
          if (!(error instanceof CliError) || error.exitCode !== 3) throw error;
          unanswered.push(error.message);
          text = JSON.stringify({ error: error.message }, null, 2);
          if (file === 'metrics.txt') text = `# not collected: ${error.message}\n`;
          if (file === 'config.json' && (g.store || g.etcd)) text = await configFromStore(text, label);
          if (file === 'kernel.json') text = await kernelReadHere(text, label);
        }
        writeFileSync(path.join(dir, file), text);
        written.push(file);
      }
      const agentDown = unanswered.length === PARTS.length;
      // The agent's own directory is on its host: read here only when that is this one.
      const local = isLoopback(g.server);
      const stateDir =
        options.stateDir ??
        (typeof about?.stateDir === 'string' ? (local ? about.stateDir : undefined) : undefined) ??
        (about === undefined || local ? path.dirname(g.store ?? DEFAULT_STORE_FILE) : undefined);
      const state =
        stateDir === undefined
          ? {
              copied: [],
              error: `the agent at ${g.server} is on another host: give --state-dir to read them here`,
            }
          : copyStateFiles(stateDir, label, dir);
      written.push(...state.copied);
      writeFileSync(
        path.join(dir, 'about.json'),
        JSON.stringify(
          {
            server: g.server,
            label,
            collectedAt: new Date().toISOString(),
            node: process.version,
            stateDir,
            ...(state.error ? { stateFilesNotRead: state.error } : {}),
            ...(unanswered.length ? { agentDidNotAnswer: unanswered[0] } : {}),
            // Its logs go to its standard output (journald, docker logs): read there when it is down.
            ...(agentDown
              ? { agentLogs: 'not collected: the agent did not answer; see its own output' }
              : {}),
          },
          null,
          2,
        ),
      );
      tell(`wrote ${[...written, 'about.json'].join(', ')} to ${dir}`, {
        dir,
        files: [...written, 'about.json'],
      });
      if (agentDown)
        throw new CliError(
          `the agent did not answer (${unanswered[0]}): the report holds what could be read without it`,
          3,
        );
    });
}
