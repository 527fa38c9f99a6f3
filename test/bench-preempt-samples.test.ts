// bench-preempt-samples.test.ts: bench:agent's preemption summarizer: which samples count, why the others are dropped, and what each span measures.
import t from 'tap';
import { PreemptCause } from '../agent/abi.ts';
import { dropReason, emptySample, summarizePreemptions, type PreemptSample } from '../bench/agent/preempt-samples.ts';

/** A well-ordered preemption requested at req, with each later stamp given as an offset from it (ns; under 2048, which the histograms hold exactly). */
function sample(req: number, cause: PreemptCause, o: { commit?: number; stop?: number; off?: number; run?: number; msg?: number } = {}): PreemptSample {
  return {
    requestNs: req,
    committedNs: req + (o.commit ?? 100),
    victimLastNs: req + (o.stop ?? 300),
    successorInNs: req + (o.off ?? 900),
    successorRunNs: req + (o.run ?? 1_200),
    preemptMsgNs: req + (o.msg ?? 1_500),
    cause,
    kernelPreempted: false,
  };
}

t.test('each span runs from the request to its own stamp', async (t) => {
  const s = summarizePreemptions([sample(1e9, PreemptCause.COOP), sample(2e9, PreemptCause.COOP)], PreemptCause.COOP);
  t.equal(s.count, 2);
  t.equal(s.commit.p50, 100);
  t.equal(s.victimStops.p50, 300);
  t.equal(s.victimOff.p50, 900);
  t.equal(s.successorRunning.p50, 1_200);
  t.equal(s.preemptMsg.p50, 1_500);
  t.same(s.dropped, {});
});

t.test('a preemption answered by the other path is counted, not summarized', async (t) => {
  const s = summarizePreemptions([sample(1e9, PreemptCause.COOP), sample(2e9, PreemptCause.AGENT, { off: 90_000, run: 91_000 })], PreemptCause.COOP);
  t.equal(s.count, 1);
  t.equal(s.otherPath, 1);
  t.equal(s.victimOff.max, 900, 'the signal-answered sample is not in the cooperative numbers');
});

t.test('samples with a missing or out-of-order stamp are dropped with the reason', async (t) => {
  t.equal(dropReason(emptySample(1e9)), 'incomplete', 'a request whose preemption never finished');
  t.equal(dropReason({ ...sample(1e9, PreemptCause.AGENT), kernelPreempted: true }), 'linux ran something else there');
  t.equal(dropReason(sample(1e9, PreemptCause.AGENT, { off: -50_000 })), 'switch-in not after request');
  t.equal(dropReason(sample(1e9, PreemptCause.AGENT, { off: 1_300, run: 1_200 })), 'successor switched in again');
  t.equal(dropReason(sample(1e9, PreemptCause.AGENT, { msg: 1_000 })), undefined, 'TASK_PREEMPT may be posted before or after the successor runs');
  const s = summarizePreemptions([emptySample(1e9), { ...sample(2e9, PreemptCause.AGENT), kernelPreempted: true }, sample(3e9, PreemptCause.AGENT)], PreemptCause.AGENT);
  t.equal(s.count, 1);
  t.same(s.dropped, { incomplete: 1, 'linux ran something else there': 1 });
});

t.test('a victim that was not in its loop at the request counts in every span but when its code stopped', async (t) => {
  const s = summarizePreemptions([sample(1e9, PreemptCause.AGENT, { stop: -300 }), sample(2e9, PreemptCause.AGENT)], PreemptCause.AGENT);
  t.equal(s.count, 2);
  t.equal(s.victimNotInLoop, 1);
  t.equal(s.victimStops.count, 1);
  t.equal(s.victimOff.count, 2);
});
