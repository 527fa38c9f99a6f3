// policy-shinjuku.test.ts: Shinjuku against the fake channel: slices, QoS classes, idle-first, one commit, failures, FIFO equivalence.
import t from 'tap';
import { MsgType, TxnResult } from '../agent/abi.ts';
import { FifoPolicy } from '../policies/fifo.ts';
import { ShinjukuPolicy } from '../policies/shinjuku.ts';
import { failed, ok, PolicyHarness } from './helpers/policy-harness.ts';

t.test('a same-class waiter preempts the running task once it has used its slice', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: false, sliceUs: 50 }));
  h.newTask(1);
  h.newTask(2);
  t.same(h.step(), [ok(1, 0)]);
  h.advanceUs(49);
  t.same(h.step(), [], '49 us: within its slice');
  h.advanceUs(1);
  t.same(h.step(), [ok(2, 0)], '50 us: task 2 is placed over task 1');
  t.equal(h.on(0), 2);
  t.same(h.parks(), [], 'the commit itself preempts; no separate park');
  t.equal(h.policy.queueDepth(), 0, 'task 1 is not queued until its TASK_PREEMPT');
  t.equal(h.policy.stats().preemptBySlice, 1);

  h.preempted(1);
  t.same(h.step(), [], 'task 2 just started its slice');
  t.equal(h.policy.queueDepth(), 1);
  h.advanceUs(50);
  t.same(h.step(), [ok(1, 0)], 'round robin within the class');
});

t.test('preempted tasks go to the back of their class', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: false, sliceUs: 10 }));
  for (const s of [1, 2, 3]) h.newTask(s);
  const order: number[] = [];
  let prev: number | undefined;
  for (let i = 0; i < 6; i++) {
    const placed = h.step();
    order.push(...placed.map((p) => p.slot));
    if (prev !== undefined && placed.length > 0) h.preempted(prev);
    prev = h.on(0);
    h.advanceUs(10);
  }
  t.same(order, [1, 2, 3, 1, 2, 3]);
});

t.test('a higher class preempts at once; a lower class never does', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: false, sliceUs: 50, classes: 3 }));
  h.newTask(1, { qos: 1 });
  t.same(h.step(), [ok(1, 0)]);
  h.newTask(2, { qos: 2 });
  h.advanceUs(1_000_000);
  t.same(h.step(), [], 'class 2 waits behind a class 1 task however long it runs');
  h.newTask(3, { qos: 0 });
  t.same(h.step(), [ok(3, 0)], 'class 0 does not wait for the slice');
  t.equal(h.policy.stats().preemptByClass, 1);
  h.preempted(1);
  h.advanceUs(1_000_000);
  t.same(h.step(), [], 'nothing waits in class 0: task 3 keeps running');
  h.block(3);
  t.same(h.step(), [ok(1, 0)], 'class 1 before class 2');
});

t.test('idle cpus are used before anyone is preempted; the longest runner is the victim', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: false, sliceUs: 50 }), [0, 1]);
  h.newTask(1);
  t.same(h.step(), [ok(1, 0)]);
  h.advanceUs(100);
  h.newTask(2);
  t.same(h.step(), [ok(2, 1)], 'cpu 1 is idle: no preemption although task 1 used its slice');
  h.advanceUs(60);
  h.newTask(3);
  t.same(h.step(), [ok(3, 0)], 'task 1 (160 us) is preempted, not task 2 (60 us)');
});

t.test('idle placements and preemptions go out in one group commit', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: false, classes: 2 }), [0, 1, 2]);
  h.newTask(1, { qos: 1 });
  h.newTask(2, { qos: 1 });
  t.same(h.step(), [ok(1, 0), ok(2, 1)]);
  h.advanceUs(10);
  h.newTask(3, { qos: 0 });
  h.newTask(4, { qos: 0 });
  h.newTask(5, { qos: 1 });
  const before = h.fake.commits.length;
  t.same(h.step(), [ok(3, 2), ok(4, 0)], 'task 3 takes idle cpu 2, task 4 preempts a class-1 task');
  t.equal(h.fake.commits.length, before + 1);
  t.equal(h.policy.queueDepth(), 1, 'task 5 waits');
});

t.test('a task the kernel preempted goes to the front of its class', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: false }));
  h.newTask(1);
  t.same(h.step(), [ok(1, 0)]);
  h.newTask(2);
  h.kernelPreempted(1);
  t.same(h.step(), [ok(1, 0)], 'task 1 did not use up its turn');
  t.same(h.parks(), []);
});

