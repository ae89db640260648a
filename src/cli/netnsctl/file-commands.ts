/** netnsctl's commands on files of items: `apply -f` stores them, `plan -f` shows what they would change. */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { CliError, type ApiClient } from './client.js';
import { loadItems, type CommandContext } from './context.js';
import type { FileItem } from './documents.js';
import { render } from './output.js';
import { planTable } from './tables.js';
import { neverSent, stoppedMidway } from './stopped-midway.js';
import { parseEndpoints } from '../../datastore/endpoints.js';
import { waitConfigured, waitOption } from './wait-configured.js';
import { statesWhenKnown } from './states-known.js';
import { counted } from '../../util/counted.js';
import { inParts } from './parts.js';
import { WHOLE_VALUE, type FieldError } from '../../model/index.js';

/** Items of a file the agent's dry run calls invalid (claims of others), with their field errors. */
async function refusedByAgent(client: ApiClient, items: FileItem[]): Promise<Map<string, FieldError[]>> {
  const answer = (await statesWhenKnown(
    client,
    '/v1/plan',
    'POST',
    JSON.stringify({ puts: items.map((i) => ({ key: i.key, value: JSON.parse(i.valueText) as unknown })) }),
  )) as { summary?: { entries?: { key: string; change: string; why: string }[] } };
  const inFile = new Set(items.map((i) => i.key));
  return new Map(
    (answer.summary?.entries ?? [])
      .filter((e) => e.change === 'invalid' && inFile.has(e.key))
      .map((e) => [e.key, reasonErrors(e.key, e.why)]),
  );
}

/** A field path as the model names them: `mtu`, `namespace.name`, `ip_addresses[1]`, `$`. */
const FIELD = String.raw`[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*|\[\d+\])*`;

/**
 * The dry run's reason for an invalid item (its field errors joined as `field: message; ...`, by
 * src/agent/plan-view.ts) back as field errors, as the file's own invalid items have them; a reason
 * that names no field is one error of the whole value (`$`).
 */
export function reasonErrors(key: string, why: string): FieldError[] {
  if (!new RegExp(`^${FIELD}: `).test(why)) return [{ key, field: WHOLE_VALUE, message: why }];
  return why.split(new RegExp(`; (?=${FIELD}: )`)).map((part) => {
    const colon = part.indexOf(': ');
    return { key, field: part.slice(0, colon), message: part.slice(colon + 2) };
  });
}

