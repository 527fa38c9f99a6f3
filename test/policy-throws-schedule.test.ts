// policy-throws-schedule.test.ts: a policy whose schedule step throws stops the agent with an error naming it, or, with policyErrors 'continue', is logged and the iteration's placements still commit.
import t from 'tap';
import { MsgType } from '../agent/abi.ts';
import { Agent, PolicyError } from '../agent/agent.ts';
import { FakeChannel } from '../agent/fake-channel.ts';
import type { ScheduleContext } from '../agent/policy.ts';
import { FifoPolicy } from '../policies/fifo.ts';

/** FIFO whose schedule step throws after placing, on every call while `failing`. */
class ThrowsAfterPlacing extends FifoPolicy {
  failing = true;
  override schedule(ctx: ScheduleContext): void {
    super.schedule(ctx);
    if (this.failing) throw new Error('schedule broke');
  }
}

t.test("policyErrors 'exit': step() throws a PolicyError naming schedule", async (t) => {
  const ch = new FakeChannel([0]);
  const agent = new Agent(ch, new ThrowsAfterPlacing(), { name: 'x', statsIntervalMs: 0, yieldEveryMs: 1 });
  ch.post(MsgType.TASK_NEW, 3, { tid: 103 });
  let caught: unknown;
  try {
    agent.step();
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof PolicyError, `a PolicyError: ${String(caught)}`);
  t.match(caught, { where: 'schedule', code: 'POLICY_THREW', message: /policy threw in schedule: schedule broke/ });
  t.equal(agent.stats.policyErrors, 1);
});

t.test("policyErrors 'continue': the throw is counted and the placements made before it still commit", async (t) => {
  const ch = new FakeChannel([0]);
  const policy = new ThrowsAfterPlacing();
  const agent = new Agent(ch, policy, { name: 'x', statsIntervalMs: 0, yieldEveryMs: 1, policyErrors: 'continue' });
  ch.post(MsgType.TASK_NEW, 3, { tid: 103 });
  t.doesNotThrow(() => agent.step());
  t.equal(agent.stats.policyErrors, 1);
  t.same(ch.commits.flatMap((c) => c.txns.map((x) => x.slot)), [3], 'the placement made before the throw was committed');
  policy.failing = false;
  agent.step();
  t.equal(agent.stats.policyErrors, 1, 'a schedule step that returns counts nothing');
});
