// policy-fifo.test.ts: centralized FIFO against the fake channel: arrival order, front requeue, stale rejections, no preemption.
import t from 'tap';
import { TxnResult } from '../agent/abi.ts';
import { FifoPolicy } from '../policies/fifo.ts';
import { createPolicy } from '../policies/registry.ts';
import { failed, ok, PolicyHarness } from './helpers/policy-harness.ts';

t.test('idle cpus take queued tasks in arrival order, all in one commit', async (t) => {
  const h = new PolicyHarness(new FifoPolicy(), [0, 1]);
  h.newTask(1);
  h.newTask(2);
  h.newTask(3);
  t.same(h.step(), [ok(1, 0), ok(2, 1)]);
  t.equal(h.fake.commits.length, 1, 'one group commit');
  t.equal(h.policy.queueDepth(), 1);
  h.block(1);
  t.same(h.step(), [ok(3, 0)]);
  h.wake(1);
  h.block(2);
  t.same(h.step(), [ok(1, 1)]);
  t.equal(h.policy.queueDepth(), 0);
});

t.test('a yield goes to the back of the queue, a kernel preemption to the front', async (t) => {
  const h = new PolicyHarness(new FifoPolicy());
  h.newTask(1);
  t.same(h.step(), [ok(1, 0)]);
  h.newTask(2);
  h.newTask(3);
  t.same(h.step(), []);
  h.yield(1);
  t.same(h.step(), [ok(2, 0)], 'queue was 2 3 1');
  h.kernelPreempted(2);
  t.same(h.step(), [ok(2, 0)], 'linux took the cpu from 2: it keeps its turn');
  h.block(2);
  t.same(h.step(), [ok(3, 0)]);
  h.block(3);
  t.same(h.step(), [ok(1, 0)]);
  t.same(h.parks(), []);
});

t.test('a failed placement goes back to the FRONT of the queue', async (t) => {
  const h = new PolicyHarness(new FifoPolicy());
  let failOnce = true;
  h.fake.override = (txn) => {
    if (txn.task.slot === 1 && failOnce) {
      failOnce = false;
      return TxnResult.CPU_BUSY;
    }
    return undefined;
  };
  h.newTask(1);
  h.newTask(2);
  t.same(h.step(), [failed(1, 0, TxnResult.CPU_BUSY)]);
  t.equal(h.policy.queueDepth(), 2);
  t.same(h.step(), [ok(1, 0)], 'task 1 is still first, ahead of task 2');
});

t.test('a stale rejection leaves the task unplaced until the message that explains it', async (t) => {
  const h = new PolicyHarness(new FifoPolicy());
  h.newTask(1);
  h.fake.bumpBarrier(1); // task 1 blocked; its TASK_BLOCKED is still in flight
  t.same(h.step(), [failed(1, 0, TxnResult.TARGET_STALE)]);
  t.equal(h.on(0), undefined, 'nothing runs on cpu 0');
  h.block(1);
  t.same(h.step(), [], 'the block arrives: task 1 is no longer queued');
  t.equal(h.policy.queueDepth(), 0);
  h.wake(1);
  t.same(h.step(), [ok(1, 0)]);
});

t.test('a dead task is forgotten wherever it was', async (t) => {
  const h = new PolicyHarness(new FifoPolicy());
  h.newTask(1);
  h.newTask(2);
  h.newTask(3);
  t.same(h.step(), [ok(1, 0)]);
  h.dead(2);
  h.dead(1);
  t.same(h.step(), [ok(3, 0)]);
  t.equal(h.policy.queueDepth(), 0);
});

t.test('FIFO never preempts, however long a task runs', async (t) => {
  const h = new PolicyHarness(new FifoPolicy());
  h.newTask(1);
  t.same(h.step(), [ok(1, 0)]);
  h.newTask(2);
  for (let i = 0; i < 5; i++) {
    h.advanceUs(1_000_000);
    t.same(h.step(), []);
  }
  t.same(h.fake.parks, []);
  t.equal(h.agent.stats.preemptions, 0);
});

t.test('fifo takes no options', async (t) => {
  t.throws(() => createPolicy('fifo', { sliceUs: 50 }), {
    code: 'BAD_POLICY_OPTION',
    message: 'options.sliceUs is not an option of fifo (known: none)',
  });
  t.equal(createPolicy('fifo').name, 'fifo');
});
