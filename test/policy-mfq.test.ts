// policy-mfq.test.ts: MFQ against the fake channel: levels from attained runtime, preemption by level, per-request reset, aging.
import t from 'tap';
import { MsgSrc, MsgType, TxnResult } from '../agent/abi.ts';
import { MfqPolicy } from '../policies/mfq.ts';
import { failed, ok, PolicyHarness } from './helpers/policy-harness.ts';

t.test('levels: the number of thresholds the attained runtime has reached', async (t) => {
  const p = new MfqPolicy();
  const ms = 1e6;
  t.same(
    [0, 0.999, 1, 2.9, 3, 9.9, 10, 19.9, 20, 1000].map((x) => p.levelOf(x * ms)),
    [0, 0, 1, 1, 2, 2, 3, 3, 4, 4],
  );
});

t.test('a newcomer waits while the running task is in the top level, and preempts once it sinks', async (t) => {
  const h = new PolicyHarness(new MfqPolicy({ thresholdsMs: [1, 3] }));
  h.newTask(1);
  t.same(h.step(), [ok(1, 0)]);
  h.advanceUs(500);
  h.newTask(2);
  t.same(h.step(), [], 'task 1 has used 0.5 ms: still level 0, like task 2');
  h.advanceUs(500);
  t.same(h.step(), [ok(2, 0)], 'at 1 ms task 1 is level 1: task 2 is placed over it');
  t.equal(h.policy.stats().preemptByLevel, 1);
  h.preempted(1);
  h.step();
  t.equal(h.policy.stats().queuedLevel1, 1, 'task 1 waits in level 1');
});

t.test('attained runtime runs from the kernel switch-in, not from the commit', async (t) => {
  const h = new PolicyHarness(new MfqPolicy({ thresholdsMs: [1, 3] }));
  h.newTask(1);
  t.same(h.step(), [ok(1, 0)]);
  h.fake.setSwitchIn(1, h.fake.now + 400_000); // the futex wake took 0.4 ms
  h.newTask(2);
  h.advanceUs(1200);
  t.same(h.step(), [], '0.8 ms of real running');
  h.advanceUs(200);
  t.same(h.step(), [ok(2, 0)]);
});

t.test('deeper running tasks are preempted first', async (t) => {
  const h = new PolicyHarness(new MfqPolicy({ thresholdsMs: [1, 3] }), [0, 1]);
  h.newTask(1);
  t.same(h.step(), [ok(1, 0)]);
  h.advanceUs(2000);
  h.newTask(2);
  t.same(h.step(), [ok(2, 1)]);
  h.advanceUs(1500);
  h.newTask(3);
  t.same(h.step(), [ok(3, 0)], 'task 1 (3.5 ms, level 2) before task 2 (1.5 ms, level 1)');
});

t.test('the top level is served before deeper ones, FIFO within a level', async (t) => {
  const h = new PolicyHarness(new MfqPolicy({ thresholdsMs: [1, 3], starvationMs: 1000 }));
  h.newTask(1);
  h.newTask(2);
  t.same(h.step(), [ok(1, 0)]);
  h.advanceUs(1000);
  t.same(h.step(), [ok(2, 0)]);
  h.preempted(1); // level 1
  h.advanceUs(1000);
  h.newTask(3);
  t.same(h.step(), [ok(3, 0)], 'task 2 sank to level 1; task 3 (level 0) preempts it');
  h.preempted(2); // level 1, behind task 1
  h.block(3);
  t.same(h.step(), [ok(1, 0)]);
  h.block(1);
  t.same(h.step(), [ok(2, 0)]);
});

