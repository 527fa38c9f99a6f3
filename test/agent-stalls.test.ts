// agent-stalls.test.ts: the agent loop counts the gaps in which it drained nothing (its cpu taken, GC, event loop) and reports them in its stats.
import t from 'tap';
import { Agent } from '../agent/agent.ts';
import { FakeChannel } from '../agent/fake-channel.ts';
import { STALL_NS } from '../agent/stats.ts';
import { FifoPolicy } from '../policies/fifo.ts';

t.test('gaps between iterations over the threshold are stalls; shorter ones only move the longest gap', async (t) => {
  const ch = new FakeChannel([0]);
  const agent = new Agent(ch, new FifoPolicy(), { name: 'stalls', statsIntervalMs: 0, yieldEveryMs: 1 });
  agent.step(); // the first iteration has no predecessor to measure from
  ch.now += 50_000;
  agent.step();
  t.equal(agent.stats.stalls, 0, 'an ordinary iteration is no stall');
  ch.now += STALL_NS + 1;
  agent.step();
  ch.now += 3_000_000;
  agent.step();
  t.equal(agent.stats.stalls, 2);
  const first = agent.stats.snapshot(ch.now, 0, {}) as { maxGapUs: number };
  t.equal(first.maxGapUs, 3000, 'the longest gap since the last stats line');
  t.same(agent.stats.totals().stalls, 2);
  t.equal(agent.stats.totals().stalledMs, 3.2, 'the time lost, summed');
  ch.now += 10_000;
  agent.step();
  const second = agent.stats.snapshot(ch.now + 1e9, 0, {}) as { maxGapUs: number; stallsPerSec: number };
  t.equal(second.maxGapUs, 10, 'each stats line reports its own interval');
  t.equal(second.stallsPerSec, 0);
});

t.test('event-loop turns and GC pauses are reported beside the gaps, each line for its own interval', async (t) => {
  const ch = new FakeChannel([0]);
  const agent = new Agent(ch, new FifoPolicy(), { name: 'turns', statsIntervalMs: 0, yieldEveryMs: 1 });
  agent.stats.noteTurn(400_000);
  agent.stats.noteTurn(100_000);
  agent.stats.noteGc(2_000_000);
  agent.stats.noteGc(500_000);
  const a = agent.stats.snapshot(1e9, 0, {}) as { maxTurnUs: number; maxGcUs: number };
  t.equal(a.maxTurnUs, 400, 'the longest turn');
  t.equal(a.maxGcUs, 2000, 'the longest pause');
  const b = agent.stats.snapshot(2e9, 0, {}) as { maxTurnUs: number; maxGcUs: number; gcMsPerSec: number };
  t.same([b.maxTurnUs, b.maxGcUs, b.gcMsPerSec], [0, 0, 0], 'nothing carried into the next interval');
  t.equal(agent.stats.gcNs, 2_500_000, 'GC time accumulates');
});
