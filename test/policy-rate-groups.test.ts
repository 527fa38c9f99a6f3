// policy-rate-groups.test.ts: CPU-rate groups wrapped around policies, against the fake channel: budget, throttling, refill, debt, options.
import t from 'tap';
import { MsgSrc } from '../agent/abi.ts';
import type { Message } from '../agent/message.ts';
import type { Policy } from '../agent/policy.ts';
import { FifoPolicy } from '../policies/fifo.ts';
import { RateGroups } from '../policies/rate-groups.ts';
import { createPolicy } from '../policies/registry.ts';
import { ShinjukuPolicy } from '../policies/shinjuku.ts';
import type { Task } from '../agent/task.ts';
import { ok, PolicyHarness } from './helpers/policy-harness.ts';

/** A policy (FIFO unless given) in a rate wrapper: group 2 at 50 % of the enclave, 1 ms windows. */
function halfRate(cpus = [0], inner: Policy = new FifoPolicy()): PolicyHarness {
  return new PolicyHarness(new RateGroups(inner, { groups: { batch: { id: 2, ratePct: 50 } }, windowMs: 1 }), cpus);
}

/** Shinjuku as a plain latching FIFO (one class, no slice), latchNext being its default. */
const latching = () => new ShinjukuPolicy({ sliceUs: Infinity, classes: 1 });

t.test('a group that spent its budget is preempted, withheld while the cpu is free, and placed again at refill', async (t) => {
  const h = halfRate();
  h.newTask(1, { group: 2 });
  h.newTask(2);
  t.same(h.step(), [ok(1, 0)], 't=0: window starts; FIFO order');
  h.advanceUs(499);
  t.same(h.step(), []);
  t.same(h.parks(), [], '0.499 ms used of 0.5');
  h.advanceUs(1);
  t.same(h.step(), []);
  t.same(h.parks(), [[1, 'preempt']], 't=0.5 ms: budget spent, task 1 is asked to leave');
  h.advanceUs(10);
  h.preempted(1);
  t.same(h.step(), [ok(2, 0)], 'task 1 is withheld; the ungrouped task gets the cpu');
  const s = h.policy.stats();
  t.equal(s['group.batch.limitPct'], 50);
  t.equal(s['group.batch.throttles'], 1);
  t.equal(s['group.batch.throttledTasks'], 1);
  t.equal(h.policy.queueDepth(), 1, 'withheld tasks count as waiting');

  h.advanceUs(190);
  h.block(2);
  t.same(h.step(), [], 't=0.7 ms: the cpu is idle but the group has no budget');
  t.same(h.parks(), []);
  h.advanceUs(300);
  t.same(h.step(), [ok(1, 0)], 't=1 ms: new window; the debt of 10 us is carried, task 1 runs again');
  t.equal(h.policy.stats()['group.batch.usedPct'], 51, 'last window: 0.51 ms of 1 ms');
  h.advanceUs(489);
  h.step();
  t.same(h.parks(), [], '0.489 + 0.01 debt < 0.5');
  h.advanceUs(1);
  h.step();
  t.same(h.parks(), [[1, 'preempt']]);
});

t.test('a wakeup while the group is spent is held until the refill', async (t) => {
  const h = halfRate();
  h.newTask(1, { group: 2 });
  t.same(h.step(), [ok(1, 0)]);
  h.advanceUs(500);
  h.block(1);
  t.same(h.step(), []);
  t.same(h.parks(), [], 'it blocked by itself: nothing to preempt');
  h.advanceUs(100);
  h.wake(1);
  t.same(h.step(), [], 'spent: the wakeup is held back, cpu stays idle');
  t.equal(h.policy.stats()['group.batch.throttledTasks'], 1);
  h.advanceUs(400);
  t.same(h.step(), [ok(1, 0)], 'refill: the held wakeup is delivered and the task placed');
});

t.test('a task registering into a spent group is withheld from the start', async (t) => {
  const h = halfRate();
  h.newTask(1, { group: 2 });
  t.same(h.step(), [ok(1, 0)]);
  h.advanceUs(500);
  h.step();
  h.preempted(1);
  h.newTask(3, { group: 2 });
  t.same(h.step(), []);
  t.equal(h.policy.stats()['group.batch.throttledTasks'], 2);
  h.advanceUs(500);
  t.same(h.step(), [ok(1, 0)], 'released in the order they were throttled');
});