/** `apply -f FILE` and `plan -f FILE`: the commands that read files of items. */
export function addFileCommands(program: Command, ctx: CommandContext): void {
  const { globals, client, print, tell, withConfig, throughAgent } = ctx;
  program
    .command('apply')
    .description('store every item of a YAML/JSON file (documents with kind and name)')
    .requiredOption('-f, --file <file>', 'file, or - for standard input')
    .option('--wait', 'then wait until the agent has configured every item; exit 6 if not all are in time')
    .option('--wait-timeout <seconds>', 'how long --wait waits (implies it; default 30)')
    .action(async (options: { file: string; wait?: boolean; waitTimeout?: string }) => {
      const g = globals();
      const waitMs = waitOption(options.wait, options.waitTimeout);
      const etcdEndpoints = parseEndpoints(g.etcd).length;
      const loaded = loadItems(options.file, g.label);
      const problems = loaded.problems;
      let items = loaded.items;
      // Through the agent, what only it can tell is asked first (its dry run): an item whose host
      // name another item claims would be stored only to show invalid. Such items are left out.
      if (throughAgent(g) && items.length > 0) {
        const refused = await refusedByAgent(client(), items);
        items = items.filter((item) => !refused.has(item.key));
        for (const [key, errors] of refused) problems.push({ index: -1, key, errors });
      }
      for (const p of problems) {
        const where = p.key ?? `document ${p.index + 1}`;
        const text =
          typeof p.errors === 'string'
            ? p.errors
            : p.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
        process.stderr.write(`invalid ${where}: ${text}\n`);
      }
      const bar =
        items.length >= 50 && process.stderr.isTTY
          ? new cliProgress.SingleBar(
              { format: 'apply [{bar}] {value}/{total}' },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
      bar?.start(items.length, 0);
      let stored = 0;
      const storedKeys = new Set<string>();
      /** The highest store revision of the puts, when the store said (the agent's gate for --wait). */
      let lastRevision: number | undefined;
      /** Puts sent and not answered (no answer, or the connection lost): maybe stored. */
      const unanswered = new Set<string>();
      const failures: string[] = [];
      // In parts of a few hundred values, each one write to the store (the agent takes each part in
      // as one change): a PUT per item made thousands of requests and as many small transactions.
      const storing = withConfig(true, async (config) => {
        for (const part of inParts(items, (item) => item.valueText.length)) {
          let left = part;
          while (left.length > 0) {
            const outcome = await config.putMany(left).catch((error: unknown) => {
              // Stopped: the part is not stored when the agent said so (an answer, in the
              // details) or it never left (the connection refused); else maybe (no answer, or a
              // failure of the agent's store after part of it may have been written).
              const answered = error instanceof CliError && error.details !== undefined;
              if (!answered && !neverSent(error as Error, etcdEndpoints))
                for (const item of left) unanswered.add(item.key);
              throw error;
            });
            if (outcome.ok) {
              stored += left.length;
              for (const item of left) storedKeys.add(item.key);
              if (outcome.revision !== undefined)
                lastRevision = Math.max(lastRevision ?? 0, outcome.revision);
              bar?.increment(left.length);
              break;
            }
            // Refused values (none of the part was stored): the others are sent again without them.
            const refused = new Map<string, string[]>();
            for (const e of outcome.errors) {
              // An error that names no item of the part refuses them all.
              const keys = left.some((i) => i.key === e.key) ? [e.key] : left.map((i) => i.key);
              for (const key of keys)
                refused.set(key, [...(refused.get(key) ?? []), `${e.field}: ${e.message}`]);
            }
            for (const [key, errors] of refused) failures.push(`${key}: ${errors.join('; ')}`);
            bar?.increment(refused.size);
            left = left.filter((i) => !refused.has(i.key));
          }
        }
      });
      try {
        await storing;
      } catch (error) {
        bar?.stop();
        if (error instanceof CliError) {
          // Stopped midway (the agent went away, or could not store): say what is stored, so the
          // file can be applied again knowingly (a put is idempotent) or the rest found.
          const missing = items
            .filter((item) => !storedKeys.has(item.key) && !unanswered.has(item.key))
            .map((item) => item.key);
          const unknown = [...unanswered];
          process.stderr.write(
            stoppedMidway(
              { doing: 'storing', done: 'stored', noun: 'item' },
              stored,
              items.length,
              missing,
              unknown,
            ),
          );
          // As data too (stdout), for scripts that read it.
          if (g.output !== 'table')
            print(
              render(
                {
                  stored,
                  total: items.length + problems.length,
                  invalid: problems.map((p) => ({
                    key: p.key ?? `document ${p.index + 1}`,
                    errors: p.errors,
                  })),
                  storedKeys: [...storedKeys],
                  notStored: missing,
                  maybeStored: unknown,
                  error: error.message,
                },
                g.output,
              ),
            );
        }
        throw error;
      }
      bar?.stop();
      for (const f of failures) process.stderr.write(`failed ${f}\n`);
      const storedSentence = `stored ${stored} of ${counted(items.length + problems.length, 'item')} (${problems.length} invalid, ${failures.length} failed to store); the agent applies them: see netnsctl status`;
      const storedData = {
        stored,
        total: items.length + problems.length,
        invalid: problems.map((p) => ({ key: p.key ?? `document ${p.index + 1}`, errors: p.errors })),
        failed: failures,
      };
      const waiting = waitMs !== undefined && storedKeys.size > 0 && !problems.length && !failures.length;
      // Stored: the agent applies them as it takes them in. With --wait and -o json|yaml, one
      // document at the end says both.
      if (!waiting || g.output === 'table') tell(storedSentence, storedData);
      if (problems.length || failures.length) throw new CliError('some items were not stored', 5);
      if (!waiting) return;
      const startedAt = Date.now();
      const around = throughAgent(g)
        ? undefined
        : new Map(items.filter((i) => storedKeys.has(i.key)).map((i) => [i.key, i.valueText]));
      const waited = await waitConfigured(client(), [...storedKeys], lastRevision, waitMs, around).catch(
        (error: unknown) => {
          // The agent went away while waiting: what was stored is still said, as data too.
          if (g.output !== 'table') tell('', storedData);
          throw error;
        },
      );
      const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
      for (const n of waited.notConfigured)
        process.stderr.write(`not configured ${n.key}: ${n.state}${n.why ? `: ${n.why}` : ''}\n`);
      const waitedData = {
        configured: waited.configured,
        notConfigured: waited.notConfigured,
        takenIn: waited.takenIn,
        seconds: Number(seconds),
      };
      tell(
        waited.notConfigured.length === 0
          ? `configured ${waited.configured.length} of ${counted(storedKeys.size, 'item')} (waited ${seconds} s)`
          : `configured ${waited.configured.length} of ${counted(storedKeys.size, 'item')} after ${seconds} s` +
              (waited.takenIn ? '' : ' (the agent had not taken in every put yet)'),
        { ...storedData, wait: waitedData },
      );
      if (waited.notConfigured.length > 0 && waited.notConfigured.every((n) => n.state === 'invalid'))
        throw new CliError(
          `${counted(waited.notConfigured.length, 'item')} invalid (the agent refused ${waited.notConfigured.length === 1 ? 'its value' : 'their values'})`,
          5,
        );
      if (waited.notConfigured.length > 0)
        throw new CliError(
          waited.failedForGood
            ? `${counted(waited.notConfigured.length, 'item')} not configured: invalid, failed with no retry planned, or waiting for one that is`
            : `${counted(waited.notConfigured.length, 'item')} not configured within ${waitMs / 1000} s`,
          6,
        );
    });

  program
    .command('plan')
    .description('show what applying a file would change, without changing anything')
    .requiredOption('-f, --file <file>', 'file, or - for standard input')
    .option('--replace', 'the file is the whole configuration: show what everything else would lose')
    .action(async (options: { file: string; replace?: boolean }) => {
      const g = globals();
      const { items, problems } = loadItems(options.file, g.label);
      if (options.replace && problems.length > 0) {
        // The file is to be the whole configuration: an item it could not read would be planned
        // as removed, though applying would keep it. No plan rather than a wrong one.
        const invalid = problems.map((p) => ({ key: p.key ?? `document ${p.index + 1}`, errors: p.errors }));
        print(render({ invalid }, g.output === 'table' ? 'yaml' : g.output));
        throw new CliError(
          `${counted(problems.length, 'invalid item')} in ${options.file}: a --replace plan needs every item of the file; fix them first`,
          5,
        );
      }
      const plan = await statesWhenKnown(
        client(),
        '/v1/plan',
        'POST',
        JSON.stringify({
          puts: items.map((i) => ({ key: i.key, value: JSON.parse(i.valueText) as unknown })),
          deletes: [],
          ...(options.replace ? { replace: true } : {}),
        }),
      );
      // One `invalid` list: the file's own refused items (never sent) and those the agent refused.
      // Two lists, one of them empty, read as a contradiction.
      const { invalid: agentInvalid = [], ...planned } = plan as { invalid?: unknown[] };
      print(
        g.tableAsked
          ? planTable(plan, problems)
          : render(
              {
                // As `apply` names them: a document without a key by its number.
                invalid: [
                  ...problems.map((p) => ({ key: p.key ?? `document ${p.index + 1}`, errors: p.errors })),
                  ...agentInvalid,
                ],
                plan: planned,
              },
              g.output === 'table' ? 'yaml' : g.output,
            ),
      );
      // As apply: a file with invalid items is an error, though the plan of the rest is shown.
      // Refused by the agent's checks, or by a conflict with another item (a host name claimed twice).
      const answer = plan as {
        invalid?: { key: string }[];
        summary?: { entries?: { key: string; change: string }[] };
      };
      // Only the file's items: others of the configuration may be invalid already.
      const inFile = new Set(items.map((i) => i.key));
      const refused = new Set(
        [
          ...(answer.invalid ?? []).map((i) => i.key),
          ...(answer.summary?.entries ?? []).filter((e) => e.change === 'invalid').map((e) => e.key),
        ].filter((key) => inFile.has(key)),
      );
      if (problems.length > 0 || refused.size > 0)
        throw new CliError(
          `${counted(problems.length + refused.size, 'invalid item')} in ${options.file}`,
          5,
        );
    });
}