t.test('yield goes to the back and re-reads the class', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: false, classes: 2 }));
  h.newTask(1, { qos: 0 });
  h.newTask(2, { qos: 1 });
  t.same(h.step(), [ok(1, 0)]);
  h.yield(1, { qos: 1 });
  t.same(h.step(), [ok(2, 0)], 'task 1 is now class 1, behind task 2');
});

t.test('a failed preemption leaves the victim running and the waiter first in line', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: false, sliceUs: 50 }));
  h.newTask(1);
  t.same(h.step(), [ok(1, 0)]);
  h.newTask(2);
  h.newTask(3);
  h.advanceUs(50);
  let fail = true;
  h.fake.override = (txn) => (fail && txn.task.slot === 2 ? TxnResult.CPU_BUSY : undefined);
  t.same(h.step(), [failed(2, 0, TxnResult.CPU_BUSY)]);
  t.equal(h.on(0), 1, 'task 1 still holds cpu 0');
  fail = false;
  t.same(h.step(), [ok(2, 0)], 'task 2, not task 3, retries');
});

t.test('a stale placement is retried only if the explaining message leaves the task runnable', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: false }));
  h.newTask(1);
  h.newTask(2);
  h.fake.bumpBarrier(1);
  t.same(h.step(), [failed(1, 0, TxnResult.TARGET_STALE)]);
  h.block(1);
  t.same(h.step(), [ok(2, 0)]);
  t.equal(h.policy.queueDepth(), 0);
});

t.test('a victim that blocks instead of posting TASK_PREEMPT is not requeued', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: false, sliceUs: 50 }));
  h.newTask(1);
  t.same(h.step(), [ok(1, 0)]);
  h.newTask(2);
  h.advanceUs(50);
  t.same(h.step(), [ok(2, 0)]);
  h.block(1);
  t.same(h.step(), []);
  t.equal(h.policy.queueDepth(), 0);
  h.wake(1);
  h.step();
  t.equal(h.policy.queueDepth(), 1);
});

t.test('an unknown class runs in the lowest class and is counted', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: false, sliceUs: 50, classes: 3 }));
  h.newTask(1, { qos: 7 });
  t.same(h.step(), [ok(1, 0)]);
  t.equal(h.policy.stats().unknownQos, 1);
  t.equal(h.policy.stats().queuedClass2, 0);
  h.newTask(2, { qos: 2 });
  t.same(h.step(), [], 'class 2 does not preempt the (clamped) class-2 task before its slice');
  h.advanceUs(50);
  t.same(h.step(), [ok(2, 0)], 'but does after it');
  t.equal(h.policy.stats().preemptBySlice, 1);
});

t.test('with an infinite slice and a single class in use it behaves exactly as centralized FIFO', async (t) => {
  const script = (h: PolicyHarness) => {
    for (const s of [1, 2, 3, 4, 5]) h.newTask(s);
    const out = [h.step()];
    h.advanceUs(10_000_000);
    out.push(h.step());
    h.block(1);
    h.yield(2);
    out.push(h.step());
    h.wake(1);
    h.kernelPreempted(3);
    out.push(h.step());
    h.fake.bumpBarrier(4);
    h.dead(5);
    h.block(3);
    out.push(h.step());
    h.fake.post(MsgType.TASK_PREEMPT, 4);
    h.advanceUs(10_000_000);
    out.push(h.step(), h.step());
    return { out, commits: h.fake.commits, parks: h.fake.parks };
  };
  const fifo = script(new PolicyHarness(new FifoPolicy(), [0, 1]));
  const oneClass = script(new PolicyHarness(new ShinjukuPolicy({ latchNext: false, sliceUs: Infinity, classes: 1 }), [0, 1]));
  const allQos0 = script(new PolicyHarness(new ShinjukuPolicy({ latchNext: false, sliceUs: Infinity }), [0, 1]));
  t.same(oneClass, fifo, 'classes: 1');
  t.same(allQos0, fifo, 'three classes, every task in class 0');
  t.ok(fifo.commits.length >= 4, 'the script exercised placements');
});

