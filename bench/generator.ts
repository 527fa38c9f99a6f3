// generator.ts: the open-loop load generator thread: Poisson arrivals at a target rate pushed into the request ring, never waiting for responses.
/*
 * Open loop: arrival times are drawn up front from the phase's rate (an
 * exponential gap after each), and every request carries its *scheduled*
 * time; latency is measured from there, so a generator or dispatcher that
 * falls behind shows up in the latency instead of silently lowering the load
 * (no coordinated omission). A full ring is a drop, never a wait.
 *
 * With a cpu of its own the generator spins to each arrival. When it shares
 * a cpu (2-cpu machines) it sleeps instead (see MIN_NAP_US below) and runs
 * SCHED_FIFO (pin.ts); its lateness is reported as its own stage.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RingBuffer } from 'ringbuf.js';
import { nowUs } from './clock.ts';
import { newHistogram, recordUs, summarize } from './histogram.ts';
import { allowedCpus, currentTid, makeCurrentThreadRealtime, pinCurrentThread, schedPolicy } from './pin.ts';
import {
  C_DISP_SLEEP, C_DOORBELL, C_GEN_DONE, C_GEN_NAP, D_AWAKE, FLAG_MEASURED, G_DROPPED, G_DROPPED_MEASURED,
  G_GENERATED, G_MEASURED, KIND_RANGE, R_FLAGS, R_INTENDED, R_KEY, R_PUSHED, R_WORK, RECORD,
  type GeneratorInit, type GeneratorReport, type PhaseCommand,
} from './protocol.ts';
import { Rng } from './rng.ts';

const { config, regions } = (workerData as { init: GeneratorInit }).init;
const ctl = new Int32Array(regions.ctl);
const stats = new Float64Array(regions.genStats);
const ring = new RingBuffer(regions.ring, Float64Array);
const rec = new Float64Array(RECORD);
const mix = config.mix;

pinCurrentThread([config.generatorCpu]);
if (config.realtimeFrontEnd) makeCurrentThreadRealtime(config.frontEndPriority);

/**
 * Sharing a cpu (sleep mode), the generator never spins: it sleeps until the
 * next arrival with a timed futex wait and then pushes every arrival that has
 * come due. Spinning there would be taken from the agent, and as a
 * SCHED_FIFO thread at high rates it would starve the cpu outright (a first
 * version spun the last 40 us before each arrival; at 4000 req/s the kernel
 * logged "workqueue lockup ... cpus=1 stuck for 51s"). The wait overshoots by
 * ~16 us p50 / 30 us p90 for a SCHED_FIFO thread on this VM (no timer slack),
 * ~80 us for a normal one; that lateness is measured and reported.
 * With a cpu of its own, it spins to each arrival (exact times).
 */
const MIN_NAP_US = 5;

function ringDoorbell(): void {
  if (Atomics.load(ctl, C_DISP_SLEEP) !== D_AWAKE) {
    Atomics.store(ctl, C_DOORBELL, 1);
    Atomics.notify(ctl, C_DOORBELL);
  }
}

function runPhase(cmd: PhaseCommand): GeneratorReport {
  const rng = new Rng(cmd.seed);
  const lateness = newHistogram();
  const meanGapUs = 1e6 / cmd.rate;
  const startUs = nowUs() + 1000;
  const measureFromUs = startUs + cmd.warmupS * 1e6;
  const endUs = measureFromUs + cmd.durationS * 1e6;
  let generated = 0;
  let measured = 0;
  let dropped = 0;
  let droppedMeasured = 0;

  let t = startUs + rng.exponential(meanGapUs);
  while (t < endUs) {
    let now = nowUs();
    if (config.generatorSleeps) {
      const ahead = t - now;
      if (ahead > 0) Atomics.wait(ctl, C_GEN_NAP, 0, Math.max(ahead, MIN_NAP_US) / 1e3);
      now = nowUs();
    } else {
      while ((now = nowUs()) < t) {
        // spin to the arrival time
      }
    }
    if (now < t) continue;
    // Push every arrival that is due (more than one after a late wakeup).
    let pushed = false;
    while (t <= now && t < endUs) {
      const isRange = rng.next() < mix.rangeFrac;
      const work = isRange ? mix.rangeUs : mix.getUs + (mix.getExpUs > 0 ? rng.exponential(mix.getExpUs) : 0);
      const inWindow = t >= measureFromUs;
      rec[R_INTENDED] = t;
      rec[R_FLAGS] = (isRange ? KIND_RANGE : 0) | (inWindow ? FLAG_MEASURED : 0);
      rec[R_KEY] = rng.int(0x7fffffff);
      rec[R_WORK] = work;
      rec[R_PUSHED] = now;
      generated++;
      if (inWindow) measured++;
      if (ring.availableWrite() >= RECORD) {
        ring.push(rec, RECORD);
        pushed = true;
        if (inWindow) recordUs(lateness, now - t);
      } else {
        dropped++;
        if (inWindow) droppedMeasured++;
      }
      t += rng.exponential(meanGapUs);
    }
    if (pushed) ringDoorbell();
  }
  stats[G_GENERATED] = generated;
  stats[G_MEASURED] = measured;
  stats[G_DROPPED] = dropped;
  stats[G_DROPPED_MEASURED] = droppedMeasured;
  Atomics.store(ctl, C_GEN_DONE, cmd.phase);
  ringDoorbell();
  return { phase: cmd.phase, startUs, measureFromUs, endUs, lateness: summarize(lateness) };
}

parentPort!.postMessage({ ready: true, tid: currentTid(), allowed: `cpus ${allowedCpus('self')}, ${schedPolicy()}` });
parentPort!.on('message', (cmd: PhaseCommand) => {
  parentPort!.postMessage(runPhase(cmd));
});
