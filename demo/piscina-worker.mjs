// piscina-worker.mjs: a piscina worker of the demo service: registers its thread with the enclave, then serves jobs.
// Plain JS: piscina loads it as the worker entry, before any TypeScript support exists in the thread.
import fs from 'node:fs';
import { register } from 'tsx/esm/api';
import { workerData } from 'piscina';

register();
const { attach } = await import('../client/index.ts');
const enc = attach(workerData.enclave);
// From here on this thread runs only when and where the policy places it.
const task = enc.register();
let jobs = 0;
const cpus = new Set();

/** One job: CPU-bound hashing for about `us` microseconds; reports who ran it. */
export default function job({ us }) {
  const end = performance.now() + us / 1000;
  let h = 2166136261;
  while (performance.now() < end) for (let i = 0; i < 256; i++) h = Math.imul(h ^ i, 16777619);
  jobs++;
  cpus.add(cpuOf());
  return { tid: task.tid, slot: task.slot, jobs, runtimeNs: task.runtimeNs(), cpus: [...cpus], h };
}

function cpuOf() {
  // Field 39 of /proc/thread-self/stat: the cpu the thread last ran on.
  return Number(fs.readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ')[36]);
}
