// preempt-samples.ts: the timestamps of one agent preemption, and the latency summaries bench:agent reports from a run of them.
import { PreemptCause } from '../../agent/abi.ts';
import { nsHistogram, recordNs, summarizeNs, type NsSummary } from './ns-histogram.ts';

/** CLOCK_MONOTONIC stamps (ns) of one preemption; 0 = not seen (yet). */
export interface PreemptSample {
  /** The policy called place(successor, cpu) over the running victim; the commit follows in the same agent iteration. */
  requestNs: number;
  /** The agent's commit returned (flag set, and with no grace the signal sent): the successor's txnCommitted. */
  committedNs: number;
  /** The victim's last stamp from its own loop before it parked (the loop writes one every iteration). */
  victimLastNs: number;
  /** The victim's TASK_PREEMPT: posted by the shim after it handed the cpu over, just before its futex sleep. */
  preemptMsgNs: number;
  /** TASK_PREEMPT's cause (PreemptCause: COOP at a checkpoint(), AGENT in the signal handler). */
  cause: number;
  /** The kernel switched the successor in on the cpu (BPF sched_switch): the thread before it, the victim, is off. */
  successorInNs: number;
  /** The successor's first stamp from its own code once its placement returned. */
  successorRunNs: number;
  /** Linux took the cpu from the victim during the cycle (a TASK_PREEMPT of cause KERNEL): something else ran there. */
  kernelPreempted: boolean;
}

export function emptySample(requestNs: number): PreemptSample {
  return { requestNs, committedNs: 0, victimLastNs: 0, preemptMsgNs: 0, cause: -1, successorInNs: 0, successorRunNs: 0, kernelPreempted: false };
}

/** Why a sample was left out of the latency summaries. */
export type DropReason = 'incomplete' | 'linux ran something else there' | 'switch-in not after request' | 'successor switched in again';

export interface PreemptSummary {
  /** Samples summarized: complete, and answered by the expected path. */
  count: number;
  /** Complete samples answered by another path (a signal that fired in a cooperative run), left out. */
  otherPath: number;
  dropped: Partial<Record<DropReason, number>>;
  /**
   * Summarized samples left out of victimStops only: the victim's loop had
   * written no stamp since before the request (it was not running its code
   * then: a GC pause, or the host had its vcpu), so "when its code stopped"
   * has no answer; its other spans are still well defined.
   */
  victimNotInLoop: number;
  /** request -> the agent's commit returned. */
  commit: NsSummary;
  /** request -> the victim's code stopped (last stamp of its loop). */
  victimStops: NsSummary;
  /** request -> the victim off the cpu (kernel switches the successor in). */
  victimOff: NsSummary;
  /** request -> the successor runs its own code. */
  successorRunning: NsSummary;
  /** request -> the victim's TASK_PREEMPT posted (may come after the successor ran: the wakeup can switch at once). */
  preemptMsg: NsSummary;
}

/** Why sample s cannot be used, or undefined when every span in it is well ordered. */
export function dropReason(s: PreemptSample): DropReason | undefined {
  if (s.kernelPreempted) return 'linux ran something else there';
  if (!s.requestNs || !s.committedNs || !s.victimLastNs || !s.preemptMsgNs || !s.successorInNs || !s.successorRunNs || s.cause < 0) return 'incomplete';
  // The switch-in we read predates the request: the successor never slept, so there is no switch to time.
  if (s.successorInNs < s.requestNs) return 'switch-in not after request';
  // The latest switch-in came after its first stamp: the kernel switched it out and in again.
  if (s.successorInNs > s.successorRunNs) return 'successor switched in again';
  return undefined;
}

/** Summarize the samples answered by `expect` (COOP or AGENT); count the rest by why they were left out. */
export function summarizePreemptions(samples: readonly PreemptSample[], expect: PreemptCause): PreemptSummary {
  const h = { commit: nsHistogram(), victimStops: nsHistogram(), victimOff: nsHistogram(), successorRunning: nsHistogram(), preemptMsg: nsHistogram() };
  const dropped: Partial<Record<DropReason, number>> = {};
  let otherPath = 0;
  let victimNotInLoop = 0;
  for (const s of samples) {
    const why = dropReason(s);
    if (why) {
      dropped[why] = (dropped[why] ?? 0) + 1;
      continue;
    }
    if (s.cause !== expect) {
      otherPath++;
      continue;
    }
    recordNs(h.commit, s.committedNs - s.requestNs);
    if (s.victimLastNs >= s.requestNs) recordNs(h.victimStops, s.victimLastNs - s.requestNs);
    else victimNotInLoop++;
    recordNs(h.victimOff, s.successorInNs - s.requestNs);
    recordNs(h.successorRunning, s.successorRunNs - s.requestNs);
    recordNs(h.preemptMsg, s.preemptMsgNs - s.requestNs);
  }
  return {
    count: h.victimOff.totalCount,
    otherPath,
    dropped,
    victimNotInLoop,
    commit: summarizeNs(h.commit),
    victimStops: summarizeNs(h.victimStops),
    victimOff: summarizeNs(h.victimOff),
    successorRunning: summarizeNs(h.successorRunning),
    preemptMsg: summarizeNs(h.preemptMsg),
  };
}
