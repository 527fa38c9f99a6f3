#!/usr/bin/env -S node --single-threaded --no-memory-reducer
// syrup-agent: launcher; registers the TypeScript loader (tsx) so policies can be .ts files, then runs agent/cli.ts. The shebang's V8 flags are agent/v8-flags.ts's AGENT_V8_FLAGS (a test checks they match).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../agent/cli.ts');
const code = await main(process.argv.slice(2));
process.exit(code);
