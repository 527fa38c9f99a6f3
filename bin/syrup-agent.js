#!/usr/bin/env node
// syrup-agent: launcher; registers the TypeScript loader (tsx) so policies can be .ts files, then runs agent/cli.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../agent/cli.ts');
const code = await main(process.argv.slice(2));
process.exit(code);
