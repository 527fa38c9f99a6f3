// dispatcher.ts: the server's dispatcher loop: pop requests from the ring, hand each to an idle worker and wake it, reap completions into histograms.
/*
 * The ghOSt rocksdb model: the dispatcher keeps the idle workers in a FIFO,
 * gives the next request to the longest-idle one through that worker's slot
 * and wakes it; with many more workers than cpus, which runnable worker runs
 * is the scheduler's decision, which is the thing being measured. Workers
 * report completion by flipping their state word; the dispatcher polls the
 * busy ones. It is the only thread that touches the histograms, so nothing
 * is merged or locked. FIFO (not LIFO) reuse gives a worker time to park
 * before it is handed work again.
 */
import { RingBuffer } from 'ringbuf.js';
import { nowUs } from './clock.ts';
import { encodeHistogram, newHistogram, recordUs, summarize, type Histogram } from './histogram.ts';
import type { Waker } from './parker.ts';
import {
  C_DISP_SLEEP, C_DOORBELL, C_GEN_DONE, D_AWAKE, D_WANT_ARRIVAL, D_WANT_COMPLETION, FLAG_MEASURED,
  G_DROPPED, G_DROPPED_MEASURED, G_GENERATED, G_MEASURED, KIND_RANGE, R_FLAGS, R_INTENDED, R_KEY, R_PUSHED,
  R_WORK, RECORD, S_DISPATCHED, S_ENDED, S_FLAGS, S_INTENDED, S_KEY, S_PLACED, S_PUSHED, S_STARTED, S_WORK, S_YIELDS,
  SLOT_STRIDE, ST_ASSIGNED, ST_DONE, ST_IDLE, W_STATE, WORD_STRIDE, type PhaseResult, type SharedRegions,
  type StageSummaries,
} from './protocol.ts';

/**
 * In sleeping mode (a cpu shared with the agent) the dispatcher sleeps as soon
 * as it has nothing to do: it runs SCHED_FIFO there, and any spinning would
 * be taken from the agent (or, at high rates, starve the cpu; see generator.ts).
 */
const SPIN_BEFORE_SLEEP_US = 0;
/** Upper bound on one sleep, a safety net against a lost doorbell. */
const SLEEP_MAX_MS = 5;

export class TypeStats {
  readonly total = newHistogram();
  readonly generator = newHistogram();
  readonly queue = newHistogram();
  readonly wake = newHistogram();
  readonly service = newHistogram();
  readonly placed = newHistogram();
  readonly start = newHistogram();
  keptCpu = 0;

  /**
   * Splits wake-to-run at the placement's commit. A commit from before the
   * hand-out means the worker was woken before it parked and kept its cpu:
   * there is no agent round trip to split, so it is counted, not recorded.
   */
  recordWake(dispatched: number, placed: number, started: number): void {
    recordUs(this.wake, started - dispatched);
    if (Number.isNaN(placed)) return;
    if (placed < dispatched) {
      this.keptCpu++;
      return;
    }
    recordUs(this.placed, placed - dispatched);
    recordUs(this.start, started - placed);
  }

  stages(): StageSummaries {
    return {
      generator: summarize(this.generator),
      queue: summarize(this.queue),
      wake: summarize(this.wake),
      service: summarize(this.service),
      // Only a Syrup worker reports a placement time, and each one lands in one of these.
      ...(this.placed.totalCount + this.keptCpu > 0 ? { placed: summarize(this.placed), start: summarize(this.start), keptCpu: this.keptCpu } : {}),
    };
  }

  all(): Histogram[] {
    return [this.total, this.generator, this.queue, this.wake, this.service, this.placed, this.start];
  }
}

export interface PhaseWindow {
  phase: number;
  rate: number;
  durationS: number;
  /** Give up draining at this time (us); what is left counts as incomplete. */
  deadlineUs: number;
}

export class Dispatcher {
  private readonly ctl: Int32Array;
  private readonly genStats: Float64Array;
  private readonly words: Int32Array;
  private readonly slots: Float64Array;
  private readonly ring: RingBuffer;
  private readonly rec = new Float64Array(RECORD);
  /** Idle workers, a FIFO over a circular array. */
  private readonly idle: Int32Array;
  private idleHead = 0;
  private idleCount = 0;
  private readonly busy: Int32Array;
  private busyCount = 0;

  constructor(
    regions: SharedRegions,
    private readonly workers: number,
    private readonly waker: Waker,
    private readonly sleeps: boolean,
  ) {
    this.ctl = new Int32Array(regions.ctl);
    this.genStats = new Float64Array(regions.genStats);
    this.words = new Int32Array(regions.words);
    this.slots = new Float64Array(regions.slots);
    this.ring = new RingBuffer(regions.ring, Float64Array);
    this.idle = new Int32Array(workers);
    this.busy = new Int32Array(workers);
    for (let w = 0; w < workers; w++) this.idle[w] = w;
    this.idleCount = workers;
  }

