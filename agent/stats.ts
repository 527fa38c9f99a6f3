// stats.ts: counters the agent loop keeps, and the periodic rate summary it logs.
import { MSG_TYPE_COUNT, MSG_TYPE_NAMES, TXN_RESULT_COUNT, TXN_RESULT_NAMES } from './abi.ts';

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
  policyDropped = 0;

  private lastNs = 0;
  private lastMsgs = new Float64Array(MSG_TYPE_COUNT);
  private lastTxns = 0;
  private lastIterations = 0;

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
      policyDropped: this.policyDropped,
      iterations: this.iterations,
    };
  }

  /** Rates since the previous call plus cumulative failure counts, as a flat object for pino. */
  snapshot(nowNs: number, queueDepth: number, extra: Record<string, number>): Record<string, unknown> {
    const dt = this.lastNs === 0 ? 0 : (nowNs - this.lastNs) / 1e9;
    const rate = (cur: number, prev: number) => (dt > 0 ? Math.round((cur - prev) / dt) : 0);
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
    return out;
  }
}
