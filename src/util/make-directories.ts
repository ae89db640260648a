/**
 * `mkdir -p`. Node's own `mkdir(dir, { recursive: true })` never returns when the kernel answers
 * ENOENT for a directory whose parent exists (any path under /proc: `--store /proc/x/store.db`
 * spun a core for ever); this one makes each missing directory in turn and reports that error.
 */
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

export function makeDirectories(dir: string, mode = 0o777): void {
  const missing: string[] = [];
  for (let current = path.resolve(dir); ;) {
    try {
      if (!statSync(current).isDirectory())
        throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${current}'`), {
          code: 'ENOTDIR',
          path: current,
        });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      missing.push(current);
      const parent = path.dirname(current);
      if (parent === current) break;
      current = parent;
    }
  }
  for (const directory of missing.reverse()) {
    try {
      mkdirSync(directory, { mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}
