#!/usr/bin/env node
// syrupctl.js: launcher for syrupctl (net/syrupctl.ts), run through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../net/syrupctl.ts');
process.exit(await main(process.argv.slice(2)));
