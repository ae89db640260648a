/**
 * When a process started (clock ticks since boot, /proc/PID/stat field 22): with its pid, it names
 * one process for good, as a pid alone is handed to another process once the first one exits.
 */
import { readFileSync } from 'node:fs';

/** The start time of the process running under `pid`, undefined when none runs (a zombie runs no more). */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields count from its end.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  const started = Number(fields[19]);
  return Number.isSafeInteger(started) ? started : undefined;
}
