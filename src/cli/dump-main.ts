/** `make run` until the daemon exists: print the kernel state of every namespace. */
import { dumpAll, renderDump } from './kernel-dump.js';

const json = process.argv.includes('--json');
const dumps = await dumpAll();
process.stdout.write((json ? JSON.stringify(dumps, null, 2) : renderDump(dumps)) + '\n');
