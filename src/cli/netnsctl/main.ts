/**
 * netnsctl: the command-line client of netns-agent. Talks to the agent's HTTP API (default
 * http://127.0.0.1:9191, or $NETNS_AGENT_SERVER); with --etcd or --store, reads and writes the
 * configuration in etcd or the embedded store's file itself (config-access.ts). Exit codes: 0 ok, 1 error, 2 bad usage or not found, 3 agent
 * or store unreachable, 4 refused (token), 5 invalid values, 6 not configured in time (--wait).
 */
import { Command, Option } from 'commander';
import { stringify } from 'yaml';
import { ApiClient, CliError } from './client.js';
import { ApiConfigAccess, etcdConfigAccess, sqliteConfigAccess, type ConfigAccess } from './config-access.js';
import { parseEndpoints } from '../../datastore/endpoints.js';
import { addEtcdAccessOptions, etcdAccess, etcdFlagsWithoutEtcd } from '../etcd-access-options.js';
import { EXAMPLES } from './examples.js';
import { expandKey, expandPrefix, keyPath } from './keys.js';
import { parseConfigKey, parseStatusKey, refusalHeadline } from '../../model/index.js';
import { fieldTable, keyedFieldTable, render, type OutputFormat } from './output.js';
import { dumpTable, historyTable, statusWhy } from './tables.js';
import { readInput, type GlobalOptions } from './context.js';
import { addFileCommands } from './file-commands.js';
import { addReportCommand } from './report-command.js';
import { addDelCommand } from './del-command.js';
import { waitConfigured, waitOption } from './wait-configured.js';
import { statesWhenKnown } from './states-known.js';
import { parseLabel } from '../label-option.js';

/** A transaction event in a line: its number and what it did (a drift healed shows here too). */
function transactionWords(d: Record<string, unknown>): string {
  const counts = (d.counts ?? {}) as Record<string, number>;
  const done = ['create', 'update', 'delete', 'failed', 'pending', 'invalid']
    .filter((k) => (counts[k] ?? 0) > 0)
    .map((k) => `${k} ${counts[k]}`);
  const ms = typeof d.durationMs === 'number' ? ` in ${Math.round(d.durationMs)} ms` : '';
  return `#${String(d.seq)} ${done.length ? done.join(', ') : 'nothing to do'}${ms}`;
}

