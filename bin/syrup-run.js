#!/usr/bin/env node
// syrup-run: launcher for client/run-cli.ts (through tsx): runs an unmodified program with its threads under an enclave's policy.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../client/run-cli.ts');
process.exit(await main(process.argv.slice(2)));
