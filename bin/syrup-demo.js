#!/usr/bin/env node
// syrup-demo: launcher for demo/run.ts (registers tsx first).
import { register } from 'tsx/esm/api';

register();
await import('../demo/run.ts');
