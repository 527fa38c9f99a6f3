// policy-sjf.test.ts: SJF against the fake channel: hint order, ties by arrival, unhinted rule, no preemption, failures.
import t from 'tap';
import { TxnResult } from '../agent/abi.ts';
import { SjfPolicy } from '../policies/sjf.ts';
import { failed, ok, PolicyHarness } from './helpers/policy-harness.ts';

/** A harness whose single cpu is held by task 9 while the test queues work behind it. */
function busy(policy = new SjfPolicy()): PolicyHarness {
  const h = new PolicyHarness(policy);
  h.newTask(9, { hintNs: 1 });
  h.step();
  return h;
}

/** Block whoever runs on cpu 0 and return the order in which the queue drains. */
function drain(h: PolicyHarness): number[] {
  const order: number[] = [];
  for (let i = 0; i < 20 && (h.on(0) !== undefined || h.policy.queueDepth() > 0); i++) {
    const running = h.on(0);
    if (running !== undefined) h.block(running);
    order.push(...h.step().map((p) => p.slot));
  }
  return order;
}

t.test('shortest hint first; equal hints in arrival order', async (t) => {
  const h = busy();
  h.newTask(1, { hintNs: 500_000 });
  h.newTask(2, { hintNs: 10_000 });
  h.newTask(3, { hintNs: 100_000 });
  h.newTask(4, { hintNs: 10_000 });
  t.same(h.step(), [], 'cpu 0 is busy');
  t.equal(h.policy.queueDepth(), 4);
  t.same(drain(h), [2, 4, 3, 1]);
});

t.test('the hint is per request: read again at every wakeup', async (t) => {
  const h = busy();
  h.newTask(1, { hintNs: 10_000 });
  h.newTask(2, { hintNs: 20_000 });
  h.block(9);
  t.same(h.step(), [ok(1, 0)]);
  h.block(1);
  t.same(h.step(), [ok(2, 0)]);
  h.wake(1, { hintNs: 900_000 }); // a long request this time
  h.newTask(3, { hintNs: 50_000 });
  t.same(drain(h), [3, 1]);
});

t.test('tasks without a hint go after every hinted task, in arrival order, and are counted', async (t) => {
  const h = busy();
  h.newTask(1);
  h.newTask(2, { hintNs: 5_000_000 });
  h.newTask(3);
  h.newTask(4, { hintNs: 1_000 });
  t.same(drain(h), [4, 2, 1, 3]);
  t.equal(h.policy.stats().unhinted, 2);
});

t.test('unhintedUs mixes unhinted tasks in at that expected runtime', async (t) => {
  const h = busy(new SjfPolicy({ unhintedUs: 100 }));
  h.newTask(1, { hintNs: 500_000 });
  h.newTask(2);
  h.newTask(3, { hintNs: 50_000 });
  t.same(drain(h), [3, 2, 1]);
});

t.test('SJF never preempts: a short request waits for the long one running', async (t) => {
  const h = new PolicyHarness(new SjfPolicy());
  h.newTask(1, { hintNs: 10_000_000 });
  t.same(h.step(), [ok(1, 0)]);
  h.newTask(2, { hintNs: 1_000 });
  h.advanceUs(1_000_000);
  t.same(h.step(), []);
  t.same(h.fake.parks, []);
});

t.test('idle cpus are filled shortest first in one commit', async (t) => {
  const h = new PolicyHarness(new SjfPolicy(), [0, 1, 2]);
  h.newTask(1, { hintNs: 30 });
  h.newTask(2, { hintNs: 10 });
  h.newTask(3, { hintNs: 20 });
  h.newTask(4, { hintNs: 40 });
  t.same(h.step(), [ok(2, 0), ok(3, 1), ok(1, 2)]);
  t.equal(h.fake.commits.length, 1);
});

t.test('a failed placement stays first in line', async (t) => {
  const h = busy();
  h.newTask(1, { hintNs: 10 });
  h.newTask(2, { hintNs: 10 });
  h.block(9);
  let fail = true;
  h.fake.override = (txn) => (fail && txn.task.slot === 1 ? TxnResult.CPU_BUSY : undefined);
  t.same(h.step(), [failed(1, 0, TxnResult.CPU_BUSY)]);
  fail = false;
  t.same(h.step(), [ok(1, 0)]);
});

t.test('a stale placement, then the block that explains it: the task is dropped from the queue', async (t) => {
  const h = busy();
  h.newTask(1, { hintNs: 10 });
  h.newTask(2, { hintNs: 20 });
  h.block(9);
  h.fake.bumpBarrier(1);
  t.same(h.step(), [failed(1, 0, TxnResult.TARGET_STALE)]);
  h.block(1);
  t.same(h.step(), [ok(2, 0)]);
  t.equal(h.policy.queueDepth(), 0);
});

t.test('a kernel-preempted task keeps its place; a yielding one takes a fresh key', async (t) => {
  const h = new PolicyHarness(new SjfPolicy());
  h.newTask(1, { hintNs: 100 });
  t.same(h.step(), [ok(1, 0)]);
  h.newTask(2, { hintNs: 100 });
  h.kernelPreempted(1);
  t.same(h.step(), [ok(1, 0)], 'task 1 arrived before task 2 and keeps that');
  h.yield(1, { hintNs: 1_000 });
  t.same(h.step(), [ok(2, 0)], 'after the yield task 1 is a 1 us job, behind task 2');
});

t.test('dead tasks leave the heap', async (t) => {
  const h = busy();
  h.newTask(1, { hintNs: 10 });
  h.newTask(2, { hintNs: 20 });
  h.newTask(3, { hintNs: 30 });
  h.dead(2);
  h.step();
  t.equal(h.policy.queueDepth(), 2);
  t.same(drain(h), [1, 3]);
});

t.test('options', async (t) => {
  t.equal(new SjfPolicy().unhintedNs, Infinity);
  t.equal(new SjfPolicy({ unhintedUs: '0' }).unhintedNs, 0);
  t.throws(() => new SjfPolicy({ unhintedUs: -1 }), {
    code: 'BAD_POLICY_OPTION',
    message: 'options.unhintedUs must be a number >= 0 or Infinity (got -1)',
  });
  t.throws(() => new SjfPolicy({ hint: 1 }), { message: 'options.hint is not an option of sjf (known: unhintedUs)' });
});
