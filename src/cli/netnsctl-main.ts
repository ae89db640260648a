/** Entry of bin/netnsctl. */
import { main } from './netnsctl/main.js';

process.exitCode = await main(process.argv);