t.test('options: defaults, numeric strings, and errors that name the field', async (t) => {
  const d = new ShinjukuPolicy();
  t.equal(d.sliceNs, 50_000);
  t.equal(d.classes, 3);
  t.equal(new ShinjukuPolicy({ sliceUs: '30' }).sliceNs, 30_000);
  t.equal(new ShinjukuPolicy({ sliceUs: 'Infinity' }).sliceNs, Infinity);
  t.throws(() => new ShinjukuPolicy({ sliceUs: -5 }), {
    code: 'BAD_POLICY_OPTION',
    field: 'options.sliceUs',
    message: 'options.sliceUs must be a positive number or Infinity (got -5)',
  });
  t.throws(() => new ShinjukuPolicy({ sliceUs: 0 }), { code: 'BAD_POLICY_OPTION' });
  t.throws(() => new ShinjukuPolicy({ sliceUs: 'fast' }), { message: 'options.sliceUs must be a positive number or Infinity (got "fast")' });
  t.throws(() => new ShinjukuPolicy({ classes: 0 }), { message: 'options.classes must be an integer from 1 to 64 (got 0)' });
  t.throws(() => new ShinjukuPolicy({ classes: 2.5 }), { code: 'BAD_POLICY_OPTION', field: 'options.classes' });
  t.equal(d.latchNext, true, 'latchNext is on by default');
  t.throws(() => new ShinjukuPolicy({ latchNext: 'sometimes' }), { code: 'BAD_POLICY_OPTION', field: 'options.latchNext' });
  t.throws(() => new ShinjukuPolicy({ slice: 50 }), {
    message: 'options.slice is not an option of shinjuku (known: sliceUs, classes, latchNext)',
  });
});

t.test('latchNext: with every cpu busy the next task is latched behind the holder, not placed over it', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: true, sliceUs: 50 }));
  const lastTxn = () => h.fake.commits.at(-1)!.txns.at(-1)!;
  h.newTask(1);
  t.same(h.step(), [ok(1, 0)]);
  h.newTask(2);
  t.same(h.step(), [ok(2, 0)], 'task 2 is committed to cpu 0');
  t.equal(lastTxn().next, true, '... as a latch (SYR_TXN_F_NEXT), not a preemption');
  t.same(h.parks(), [], 'the holder is not asked to leave');
  t.equal(h.on(0), 1, 'task 1 still holds cpu 0');
  t.equal(h.agent.nextOn(0)?.slot, 2, 'task 2 waits latched on cpu 0');
  t.ok(h.agent.cpuLatched(0));
  t.equal(h.policy.queueDepth(), 0);

  h.newTask(3);
  h.advanceUs(10);
  t.same(h.step(), [], 'one successor per cpu: task 3 waits in the queue (no CPU_BUSY commit)');
  t.equal(h.policy.queueDepth(), 1);

  // Task 1 finishes its request and parks: it handed cpu 0 to task 2 on its way out.
  h.block(1);
  t.same(h.step(), [ok(3, 0)], 'task 2 holds the cpu now, and task 3 is latched behind it in the same iteration');
  t.equal(h.on(0), 2);
  t.equal(h.agent.nextOn(0)?.slot, 3);
  t.equal(h.policy.stats().latches, 2);
});

t.test('latchNext: a latched task gets its turn by the slice rule and the class rule', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: true, sliceUs: 50, classes: 3 }));
  h.newTask(1, { qos: 1 });
  h.step();
  h.newTask(2, { qos: 1 });
  t.same(h.step(), [ok(2, 0)]);
  h.advanceUs(49);
  h.step();
  t.same(h.parks(), [], '49 us: within the holder\'s slice');
  h.advanceUs(1);
  t.same(h.step(), [], 'no placement: the successor is already latched');
  t.same(h.parks(), [[1, 'preempt']], '50 us: the holder is preempted and will hand over to the latched task');
  t.equal(h.policy.stats().preemptBySlice, 1);
  h.step();
  t.same(h.parks(), [], 'asked once');
  h.preempted(1);
  t.same(h.step(), [ok(1, 0)], 'task 2 runs; task 1, back of its class, is latched behind it');
  t.equal(h.on(0), 2);

  // A lower class latched behind a higher one waits however long the holder runs.
  const h2 = new PolicyHarness(new ShinjukuPolicy({ latchNext: true, sliceUs: 50, classes: 3 }));
  h2.newTask(1, { qos: 1 });
  h2.step();
  h2.newTask(2, { qos: 2 });
  h2.step();
  h2.advanceUs(5000);
  h2.step();
  t.same(h2.parks(), [], 'class 2 does not preempt class 1');
  // A higher class arriving while a lower one is latched: the cpu's successor
  // slot is taken, so it waits for the next hand-off (at most one request).
  h2.newTask(3, { qos: 0 });
  t.same(h2.step(), [], 'the successor slot is taken: no CPU_BUSY commit');
  h2.block(1);
  t.same(h2.step(), [ok(3, 0)], 'once task 2 holds the cpu, class 0 is placed over it at once');
  t.equal(h2.fake.commits.at(-1)!.txns[0].next, false, 'a preemption, not a latch');
  t.equal(h2.on(0), 3);
});

