// run-delay.ts: how long the benchmark's own threads waited runnable for a cpu during a phase (/proc schedstat run_delay), per role.
/*
 * The stage split says which half of wake-to-run a tail sits in; this says
 * why. The kernel counts, per thread, the time it spent runnable on a run
 * queue without running (the second field of /proc/<tid>/schedstat). For the
 * agent that is time it could not drain messages or commit because its cpu
 * ran something else (the generator and dispatcher, which preempt it by
 * design on a 2-cpu layout, the server's helpers, kernel threads); for the
 * workers it is time a woken or placed thread waited behind another thread
 * on its worker cpu. Read before and after a phase, as a rate: ms per second.
 */
import { readFileSync } from 'node:fs';

export interface RoleTids {
  agent?: number;
  dispatcher: number;
  generator: number;
  workers: readonly number[];
}

export interface RunDelaySample {
  atMs: number;
  /** Cumulative run-queue wait in ns, by role (workers summed). */
  ns: { agent?: number; dispatcher: number; generator: number; workers: number };
}

/** Run-queue wait per second of the phase, in ms (1000 = a thread that waited the whole time). */
export interface RunDelay {
  /** Absent for the Linux baseline (no agent). */
  agentMsPerS?: number;
  dispatcherMsPerS: number;
  generatorMsPerS: number;
  /** Summed over the workers: with many workers per cpu, time workers spent queued behind each other too. */
  workersMsPerS: number;
}

/** Cumulative run-queue wait of one thread (ns); 0 once it has exited. */
function waitNs(tid: number): number {
  try {
    return Number(readFileSync(`/proc/${tid}/schedstat`, 'utf8').split(' ')[1]) || 0;
  } catch {
    return 0;
  }
}

export function sampleRunDelay(t: RoleTids): RunDelaySample {
  let workers = 0;
  for (const tid of t.workers) workers += waitNs(tid);
  return {
    atMs: Date.now(),
    ns: { ...(t.agent ? { agent: waitNs(t.agent) } : {}), dispatcher: waitNs(t.dispatcher), generator: waitNs(t.generator), workers },
  };
}

export function runDelay(a: RunDelaySample, b: RunDelaySample): RunDelay {
  const secs = Math.max(1e-3, (b.atMs - a.atMs) / 1e3);
  const rate = (x: number, y: number) => Math.round(Math.max(0, y - x) / 1e6 / secs * 100) / 100;
  return {
    ...(a.ns.agent !== undefined && b.ns.agent !== undefined ? { agentMsPerS: rate(a.ns.agent, b.ns.agent) } : {}),
    dispatcherMsPerS: rate(a.ns.dispatcher, b.ns.dispatcher),
    generatorMsPerS: rate(a.ns.generator, b.ns.generator),
    workersMsPerS: rate(a.ns.workers, b.ns.workers),
  };
}