  /** Runs until the generator has finished `phase` and every request of it has completed (or the deadline passes). */
  runPhase(win: PhaseWindow): PhaseResult {
    const get = new TypeStats();
    const range = new TypeStats();
    let completedMeasured = 0;
    let yields = 0;
    let idleSince = -1;
    const { ctl, words, slots, ring, rec, idle, busy, workers } = this;

    for (;;) {
      let progressed = false;

      // Reap completions.
      for (let i = 0; i < this.busyCount; ) {
        const w = busy[i];
        if (Atomics.load(words, w * WORD_STRIDE + W_STATE) !== ST_DONE) {
          i++;
          continue;
        }
        const b = w * SLOT_STRIDE;
        const flags = slots[b + S_FLAGS];
        if ((flags & FLAG_MEASURED) !== 0) {
          const s = (flags & KIND_RANGE) !== 0 ? range : get;
          const intended = slots[b + S_INTENDED];
          const pushed = slots[b + S_PUSHED];
          const dispatched = slots[b + S_DISPATCHED];
          const started = slots[b + S_STARTED];
          const ended = slots[b + S_ENDED];
          recordUs(s.total, ended - intended);
          recordUs(s.generator, pushed - intended);
          recordUs(s.queue, dispatched - pushed);
          s.recordWake(dispatched, slots[b + S_PLACED], started);
          recordUs(s.service, ended - started);
          completedMeasured++;
          yields += slots[b + S_YIELDS];
        }
        Atomics.store(words, w * WORD_STRIDE + W_STATE, ST_IDLE);
        idle[(this.idleHead + this.idleCount) % workers] = w;
        this.idleCount++;
        busy[i] = busy[--this.busyCount];
        progressed = true;
      }

      // Hand out requests while there are idle workers.
      while (this.idleCount > 0 && ring.availableRead() >= RECORD) {
        ring.pop(rec, RECORD);
        const w = idle[this.idleHead];
        this.idleHead = (this.idleHead + 1) % workers;
        this.idleCount--;
        const b = w * SLOT_STRIDE;
        slots[b + S_INTENDED] = rec[R_INTENDED];
        slots[b + S_FLAGS] = rec[R_FLAGS];
        slots[b + S_KEY] = rec[R_KEY];
        slots[b + S_WORK] = rec[R_WORK];
        slots[b + S_PUSHED] = rec[R_PUSHED];
        slots[b + S_DISPATCHED] = nowUs();
        Atomics.store(words, w * WORD_STRIDE + W_STATE, ST_ASSIGNED);
        busy[this.busyCount++] = w;
        this.waker.wake(w, rec[R_WORK] * 1e3);
        progressed = true;
      }

      if (progressed) {
        idleSince = -1;
        continue;
      }
      const genDone = Atomics.load(ctl, C_GEN_DONE) === win.phase;
      const ringEmpty = ring.availableRead() < RECORD;
      if (genDone && ringEmpty && this.busyCount === 0) break;
      const now = nowUs();
      if (now > win.deadlineUs) break;
      if (!this.sleeps) continue;
      if (idleSince < 0) idleSince = now;
      if (now - idleSince < SPIN_BEFORE_SLEEP_US) continue;
      // Before the generator is done and with the ring empty only an arrival
      // matters; otherwise (backlog, or draining) only a completion does.
      this.sleep(ringEmpty && !genDone ? D_WANT_ARRIVAL : D_WANT_COMPLETION, win.phase);
      idleSince = -1;
    }

    const incomplete = this.busyCount + Math.floor(ring.availableRead() / RECORD);
    const g = this.genStats;
    const result: PhaseResult = {
      phase: win.phase,
      rate: win.rate,
      durationS: win.durationS,
      offered: g[G_MEASURED] / win.durationS,
      achieved: completedMeasured / win.durationS,
      generated: g[G_GENERATED],
      measured: g[G_MEASURED],
      dropped: g[G_DROPPED],
      droppedMeasured: g[G_DROPPED_MEASURED],
      completedMeasured,
      incomplete,
      get: summarize(get.total),
      range: summarize(range.total),
      stages: { get: get.stages(), range: range.stages() },
      checkpointYields: yields,
      encoded: { get: encodeHistogram(get.total), range: encodeHistogram(range.total) },
    };
    for (const h of [...get.all(), ...range.all()]) h.destroy();
    return result;
  }

  /**
   * Futex protocol: announce the sleep, re-check (a producer that raced the
   * announcement is seen here), then wait; producers ring only when the word
   * says someone sleeps, so the busy path costs them one load.
   */
  private sleep(want: number, phase: number): void {
    const ctl = this.ctl;
    Atomics.store(ctl, C_DOORBELL, 0);
    Atomics.store(ctl, C_DISP_SLEEP, want);
    const nothingNew =
      want === D_WANT_ARRIVAL
        ? this.ring.availableRead() < RECORD && Atomics.load(ctl, C_GEN_DONE) !== phase
        : !this.anyDone();
    if (nothingNew) Atomics.wait(ctl, C_DOORBELL, 0, SLEEP_MAX_MS);
    Atomics.store(ctl, C_DISP_SLEEP, D_AWAKE);
  }

  private anyDone(): boolean {
    for (let i = 0; i < this.busyCount; i++) {
      if (Atomics.load(this.words, this.busy[i] * WORD_STRIDE + W_STATE) === ST_DONE) return true;
    }
    return false;
  }

  /** Workers the dispatcher currently counts as running a request. */
  get inFlight(): number {
    return this.busyCount;
  }
}