t.test('the inner policy sees throttling as a block with src SHIM, and release as a SHIM wakeup', async (t) => {
  const seen: string[] = [];
  class Spy extends FifoPolicy {
    override taskBlocked(task: Task, msg: Message): void {
      seen.push(`blocked ${task.slot} ${MsgSrc[msg.src]}`);
      super.taskBlocked(task, msg);
    }
    override taskRunnable(task: Task, msg: Message): void {
      seen.push(`runnable ${task.slot} ${MsgSrc[msg.src]}`);
      super.taskRunnable(task, msg);
    }
  }
  const inner = new Spy();
  const h = new PolicyHarness(new RateGroups(inner, { groups: { '2': { ratePct: 50 } }, windowMs: 1 }));
  h.newTask(1, { group: 2 });
  h.newTask(2, { group: 2 });
  h.step();
  h.advanceUs(500);
  h.step();
  t.same(seen, ['blocked 2 SHIM'], 'the queued task is taken away when the budget runs out');
  h.preempted(1);
  h.step();
  t.same(seen, ['blocked 2 SHIM', 'blocked 1 SHIM'], 'the running one when it leaves the cpu');
  h.advanceUs(500);
  h.step();
  t.same(seen.slice(2), ['runnable 2 SHIM', 'runnable 1 SHIM']);
});

t.test('the limit is a share of the whole enclave', async (t) => {
  const h = halfRate([0, 1]);
  h.newTask(1, { group: 2 });
  h.newTask(2, { group: 2 });
  t.same(h.step(), [ok(1, 0), ok(2, 1)]);
  h.advanceUs(499);
  h.step();
  t.same(h.parks(), [], 'two cpus x 0.499 ms < 50 % of 2 cpu-ms');
  h.advanceUs(1);
  h.step();
  t.same(h.parks(), [[1, 'preempt'], [2, 'preempt']]);
});

t.test('works around any policy: shinjuku, built by the registry', async (t) => {
  const policy = createPolicy('shinjuku', { sliceUs: 50, groups: '{"2":{"ratePct":20}}', windowMs: 1 });
  t.equal(policy.name, 'shinjuku+rate');
  const h = new PolicyHarness(policy);
  h.newTask(1, { group: 2 });
  h.newTask(2, { group: 2 });
  t.same(h.step(), [ok(1, 0)]);
  h.advanceUs(50);
  t.same(h.step(), [ok(2, 0)], 'slice preemption inside the group');
  h.preempted(1);
  h.advanceUs(150);
  h.step();
  t.same(h.parks(), [[2, 'preempt']], '0.2 ms used: the group is stopped');
  h.preempted(2);
  h.advanceUs(800);
  t.same(h.step(), [ok(1, 0)], 'refill: shinjuku gets its tasks back in throttle order');
  t.type(h.policy.stats().preemptBySlice, 'number', 'inner stats are kept');
  t.ok(h.agent.policy instanceof RateGroups);
  t.ok((h.agent.policy as RateGroups).inner instanceof ShinjukuPolicy);
});

t.test('ungrouped and unconfigured groups are never limited', async (t) => {
  const h = halfRate();
  h.newTask(1, { group: 7 });
  t.same(h.step(), [ok(1, 0)]);
  for (let i = 0; i < 10; i++) {
    h.advanceUs(1000);
    h.step();
  }
  t.same(h.parks(), []);
  t.equal(h.policy.stats()['group.batch.usedPct'], 0);
});

