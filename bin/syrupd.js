#!/usr/bin/env node
// syrupd.js: launcher for the syrupd daemon (net/syrupd.ts), run through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../net/syrupd.ts');
process.exit(await main(process.argv.slice(2)));