export function buildProgram(print: (text: string) => void = (t) => process.stdout.write(t + '\n')): Command {
  const program = new Command('netnsctl')
    .description('Client of netns-agent: put, inspect and watch the desired Linux network configuration')
    .option(
      '--server <url>',
      'agent HTTP API: http://HOST:PORT or unix:/path',
      process.env.NETNS_AGENT_SERVER ?? 'http://127.0.0.1:9191',
    )
    // No commander default from the environment: help and usage errors print defaults, and a
    // secret must not reach a terminal or a CI log that way.
    .option('--token <token>', 'bearer token of the agent API (default: $NETNS_AGENT_TOKEN)')
    .option(
      '--etcd <urls>',
      'read and write the configuration in etcd (comma-separated endpoints) instead of through the agent',
      process.env.NETNS_AGENT_ETCD,
    );
  addEtcdAccessOptions(program, process.env)
    .option(
      '--store <file>',
      "read and write the configuration in the agent's embedded store file (the daemon's default: /var/lib/netns-agent/store.db) instead of through the agent",
      process.env.NETNS_AGENT_STORE,
    )
    .option(
      '--label <label>',
      'agent label used to expand short keys',
      parseLabel,
      process.env.MICROSERVICE_LABEL ?? 'vpp1',
    )
    .addOption(
      new Option(
        '-o, --output <format>',
        'output format (default: tables for lists, YAML or JSON for nested values)',
      ).choices(['json', 'yaml', 'table']),
    )
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 error, 2 bad usage / not found, 3 agent or its datastore unreachable, 4 refused (token), 5 invalid values (also a value or file that is not JSON or YAML), 6 not configured in time (--wait).',
    )
    // Before the commands are declared, so that they inherit it: main() maps usage errors to exit 2.
    .exitOverride();

  const globals = (): GlobalOptions => {
    const options = program.opts<Omit<GlobalOptions, 'output' | 'tableAsked'> & { output?: OutputFormat }>();
    return { ...options, output: options.output ?? 'table', tableAsked: options.output === 'table' };
  };
  /** What a command did: a sentence in the table form, the same as data with -o json|yaml. */
  const tell = (sentence: string, data: unknown): void => {
    const { output } = globals();
    print(output === 'table' ? sentence : render(data, output));
  };
  const client = (): ApiClient => {
    const g = globals();
    const token = g.token ?? process.env.NETNS_AGENT_TOKEN;
    return new ApiClient({ server: g.server, ...(token ? { token } : {}) });
  };
  /** Configuration commands go through the agent unless --etcd or --store says otherwise. */
  const throughAgent = (g: GlobalOptions): boolean => parseEndpoints(g.etcd).length === 0 && !g.store;
  /**
   * Runs a configuration command on the agent's API, on etcd or on the store file, and closes the
   * connection. `writes`: the command stores values (only then may a missing store file be made).
   */
  const withConfig = async (writes: boolean, run: (config: ConfigAccess) => Promise<void>): Promise<void> => {
    const g = globals();
    const endpoints = parseEndpoints(g.etcd);
    if (endpoints.length && g.store) throw new CliError('--etcd and --store: give one of them', 2);
    const { tls, auth, problems } = etcdAccess(endpoints, g, process.env.NETNS_AGENT_ETCD_PASSWORD);
    problems.push(...etcdFlagsWithoutEtcd(program, endpoints));
    if (problems.length) throw new CliError(problems.join('\n'), 2);
    const config = endpoints.length
      ? await etcdConfigAccess(endpoints, tls, auth)
      : g.store
        ? await sqliteConfigAccess(g.store, writes)
        : new ApiConfigAccess(client(), g.server);
    try {
      await run(config);
    } finally {
      await config.close();
    }
  };

  program
    .command('put')
    .description('store a value (JSON) under a key; FILE or - for standard input')
    .argument('<key>')
    .argument('<file>')
    .option('--wait', 'then wait until the agent has configured it; exit 6 if not in time')
    .option('--wait-timeout <seconds>', 'how long --wait waits (implies it; default 30)')
    .action(async (key: string, file: string, options: { wait?: boolean; waitTimeout?: string }) => {
      const fullKey = expandKey(key, globals().label);
      const waitMs = waitOption(options.wait, options.waitTimeout);
      const valueText = readInput(file);
      let revision: number | undefined;
      await withConfig(true, async (config) => {
        const outcome = await config.put(fullKey, valueText);
        if (!outcome.ok) {
          const headline = refusalHeadline(fullKey, outcome.errors);
          throw new CliError(
            `${headline}:\n${outcome.errors.map((e) => `  ${e.field}: ${e.message}`).join('\n')}`,
            5,
            { error: headline, key: fullKey, errors: outcome.errors },
          );
        }
        revision = outcome.revision;
      });
      if (waitMs === undefined) return tell(`stored ${fullKey}`, { key: fullKey, stored: true });
      if (globals().output === 'table') print(`stored ${fullKey}`);
      const startedAt = Date.now();
      const around = throughAgent(globals()) ? undefined : new Map([[fullKey, valueText]]);
      const waited = await waitConfigured(client(), [fullKey], revision, waitMs, around).catch(
        (error: unknown) => {
          // The agent went away while waiting: what was done (stored) is still said, as data too.
          if (globals().output !== 'table') tell('', { key: fullKey, stored: true, configured: false });
          throw error;
        },
      );
      const seconds = Number(((Date.now() - startedAt) / 1000).toFixed(1));
      const not = waited.notConfigured[0];
      const data = {
        key: fullKey,
        stored: true,
        configured: !not,
        ...(not ? { state: not.state, why: not.why } : {}),
        seconds,
      };
      if (!not) return tell(`configured ${fullKey} (waited ${seconds} s)`, data);
      // As data too with -o json|yaml, then the error and exit 6.
      if (globals().output !== 'table') tell('', data);
      // Invalid (the agent refused the value: a claim another item holds): said at once, as 5.
      if (not.state === 'invalid') throw new CliError(`${fullKey} is invalid: ${not.why}`, 5);
      throw new CliError(
        `${fullKey} not configured ${waited.failedForGood ? '(no retry planned)' : `within ${waitMs / 1000} s`}: ` +
          `${not.state}${not.why ? `: ${not.why}` : ''}`,
        6,
      );
    });

  program
    .command('get')
    .description('show the value under a key, or every value under a prefix')
    .argument('[keyOrPrefix]')
    .action(async (arg: string | undefined) => {
      const g = globals();
      const prefix = expandPrefix(arg, g.label);
      let entries: { key: string; value: unknown }[] = [];
      await withConfig(false, async (config) => {
        entries = await config.list(prefix);
      });
      // A key names one value: `interface/veth1` must not show veth10 when veth1 is missing.
      if (parseConfigKey(prefix) || parseStatusKey(prefix)) {
        const exact = entries.find((e) => e.key === prefix);
        if (!exact) throw new CliError(`no value under ${prefix}`, 2);
        if (g.tableAsked) return print(fieldTable(exact.value));
        return print(render(exact.value, g.output === 'table' ? 'json' : g.output));
      }
      if (entries.length === 0) throw new CliError(`nothing under ${prefix}`, 2);
      if (g.tableAsked) return print(keyedFieldTable(entries));
      print(render(entries, g.output === 'table' ? 'json' : g.output));
    });

  addDelCommand(program, { globals, client, print, tell, withConfig, throughAgent });

  program
    .command('list')
    .description("list the keys of the agent's configuration")
    .action(async () => {
      const g = globals();
      let entries: { key: string }[] = [];
      await withConfig(false, async (config) => {
        entries = await config.list(expandPrefix(undefined, g.label));
      });
      // No keys: no line (an empty line would pass for a key to a script reading the lines).
      if (g.output === 'table' && entries.length === 0) return;
      print(
        g.output === 'table'
          ? entries.map((e) => e.key).join('\n')
          : render(
              entries.map((e) => e.key),
              g.output,
            ),
      );
    });

  addFileCommands(program, { globals, client, print, tell, withConfig, throughAgent });

  program
    .command('status')
    .description(
      'state of every item (configured, pending, failed, invalid), or of one; the table leaves out ' +
        'items deleted from the configuration (removed) unless --all',
    )
    .argument('[key]')
    .option('--all', 'show removed items too (the agent keeps the last 1000)')
    .action(async (key: string | undefined, options: { all?: boolean }) => {
      const g = globals();
      const api = client();
      // The agent asked may serve another label than the one given (or the default): its items.
      const { label: served } = (await api.expectOk('GET', '/v1/about')) as { label?: unknown };
      if (typeof served === 'string' && served !== g.label)
        process.stderr.write(
          `note: the agent at ${g.server} serves the label ${served}, not ${g.label} (--label)` +
            `${key ? '' : ': these are its items'}\n`,
        );
      if (key) {
        // A named namespace the agent makes has a status of its own (not a configuration key).
        const namespace = /^named-namespace\/([^/]+)$/.exec(key)?.[1];
        const path =
          namespace !== undefined
            ? `/v1/status/named-namespace/${encodeURIComponent(namespace)}`
            : `/v1/status${keyPath(expandKey(key, g.label))}`;
        const status = await statesWhenKnown(api, path);
        if (g.tableAsked) return print(fieldTable(status));
        return print(render(status, g.output === 'table' ? 'yaml' : g.output));
      }
      // The states are the kernel's; say so when the agent cannot see its datastore.
      const { datastore } = (await api.expectOk('GET', '/v1/status?summary')) as {
        datastore?: { state: string; since: string; error?: string; configurationReadAt?: string };
      };
      const outage =
        datastore && datastore.state !== 'in-sync'
          ? `the agent cannot reach its datastore (${datastore.state} since ${datastore.since}` +
            `${datastore.error ? `: ${datastore.error}` : ''})`
          : undefined;
      // Started while its datastore was away: no item is known yet.
      if (outage && datastore?.configurationReadAt === undefined) {
        throw new CliError(
          `${outage} and has not read its configuration since it started: its items are not known yet; ` +
            'the kernel is left as it is until it has',
          3,
        );
      }
      const rows = (await statesWhenKnown(api, '/v1/status')) as Record<string, unknown>[];
      if (g.output !== 'table') print(render(rows, g.output));
      else {
        // By key, and an invalid item's field errors as its reason.
        const view = rows
          .filter((r) => options.all === true || r.state !== 'removed')
          .map((r): Record<string, unknown> => ({ ...r, reason: statusWhy(r) }))
          .sort((a, b) => String(a.key).localeCompare(String(b.key)));
        print(render(view, g.output, ['key', 'state', 'reason']));
      }
      if (outage)
        process.stderr.write(
          `warning: ${outage}; the kernel is kept as it is and changes to the configuration are not seen yet\n`,
        );
    });

  program
    .command('dump')
    .description('what the kernel holds in every namespace the agent sees, managed or not')
    .action(async () => {
      const g = globals();
      const dump = await client().expectOk('GET', '/v1/kernel');
      print(g.tableAsked ? dumpTable(dump) : render(dump, g.output === 'table' ? 'yaml' : g.output));
    });

  program
    .command('history')
    .description('recent transactions of the agent')
    .action(async () => {
      const g = globals();
      const history = await client().expectOk('GET', '/v1/history');
      print(g.tableAsked ? historyTable(history) : render(history, g.output === 'table' ? 'yaml' : g.output));
    });

  program
    .command('watch')
    .description('follow item state changes and interface index events')
    .option(
      '--follow',
      'when the stream ends (the agent restarts, or cut this client off), connect again and go on from the last event seen',
    )
    .action(async (options: { follow?: boolean }) => {
      const g = globals();
      let lastEventId: string | undefined;
      const show = (type: string, data: unknown, id: string | undefined): void => {
        if (id !== undefined) lastEventId = id;
        if (type === 'reset') {
          // Events were lost in between (the agent restarted, or kept too few): what changed
          // meanwhile is only in the states.
          process.stderr.write(
            `netnsctl: events were missed (${String((data as { reason?: unknown }).reason)}); \`netnsctl status\` shows the states now\n`,
          );
        }
        if (g.output === 'table') {
          const d = data as Record<string, unknown>;
          print(`${new Date().toISOString()} ${type} ${watchWords(type, d)}`.trimEnd());
        } else if (g.output === 'yaml') print(`---\n${render({ type, data }, 'yaml')}`);
        else print(JSON.stringify({ type, data }));
      };
      if (!options.follow) {
        await client().events(show);
        // The stream ends only when the agent does (it is stopping).
        throw new CliError('the agent ended the event stream (is it stopping?)', 3);
      }
      // The first connection's errors are as without --follow (an agent not there: exit 3).
      let connectedOnce = false;
      let open = false;
      const opened = (): void => {
        connectedOnce = true;
        open = true;
      };
      for (;;) {
        try {
          // Before any event, the id the agent started the stream at: an agent of another run
          // (restarted meanwhile) then says that events were missed, as after an event.
          await client().events(show, { onOpen: opened, lastEventId, onId: (id) => (lastEventId = id) });
        } catch (error) {
          // Not there yet, or gone (also abruptly: killed): wait on; refused (a wrong token) or
          // anything else: stop.
          if (!connectedOnce || !agentAway(error)) throw error;
        }
        if (open)
          process.stderr.write('netnsctl: the agent ended the event stream; waiting for it to come back\n');
        open = false;
        await new Promise((resolve) => setTimeout(resolve, FOLLOW_RETRY_MS));
      }
    });

  program
    .command('example')
    .description(`print a ready-made configuration (${Object.keys(EXAMPLES).join(', ')})`)
    .argument('[name]')
    .action((name: string | undefined) => {
      const g = globals();
      if (!name && g.output !== 'table') {
        // -o json|yaml asked for data: the list as data too (it was the text table all the same).
        const list = Object.entries(EXAMPLES).map(([n, e]) => ({ name: n, description: e.description }));
        return print(render(list, g.output));
      }
      if (!name) {
        print(
          Object.entries(EXAMPLES)
            .map(([n, e]) => `${n.padEnd(13)} ${e.description}`)
            .join('\n'),
        );
        return;
      }
      const example = EXAMPLES[name];
      if (!example)
        throw new CliError(`no example ${name}; there are: ${Object.keys(EXAMPLES).join(', ')}`, 2);
      if (g.output === 'json') return print(JSON.stringify(example.documents, null, 2));
      print(example.documents.map((d) => stringify(d).trimEnd()).join('\n---\n'));
    });

  addReportCommand(program, { globals, client, print, tell, withConfig, throughAgent });

  return program;
}

