// run-delay.ts: how long the benchmark's own threads waited runnable for a cpu during a phase, and how much cpu they used (/proc schedstat), per role.
/*
 * The stage split says which half of wake-to-run a tail sits in; this says
 * why. The kernel counts, per thread, the time it spent runnable on a run
 * queue without running (the second field of /proc/<tid>/schedstat). For the
 * agent that is time it could not drain messages or commit because its cpu
 * ran something else (the generator and dispatcher, which preempt it by
 * design on a 2-cpu layout, the server's helpers, kernel threads); for the
 * workers it is time a woken or placed thread waited behind another thread
 * on its worker cpu. Read before and after a phase, as a rate: ms per second.
 * The first field (time on a cpu) is kept beside it: on a layout where the
 * agent shares its cpu with the generator and dispatcher, their sum against
 * 1000 ms/s is how close that cpu is to full, and the agent's share divided
 * by the rate is its cost per request.
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
  /** Cumulative time on a cpu in ns, same roles. */
  cpuNs: { agent?: number; dispatcher: number; generator: number; workers: number };
}

/** Run-queue wait per second of the phase, in ms (1000 = a thread that waited the whole time). */
export interface RunDelay {
  /** Absent for the Linux baseline (no agent). */
  agentMsPerS?: number;
  dispatcherMsPerS: number;
  generatorMsPerS: number;
  /** Summed over the workers: with many workers per cpu, time workers spent queued behind each other too. */
  workersMsPerS: number;
  /** Time on a cpu per second of the phase, in ms, by role (the agent's loop thread; workers summed). */
  cpuMsPerS?: { agent?: number; dispatcher: number; generator: number; workers: number };
}

/** A thread's schedstat fields [time on cpu, run-queue wait] in ns; zeros once it has exited. */
function schedstat(tid: number): [number, number] {
  try {
    const f = readFileSync(`/proc/${tid}/schedstat`, 'utf8').split(' ');
    return [Number(f[0]) || 0, Number(f[1]) || 0];
  } catch {
    return [0, 0];
  }
}

export function sampleRunDelay(t: RoleTids): RunDelaySample {
  const workers = [0, 0];
  for (const tid of t.workers) {
    const s = schedstat(tid);
    workers[0] += s[0];
    workers[1] += s[1];
  }
  const agent = t.agent ? schedstat(t.agent) : undefined;
  const dispatcher = schedstat(t.dispatcher);
  const generator = schedstat(t.generator);
  return {
    atMs: Date.now(),
    ns: { ...(agent ? { agent: agent[1] } : {}), dispatcher: dispatcher[1], generator: generator[1], workers: workers[1] },
    cpuNs: { ...(agent ? { agent: agent[0] } : {}), dispatcher: dispatcher[0], generator: generator[0], workers: workers[0] },
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
    cpuMsPerS: {
      ...(a.cpuNs.agent !== undefined && b.cpuNs.agent !== undefined ? { agent: rate(a.cpuNs.agent, b.cpuNs.agent) } : {}),
      dispatcher: rate(a.cpuNs.dispatcher, b.cpuNs.dispatcher),
      generator: rate(a.cpuNs.generator, b.cpuNs.generator),
      workers: rate(a.cpuNs.workers, b.cpuNs.workers),
    },
  };
}
