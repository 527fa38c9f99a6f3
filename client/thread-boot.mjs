// thread-boot.mjs: worker_threads entry that makes a TypeScript module runnable in the thread (Node 20 workers don't inherit --import tsx).
// Use: new Worker(new URL('../client/thread-boot.mjs', import.meta.url), { workerData: { entry: tsModuleUrl, ...yours } })
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
