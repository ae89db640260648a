/** Entry of bin/netnsctl. Not a top-level await: the bundle (scripts/bundle.mjs) is a CommonJS script. */
import { main } from './netnsctl/main.js';
import { routeProcessWarnings } from '../util/process-warnings.js';

routeProcessWarnings((warning) =>
  process.stderr.write(`netnsctl: warning: ${warning.code ? `${warning.code} ` : ''}${warning.message}\n`),
);

// Output into a pipe that closed (`netnsctl list | head -1`): the reader has what it wanted.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

void main(process.argv).then((code) => {
  process.exitCode = code;
});