t.test('latchNext: a task latched while the kernel runs it unplaced is parked by the agent', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: true, sliceUs: 50 }));
  h.newTask(1);
  h.step();
  h.newTask(2);
  h.block(2);
  h.fake.post(MsgType.TASK_WAKEUP, 2); // woken in the kernel: it runs, unplaced
  t.same(h.step(), [ok(2, 0)], 'task 2 is latched behind task 1');
  t.equal(h.agent.nextOn(0)?.slot, 2);
  t.same(h.parks(), [[2, 'silent']], 'and parked without a message, so it waits instead of sharing the cpu');
  h.newTask(3);
  t.same(h.step(), []);
  t.same(h.parks(), [], 'a task that was parked when latched is left alone');
});

t.test('latchNext: a latched task that dies frees the successor slot', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: true, sliceUs: 50 }));
  h.newTask(1);
  h.step();
  h.newTask(2);
  h.step();
  h.newTask(3);
  h.step();
  t.equal(h.agent.nextOn(0)?.slot, 2);
  h.dead(2);
  t.same(h.step(), [ok(3, 0)], 'task 3 is latched in its place');
  t.equal(h.agent.nextOn(0)?.slot, 3);
  h.block(1);
  h.step();
  t.equal(h.on(0), 3, 'and runs when the holder leaves');
});

t.test('latchNext: idle cpus are still filled first, and a preemption in flight is not placed over again', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: true, sliceUs: 50, classes: 2 }), [0, 1]);
  h.newTask(1, { qos: 1 });
  h.newTask(2, { qos: 1 });
  t.same(h.step(), [ok(1, 0), ok(2, 1)], 'both idle cpus first');
  h.newTask(3, { qos: 0 });
  t.same(h.step(), [ok(3, 0)], 'class 0 preempts a class-1 holder (a placement over it)');
  t.equal(h.fake.commits.at(-1)!.txns[0].next, false);
  t.ok(h.agent.cpuLatched(0), 'cpu 0 is latched until task 1 has left');
  h.newTask(4, { qos: 1 });
  h.advanceUs(100);
  const placed = h.step();
  t.notOk(placed.some((p) => p.cpu === 0), 'nothing is committed to cpu 0 while its victim is leaving');
  t.same(placed, [ok(4, 1)], 'task 4 is latched behind task 2 on cpu 1');
  h.preempted(1);
  t.same(h.step(), [ok(1, 0)], 'the victim left: cpu 0 takes a latch again (task 1, behind task 3)');
  t.equal(h.agent.nextOn(0)?.slot, 1);
});

t.test('a cpu still handing over from a preemption is not idle, even once its new task came and went', async (t) => {
  const h = new PolicyHarness(new ShinjukuPolicy({ latchNext: false, sliceUs: 50 }));
  h.newTask(1);
  t.same(h.step(), [ok(1, 0)]);
  h.newTask(2);
  h.advanceUs(50);
  t.same(h.step(), [ok(2, 0)], 'task 2 is placed over task 1');
  // Task 2 started when task 1 handed over, served, and parked; task 1's
  // TASK_PREEMPT (another ring) has not been drained yet.
  h.block(2);
  h.step();
  t.equal(h.on(0), undefined, 'nothing placed on cpu 0 in the agent\'s view');
  t.ok(h.agent.cpuLatched(0), 'but the hand-over from task 1 is still in flight');
  t.same(h.agent.idleCpus(), [], 'so it is not idle');
  h.newTask(3);
  for (let i = 0; i < 5; i++) t.same(h.step(), [], 'task 3 waits');
  t.equal(h.agent.stats.txnResults[TxnResult.CPU_BUSY], 0, 'no placement was tried on the busy slot (it used to be retried every iteration)');
  h.preempted(1);
  t.same(h.step(), [ok(3, 0)], 'the leaving message frees the cpu and the waiter takes it');
});
