// stats.ts: counters the agent loop keeps, and the periodic rate summary it logs.
import { MSG_TYPE_COUNT, MSG_TYPE_NAMES, TXN_RESULT_COUNT, TXN_RESULT_NAMES } from './abi.ts';

/** Gaps between loop iterations longer than this count as stalls (an iteration that commits takes tens of us). */
export const STALL_NS = 200_000;

export class AgentStats {
  readonly msgs = new Float64Array(MSG_TYPE_COUNT);
  readonly txnResults = new Float64Array(TXN_RESULT_COUNT);
  iterations = 0;
  txns = 0;
  commits = 0;
  silentParks = 0;
  preemptions = 0;
  unknownTaskMsgs = 0;
  policyErrors = 0;
  /** 'continue' mode: thrown-on messages that a later try delivered, and those given up on. */
  redelivered = 0;
  /** Tasks handed back to Linux after the policy kept throwing on them ('continue' mode). */
  handedToLinux = 0;
  /** Fair-share naps taken (AgentLoopOptions.fairShareUs) and the time they took. */
  fairShareNaps = 0;
  fairShareNs = 0;
  /** Loop iterations that started more than STALL_NS after the previous one, their summed and longest gap. */
  stalls = 0;
  stalledNs = 0;
  private maxGapNs = 0;
  /** Of that: the longest event-loop turn the loop yielded to, and garbage-collection pauses (total, longest). */
  private maxTurnNs = 0;
  gcNs = 0;
  private maxGcNs = 0;

  private lastNs = 0;
  private lastMsgs = new Float64Array(MSG_TYPE_COUNT);
  private lastTxns = 0;
  private lastIterations = 0;
  private lastStalls = 0;
  private lastStalledNs = 0;
  private lastGcNs = 0;
  private lastFairShareNaps = 0;
  private lastFairShareNs = 0;

  noteGap(ns: number): void {
    if (ns > this.maxGapNs) this.maxGapNs = ns;
    if (ns <= STALL_NS) return;
    this.stalls++;
    this.stalledNs += ns;
  }

  /** How long one yield to the event loop took (timers, logging, signals run there). */
  noteTurn(ns: number): void {
    if (ns > this.maxTurnNs) this.maxTurnNs = ns;
  }

  /** One garbage-collection pause of the agent's isolate (from a 'gc' PerformanceObserver). */
  noteGc(ns: number): void {
    this.gcNs += ns;
    if (ns > this.maxGcNs) this.maxGcNs = ns;
  }

  /** Cumulative counts since start: messages by type, transactions, failures by code. */
  totals(): Record<string, unknown> {
    const msgs: Record<string, number> = {};
    for (let t = 1; t < MSG_TYPE_COUNT; t++) msgs[MSG_TYPE_NAMES[t]] = this.msgs[t];
    const results: Record<string, number> = {};
    for (let c = 0; c < TXN_RESULT_COUNT; c++) if (this.txnResults[c] > 0) results[TXN_RESULT_NAMES[c]] = this.txnResults[c];
    return {
      msgs,
      txns: this.txns,
      commits: this.commits,
      txnResults: results,
      preemptions: this.preemptions,
      silentParks: this.silentParks,
      policyErrors: this.policyErrors,
      redelivered: this.redelivered,
      handedToLinux: this.handedToLinux,
      fairShareNaps: this.fairShareNaps,
      iterations: this.iterations,
      stalls: this.stalls,
      stalledMs: Math.round(this.stalledNs / 1e4) / 100,
    };
  }

  /** Rates since the previous call plus cumulative failure counts, as a flat object for pino. */
  snapshot(nowNs: number, queueDepth: number, extra: Record<string, number>): Record<string, unknown> {
    const dt = this.lastNs === 0 ? 0 : (nowNs - this.lastNs) / 1e9;
    const rate = (cur: number, prev: number) => (dt > 0 ? Math.round((cur - prev) / dt) : 0);
    const msPerSec = (curNs: number, prevNs: number) => (dt > 0 ? Math.round((curNs - prevNs) / 1e4 / dt) / 100 : 0);
    const msgsPerSec: Record<string, number> = {};
    for (let t = 1; t < MSG_TYPE_COUNT; t++) {
      msgsPerSec[MSG_TYPE_NAMES[t]] = rate(this.msgs[t], this.lastMsgs[t]);
    }
    const failures: Record<string, number> = {};
    for (let c = 1; c < TXN_RESULT_COUNT; c++) {
      if (this.txnResults[c] > 0) failures[TXN_RESULT_NAMES[c]] = this.txnResults[c];
    }
    const out = {
      msgsPerSec,
      txnsPerSec: rate(this.txns, this.lastTxns),
      loopsPerSec: rate(this.iterations, this.lastIterations),
      stallsPerSec: rate(this.stalls, this.lastStalls),
      stalledMsPerSec: msPerSec(this.stalledNs, this.lastStalledNs),
      maxGapUs: Math.round(this.maxGapNs / 1e3),
      maxTurnUs: Math.round(this.maxTurnNs / 1e3),
      gcMsPerSec: msPerSec(this.gcNs, this.lastGcNs),
      maxGcUs: Math.round(this.maxGcNs / 1e3),
      ...(this.fairShareNaps
        ? { fairShareNapsPerSec: rate(this.fairShareNaps, this.lastFairShareNaps), fairShareMsPerSec: msPerSec(this.fairShareNs, this.lastFairShareNs) }
        : {}),
      failures,
      queueDepth,
      preemptions: this.preemptions,
      silentParks: this.silentParks,
      ...(this.unknownTaskMsgs ? { unknownTaskMsgs: this.unknownTaskMsgs } : {}),
      ...extra,
    };
    this.lastNs = nowNs;
    this.lastMsgs.set(this.msgs);
    this.lastTxns = this.txns;
    this.lastIterations = this.iterations;
    this.lastStalls = this.stalls;
    this.lastStalledNs = this.stalledNs;
    this.maxGapNs = 0;
    this.maxTurnNs = 0;
    this.lastGcNs = this.gcNs;
    this.lastFairShareNaps = this.fairShareNaps;
    this.lastFairShareNs = this.fairShareNs;
    this.maxGcNs = 0;
    return out;
  }
}
