/**
 * `netnsctl del`: the values under the keys given, or of every item of a file as `apply -f` reads
 * it, deleted 16 at a time. Stopped midway (the agent or the store went away), it says what was
 * deleted, what was not, and what was sent without an answer, as `apply` does for what it stores.
 */
import type { Command } from 'commander';
import { CliError } from './client.js';
import { loadItems, type CommandContext } from './context.js';
import { expandKey } from './keys.js';
import { listKeys, neverSent, stoppedMidway } from './stopped-midway.js';
import { parseEndpoints } from '../../datastore/endpoints.js';
import { counted } from '../../util/counted.js';

export function addDelCommand(program: Command, ctx: CommandContext): void {
  const { globals, tell, withConfig } = ctx;
  program
    .command('del')
    .description('delete the value under each key given, or of each item of a YAML/JSON file (-f)')
    .argument('[keys...]')
    .option(
      '-f, --file <file>',
      'delete the items of this file (as apply -f reads it), or - for standard input',
    )
    .action(async (given: string[], options: { file?: string }) => {
      const g = globals();
      const keys = given.map((key) => expandKey(key, g.label));
      /** Documents of the file no key can be made of (a kind that is not one, no name). */
      const unkeyed: string[] = [];
      if (options.file !== undefined) {
        const loaded = loadItems(options.file, g.label);
        // Deleting needs the keys only: an item whose value is invalid is deleted all the same.
        keys.push(...loaded.items.map((item) => item.key));
        for (const p of loaded.problems) {
          if (p.key !== undefined) keys.push(p.key);
          else
            unkeyed.push(
              `document ${p.index + 1}: ${typeof p.errors === 'string' ? p.errors : p.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
            );
        }
      }
      for (const problem of unkeyed) process.stderr.write(`not deleted (no key): ${problem}\n`);
      const unique = [...new Set(keys)];
      if (unique.length === 0) {
        if (unkeyed.length > 0) throw new CliError(`${options.file}: no document names an item`, 5);
        throw new CliError(
          options.file !== undefined ? `${options.file} holds no item` : 'del: give a key, or -f FILE',
          2,
        );
      }
      const deleted: string[] = [];
      const missing: string[] = [];
      /** Sent and not answered: maybe deleted. */
      const unanswered: string[] = [];
      let failure: unknown;
      await withConfig(false, async (config) => {
        const queue = [...unique];
        let stopped = false;
        // Every worker settles before a stop is reported: a deletion in flight then is known done or not.
        const settled = await Promise.allSettled(
          Array.from({ length: Math.min(16, queue.length) }, async () => {
            for (let key = queue.shift(); key !== undefined && !stopped; key = queue.shift()) {
              try {
                ((await config.delete(key)) ? deleted : missing).push(key);
              } catch (error) {
                stopped = true;
                // One that never left (its one endpoint refused the connection) was not deleted.
                const refused =
                  error instanceof CliError &&
                  error.details === undefined &&
                  neverSent(error, parseEndpoints(g.etcd).length);
                if (!refused) unanswered.push(key);
                throw error;
              }
            }
          }),
        );
        const failed = settled.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      }).catch((error: unknown) => {
        failure = error;
      });
      const many = options.file !== undefined || given.length > 1;
      if (failure !== undefined) {
        if (many) {
          const notDeleted = unique.filter(
            (k) => !deleted.includes(k) && !missing.includes(k) && !unanswered.includes(k),
          );
          process.stderr.write(
            stoppedMidway(
              { doing: 'deleting', done: 'deleted', noun: 'key' },
              deleted.length,
              unique.length,
              notDeleted,
              unanswered,
            ),
          );
          if (g.output !== 'table')
            tell('', {
              deleted: deleted.sort(),
              missing: missing.sort(),
              notDeleted,
              maybeDeleted: unanswered,
            });
        }
        throw failure;
      }
      if (!many) {
        const key = unique[0]!;
        if (missing.length > 0) {
          // As data too with -o json|yaml (what it did: nothing), then the error and exit 2.
          if (g.output !== 'table') tell('', { key, deleted: false });
          throw new CliError(`no value under ${key}`, 2);
        }
        return tell(`deleted ${key}`, { key, deleted: true });
      }
      tell(`deleted ${deleted.length} of ${counted(unique.length, 'key')}`, {
        deleted: deleted.sort(),
        missing: missing.sort(),
      });
      // The keys named, not "them": after "N documents name no item" that read as the documents.
      const noValue =
        missing.length === 0
          ? ''
          : unique.length === 1
            ? `no value under ${unique[0]!}`
            : `no value under ${missing.length === unique.length ? 'any' : missing.length} of the ${unique.length} keys: ${listKeys(missing.sort())}`;
      // A document that names no item is bad input (exit 5), before keys with nothing to delete (2).
      if (unkeyed.length > 0)
        throw new CliError(
          `${unkeyed.length === 1 ? '1 document names' : `${unkeyed.length} documents name`} no item (not deleted)${noValue ? `; ${noValue}` : ''}`,
          5,
        );
      if (noValue) throw new CliError(noValue, 2);
    });
}