/** What `watch` prints of an event in a table: a link with its ifindex, an invalid item with its field errors. */
function watchWords(type: string, d: Record<string, unknown>): string {
  if (type === 'transaction') return transactionWords(d);
  if (type === 'reset') return `events missed: ${String(d.reason)}`;
  if (type === 'link') {
    const renamed = typeof d.previousName === 'string' ? ` (was ${d.previousName})` : '';
    return `${String(d.name)} (ifindex ${String(d.ifindex)}) ${String(d.kind)}${renamed}`;
  }
  return `${String(d.key ?? '')} ${String(d.state ?? '')} ${statusWhy(d)}`;
}

/** How long `watch --follow` waits between attempts to reach the agent again. */
const FOLLOW_RETRY_MS = 1000;

/** An error that means the agent is not there (stopped, restarting), not that it refused. */
function agentAway(error: unknown): boolean {
  if (error instanceof CliError) return error.exitCode === 3;
  const code = (error as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'ECONNREFUSED' || (error as Error).message === 'aborted';
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`netnsctl: ${error.message}\n`);
      // Asked for data: what went wrong is data too (e.g. an invalid value's field errors).
      const format = (program.opts() as { output?: string }).output;
      if (error.details !== undefined && (format === 'json' || format === 'yaml'))
        process.stdout.write(`${render(error.details, format)}\n`);
      return error.exitCode;
    }
    const code = (error as { code?: string; exitCode?: number }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      // Help and version exit 0; every usage error (unknown command or option, a missing
      // argument, a value not among the choices) exits 2, as the README says.
      return (error as { exitCode?: number }).exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(`netnsctl: ${(error as Error).message}\n`);
    return 1;
  }
}