t.test('options: groups by id or by name, rate in (0, 100], errors that name the field', async (t) => {
  const make = (o: Record<string, unknown>) => new RateGroups(new FifoPolicy(), o);
  t.equal(make({ groups: { '3': { ratePct: 100 } } }).windowNs, 10e6, 'default window 10 ms');
  t.throws(() => make({ groups: { batch: { id: 2, ratePct: 150 } } }), {
    code: 'BAD_POLICY_OPTION',
    field: 'options.groups.batch.ratePct',
    message: 'options.groups.batch.ratePct must be a number in (0, 100] (got 150)',
  });
  t.throws(() => make({ groups: { batch: { id: 2, ratePct: 0 } } }), { message: 'options.groups.batch.ratePct must be a number in (0, 100] (got 0)' });
  t.throws(() => make({ groups: { batch: { id: 2, ratePct: -10 } } }), { code: 'BAD_POLICY_OPTION', field: 'options.groups.batch.ratePct' });
  t.throws(() => make({ groups: { batch: { id: 2 } } }), { message: 'options.groups.batch.ratePct is required: a number in (0, 100]' });
  t.throws(() => make({ groups: { batch: { ratePct: 50 } } }), { code: 'BAD_POLICY_OPTION', field: 'options.groups.batch.id' });
  t.throws(() => make({ groups: { '0': { ratePct: 50 } } }), { code: 'BAD_POLICY_OPTION', field: 'options.groups.0' });
  t.throws(() => make({ groups: { '2': { ratePct: 50, id: 3 } } }), { code: 'BAD_POLICY_OPTION', field: 'options.groups.2.id' });
  t.throws(() => make({ groups: { a: { id: 2, ratePct: 50 }, b: { id: 2, ratePct: 10 } } }), { message: 'options.groups.b: group id 2 is configured twice' });
  t.throws(() => make({ groups: { a: { id: 2, rate: 50 } } }), { message: 'options.groups.a.rate is not an option of a rate group (known: ratePct, id)' });
  t.throws(() => make({}), { code: 'BAD_POLICY_OPTION', field: 'options.groups' });
  t.throws(() => make({ groups: {} }), { code: 'BAD_POLICY_OPTION', field: 'options.groups' });
  t.throws(() => make({ groups: '{nope' }), { code: 'BAD_POLICY_OPTION', field: 'options.groups' });
  t.throws(() => make({ groups: { '2': { ratePct: 50 } }, windowMs: 0 }), { message: 'options.windowMs must be a positive number of ms (got 0)' });
  t.throws(() => createPolicy('fifo', { windowMs: 5 }), { code: 'BAD_POLICY_OPTION', field: 'options.groups' }, 'windowMs alone is not enough');
});

t.test('around a latching policy: a latched successor is charged from when it starts, not while it waits', async (t) => {
  // Shinjuku latches the next task behind a busy cpu (latchNext, its default). Charging the
  // group from the commit billed it for time it spent waiting behind another group's holder:
  // the live test's 50 % group got ~1 % of the cpu, and a throttle aimed at the latched task
  // preempted the holder instead.
  const h = halfRate([0], latching());
  h.newTask(1); // ungrouped holder
  t.same(h.step(), [ok(1, 0)]);
  h.newTask(2, { group: 2 });
  t.same(h.step(), [ok(2, 0)], 'the grouped task is committed behind the holder');
  t.equal(h.agent.nextOn(0)?.slot, 2, 'as a latched successor');
  h.advanceUs(450);
  t.same(h.step(), []);
  t.same(h.parks(), [], '0.45 ms latched: nobody is preempted');
  h.block(1); // the holder parks and hands cpu 0 to task 2
  t.same(h.step(), []);
  t.equal(h.on(0), 2, 'task 2 holds the cpu');
  h.advanceUs(400);
  t.same(h.step(), []);
  t.same(h.parks(), [], '0.4 ms of running is within the 0.5 ms budget (the wait was not charged)');
  h.advanceUs(100);
  t.same(h.step(), []);
  t.same(h.parks(), [[2, 'preempt']], 'at 0.5 ms of its own running the group is spent and task 2 is asked to leave');
});

t.test('around a latching policy: a successor whose group ran out while it waited is preempted once it starts, and the holder is left alone', async (t) => {
  const h = halfRate([0], latching());
  h.newTask(1, { group: 2 });
  t.same(h.step(), [ok(1, 0)], 'a grouped task runs');
  h.newTask(3, { group: 2 });
  t.same(h.step(), [ok(3, 0)], 'a second one is latched behind it');
  h.advanceUs(500);
  t.same(h.step(), []);
  t.same(h.parks(), [[1, 'preempt']], 'the budget is spent: the running one is asked to leave');
  h.preempted(1); // it hands the cpu to task 3 on its way out
  t.same(h.step(), []);
  t.same(h.parks(), [[3, 'preempt']], 'the successor it handed the cpu to is asked to leave at once');
  h.preempted(3);
  t.same(h.step(), [], 'both are withheld until the refill');
  t.equal(h.policy.stats()['group.batch.throttledTasks'], 2);
});
