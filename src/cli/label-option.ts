/** `--label` of both programs: a key segment, checked when the command line is read (exit 2). */
import { InvalidArgumentError } from 'commander';
import { itemNameProblem } from '../model/names.js';

export function parseLabel(value: string): string {
  const problem = itemNameProblem(value);
  if (problem !== undefined) throw new InvalidArgumentError(`label ${JSON.stringify(value)} ${problem}`);
  return value;
}
