// policy-edf.test.ts: EDF against the fake channel: deadline order, preemption, tasks without deadlines, miss counting, failures.
import t from 'tap';
import { TxnResult } from '../agent/abi.ts';
import { EdfPolicy } from '../policies/edf.ts';
import { failed, ok, PolicyHarness } from './helpers/policy-harness.ts';

const US = 1000;

t.test('earliest deadline first; tasks without one after all that have one, in arrival order', async (t) => {
  const h = new PolicyHarness(new EdfPolicy({ preempt: false }));
  const now = h.fake.now;
  h.newTask(9);
  t.same(h.step(), [ok(9, 0)]);
  h.newTask(1, { deadlineNs: now + 5000 * US });
  h.newTask(2, { deadlineNs: now + 1000 * US });
  h.newTask(3);
  h.newTask(4, { deadlineNs: now + 3000 * US });
  h.newTask(5);
  const order: number[] = [];
  for (let i = 0; i < 6; i++) {
    const running = h.on(0);
    if (running !== undefined) h.block(running);
    order.push(...h.step().map((p) => p.slot));
  }
  t.same(order, [2, 4, 1, 3, 5]);
  t.equal(h.policy.stats().noDeadline, 3, 'tasks 9, 3 and 5');
});

t.test('an earlier deadline preempts the running task; equal or later ones do not', async (t) => {
  const h = new PolicyHarness(new EdfPolicy());
  const now = h.fake.now;
  h.newTask(1, { deadlineNs: now + 10_000 * US });
  t.same(h.step(), [ok(1, 0)]);
  h.newTask(2, { deadlineNs: now + 10_000 * US });
  h.newTask(3, { deadlineNs: now + 20_000 * US });
  t.same(h.step(), [], 'equal and later deadlines wait');
  h.newTask(4, { deadlineNs: now + 2000 * US });
  t.same(h.step(), [ok(4, 0)]);
  t.equal(h.policy.stats().preemptByDeadline, 1);
  t.equal(h.policy.queueDepth(), 2, 'task 1 is not queued before its TASK_PREEMPT');
  h.preempted(1);
  h.block(4);
  t.same(h.step(), [ok(1, 0)], 'task 1 arrived before task 2 with the same deadline');
});

t.test('a task without a deadline is preempted by any task with one', async (t) => {
  const h = new PolicyHarness(new EdfPolicy(), [0, 1]);
  h.newTask(1);
  h.newTask(2, { deadlineNs: h.fake.now + 50_000 * US });
  t.same(h.step(), [ok(2, 0), ok(1, 1)]);
  h.newTask(3, { deadlineNs: h.fake.now + 60_000 * US });
  t.same(h.step(), [ok(3, 1)], 'the victim is the latest (here: no) deadline');
});

t.test('preempt: false only orders the queue', async (t) => {
  const h = new PolicyHarness(new EdfPolicy({ preempt: 'false' }));
  h.newTask(1, { deadlineNs: h.fake.now + 10_000 * US });
  t.same(h.step(), [ok(1, 0)]);
  h.newTask(2, { deadlineNs: h.fake.now + 1 * US });
  t.same(h.step(), []);
});

t.test('missed deadlines: counted once, when the task is seen unfinished after its deadline', async (t) => {
  const h = new PolicyHarness(new EdfPolicy());
  const t0 = h.fake.now;
  h.newTask(1, { deadlineNs: t0 + 1000 * US });
  t.same(h.step(), [ok(1, 0)]);
  h.advanceUs(500);
  h.block(1);
  h.step();
  t.equal(h.policy.stats().deadlineMisses, 0, 'finished at 0.5 ms: met');

  h.wake(1, { deadlineNs: h.fake.now + 1000 * US });
  t.same(h.step(), [ok(1, 0)]);
  h.advanceUs(1500);
  h.block(1);
  h.step();
  t.equal(h.policy.stats().deadlineMisses, 1, 'still running at its deadline: missed');

  h.newTask(2);
  t.same(h.step(), [ok(2, 0)]);
  h.wake(1, { deadlineNs: h.fake.now + 100 * US });
  h.advanceUs(200);
  h.step(); // task 1 preempts task 2 only now, 100 us late
  t.equal(h.policy.stats().deadlineMisses, 2, 'placed after its deadline: missed at once');
  h.preempted(2);
  h.advanceUs(1000);
  h.block(1);
  h.step();
  t.equal(h.policy.stats().deadlineMisses, 2, 'the same deadline is not counted twice');
});

t.test('a failed placement stays first in line; a failed preemption leaves the victim running', async (t) => {
  const h = new PolicyHarness(new EdfPolicy());
  h.newTask(1, { deadlineNs: h.fake.now + 10_000 * US });
  t.same(h.step(), [ok(1, 0)]);
  h.newTask(2, { deadlineNs: h.fake.now + 1000 * US });
  h.newTask(3, { deadlineNs: h.fake.now + 2000 * US });
  let fail = true;
  h.fake.override = (txn) => (fail && txn.task.slot === 2 ? TxnResult.TARGET_STALE : undefined);
  t.same(h.step(), [failed(2, 0, TxnResult.TARGET_STALE)]);
  t.equal(h.on(0), 1);
  fail = false;
  t.same(h.step(), [ok(2, 0)]);
});

t.test('a stale placement followed by the block that explains it', async (t) => {
  const h = new PolicyHarness(new EdfPolicy());
  h.newTask(1, { deadlineNs: h.fake.now + 1000 * US });
  h.newTask(2, { deadlineNs: h.fake.now + 2000 * US });
  h.fake.bumpBarrier(1);
  t.same(h.step(), [failed(1, 0, TxnResult.TARGET_STALE)]);
  h.block(1);
  t.same(h.step(), [ok(2, 0)]);
  t.equal(h.policy.queueDepth(), 0);
});

t.test('options', async (t) => {
  t.equal(new EdfPolicy().preempt, true);
  t.throws(() => new EdfPolicy({ preempt: 'yes' }), {
    code: 'BAD_POLICY_OPTION',
    message: 'options.preempt must be true or false (got "yes")',
  });
  t.throws(() => new EdfPolicy({ deadlineUs: 5 }), { message: 'options.deadlineUs is not an option of edf (known: preempt)' });
});