t.test('a new request (wakeup) starts at the top; a throttle release (src SHIM) does not', async (t) => {
  for (const src of [MsgSrc.CLIENT, MsgSrc.KERNEL, MsgSrc.SHIM]) {
    const h = new PolicyHarness(new MfqPolicy({ thresholdsMs: [1, 3] }));
    h.newTask(1);
    t.same(h.step(), [ok(1, 0)]);
    h.advanceUs(1500);
    h.block(1);
    h.newTask(2);
    t.same(h.step(), [ok(2, 0)]);
    h.fake.post(MsgType.TASK_WAKEUP, 1, { src });
    h.step();
    const s = h.policy.stats();
    if (src === MsgSrc.SHIM) t.equal(s.queuedLevel1, 1, 'SHIM wakeup: task 1 keeps its 1.5 ms, level 1');
    else t.equal(s.queuedLevel0, 1, `${MsgSrc[src]} wakeup: a new request, level 0`);
  }
});

t.test('anti-starvation: a task waiting starvationMs below the top is boosted to level 0', async (t) => {
  const h = new PolicyHarness(new MfqPolicy({ thresholdsMs: [1, 3], starvationMs: 2 }));
  h.newTask(1);
  t.same(h.step(), [ok(1, 0)]);
  h.advanceUs(1500);
  h.newTask(2);
  t.same(h.step(), [ok(2, 0)], 't=1.5 ms: task 1 (level 1) preempted by task 2');
  h.preempted(1);
  h.step();
  h.advanceUs(900);
  h.newTask(3);
  t.same(h.step(), [], 't=2.4 ms: task 2 at 0.9 ms is still level 0');
  h.advanceUs(100);
  t.same(h.step(), [ok(3, 0)], 't=2.5 ms: task 2 sank; task 3 takes over');
  h.preempted(2);
  h.advanceUs(1000);
  t.same(h.step(), [ok(1, 0)], 't=3.5 ms: task 1 has waited 2 ms: boosted above task 3 (now level 1)');
  t.equal(h.policy.stats().boosts, 1);
});

t.test('without aging the same script starves task 1', async (t) => {
  const h = new PolicyHarness(new MfqPolicy({ thresholdsMs: [1, 3], starvationMs: Infinity }));
  h.newTask(1);
  h.step();
  h.advanceUs(1500);
  h.newTask(2);
  h.step();
  h.preempted(1);
  h.step();
  h.advanceUs(900);
  h.newTask(3);
  h.step();
  h.advanceUs(100);
  h.step();
  h.preempted(2);
  h.advanceUs(1000);
  t.same(h.step(), [], 'tasks 1 and 2 (level 1) do not preempt task 3 (level 1)');
  t.equal(h.policy.stats().boosts, 0);
});

t.test('a failed placement goes back to the front of its level', async (t) => {
  const h = new PolicyHarness(new MfqPolicy());
  h.newTask(1);
  h.newTask(2);
  let fail = true;
  h.fake.override = (txn) => (fail && txn.task.slot === 1 ? TxnResult.TARGET_NOT_RUNNABLE : undefined);
  t.same(h.step(), [failed(1, 0, TxnResult.TARGET_NOT_RUNNABLE)]);
  fail = false;
  t.same(h.step(), [ok(1, 0)]);
});

t.test('options', async (t) => {
  t.same(new MfqPolicy().thresholdsNs, [1e6, 3e6, 10e6, 20e6]);
  t.same(new MfqPolicy({ thresholdsMs: '0.5,2' }).thresholdsNs, [0.5e6, 2e6]);
  t.throws(() => new MfqPolicy({ thresholdsMs: [3, 1] }), {
    code: 'BAD_POLICY_OPTION',
    message: 'options.thresholdsMs must be a list of 1 to 16 strictly increasing positive numbers (ms) (got [3,1])',
  });
  t.throws(() => new MfqPolicy({ thresholdsMs: [] }), { code: 'BAD_POLICY_OPTION', field: 'options.thresholdsMs' });
  t.throws(() => new MfqPolicy({ thresholdsMs: [1, 'x'] }), { code: 'BAD_POLICY_OPTION', field: 'options.thresholdsMs' });
  t.throws(() => new MfqPolicy({ starvationMs: 0 }), { message: 'options.starvationMs must be a positive number or Infinity (got 0)' });
});
