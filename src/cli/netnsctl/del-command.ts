/**
 * `netnsctl del`: the values under the keys given, or of every item of a file as `apply -f` reads
 * it; several keys are deleted in parts of 500, each one write (the agent takes each part in as one
 * change). Stopped midway (the agent or the store went away), it says what was
 * deleted, what was not, and what was sent without an answer, as `apply` does for what it stores.
 */
import type { Command } from 'commander';
import { CliError } from './client.js';
import { loadItems, type CommandContext } from './context.js';
import { expandKey } from './keys.js';
import { listKeys, neverSent, stoppedMidway } from './stopped-midway.js';
import { parseEndpoints } from '../../datastore/endpoints.js';
import { counted } from '../../util/counted.js';
import { inParts } from './parts.js';

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
      const many = options.file !== undefined || given.length > 1;
      await withConfig(false, async (config) => {
        for (const keysOfPart of many ? inParts(unique, (key) => key.length) : [unique]) {
          try {
            if (!many) ((await config.delete(keysOfPart[0]!)) ? deleted : missing).push(keysOfPart[0]!);
            else {
              const had = new Set(await config.deleteMany(keysOfPart));
              for (const key of keysOfPart) (had.has(key) ? deleted : missing).push(key);
            }
          } catch (error) {
            // Not deleted: a part the agent answered (refused, or its datastore away), or one that
            // never left (its one endpoint refused the connection). Any other: maybe deleted.
            const answered = error instanceof CliError && error.details !== undefined;
            if (!answered && !neverSent(error as Error, parseEndpoints(g.etcd).length))
              unanswered.push(...keysOfPart);
            throw error;
          }
        }
      }).catch((error: unknown) => {
        failure = error;
      });
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
