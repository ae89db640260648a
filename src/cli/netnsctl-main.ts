/** Entry of bin/netnsctl. Not a top-level await: the bundle (scripts/bundle.mjs) is a CommonJS script. */
import { main } from './netnsctl/main.js';

void main(process.argv).then((code) => {
  process.exitCode = code;
});
