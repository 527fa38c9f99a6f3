// spin.ts: the one busy loop test threads use for "work": allocation-free, on a clock of the caller's choice, with an optional poll.
/*
 * Allocation-free matters: a GC (or the page faults of a growing heap) would
 * block the thread in the kernel mid-section, and a registered thread that
 * blocks loses its cpu and its place in the policy's queue, which is not
 * what a test of "a thread that runs for N ms" means to exercise.
 */

const wallNs = (): number => performance.now() * 1e6;

export interface SpinOptions {
  /** The clock the time is measured on (default wall time); e.g. the thread's own cpu time, so time spent preempted is not counted. */
  clockNs?: () => number;
  /** Called between rounds (each ~200 LCG steps, well under a microsecond); returning true ends the spin early. */
  poll?: () => boolean | void;
}

/** Busy work for `ms` (Infinity: until `poll` says stop). Returns the LCG state so the JIT cannot drop the loop. */
export function spin(ms: number, { clockNs = wallNs, poll }: SpinOptions = {}): number {
  const end = clockNs() + ms * 1e6;
  let x = 0;
  while (clockNs() < end) {
    for (let i = 0; i < 200; i++) x = (x * 1103515245 + 12345) | 0;
    if (poll?.() === true) break;
  }
  return x;
}
