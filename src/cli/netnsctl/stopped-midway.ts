/**
 * What a command that writes many keys (`apply -f`, `del`) says when it is stopped midway (the
 * agent or the store went away): how many it did, which it did not, and which were sent without an
 * answer (maybe done), so that the rest can be found or the command run again knowingly.
 */
import { counted } from '../../util/counted.js';

/**
 * A failed write that cannot have been made: its one endpoint refused the connection. With several
 * etcd members a write is tried on another after a failure, and an earlier try may have been made.
 */
export function neverSent(error: Error, endpoints: number): boolean {
  return endpoints <= 1 && /ECONNREFUSED|No connection established/.test(error.message);
}

/** Up to ten keys, then "...". */
export function listKeys(keys: readonly string[]): string {
  return `${keys.slice(0, 10).join(', ')}${keys.length > 10 ? ', ...' : ''}`;
}

/** The stderr lines, in the command's words, e.g. storing / stored / item (the noun in the singular). */
export function stoppedMidway(
  words: { doing: string; done: string; noun: string },
  count: number,
  total: number,
  notDone: readonly string[],
  unanswered: readonly string[],
): string {
  const { doing, done, noun } = words;
  return (
    `netnsctl: stopped after ${doing} ${count} of ${counted(total, noun)}` +
    (notDone.length > 0 ? `; not ${done} (${notDone.length}): ${listKeys(notDone)}` : '') +
    '\n' +
    (unanswered.length > 0
      ? `netnsctl: sent but not answered, maybe ${done} (${unanswered.length}): ${listKeys(unanswered)}\n`
      : '')
  );
}
