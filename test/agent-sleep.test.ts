// agent-sleep.test.ts: an idle agent blocks (--idle-sleep-us) only when nothing can need it before a client post, and a client post wakes it.
import t from 'tap';
import { MsgType } from '../agent/abi.ts';
import { Agent } from '../agent/agent.ts';
import { FakeChannel } from '../agent/fake-channel.ts';
import { FifoPolicy } from '../policies/fifo.ts';
import { enclaveName, loopWorker, startAgent } from './helpers/live.ts';
import { ENCLAVE_ARGS } from './helpers/cpus.ts';

/** A fake channel whose sleep() records the bound and lets `blockNs` pass, as a real wait would. */
class SleepyChannel extends FakeChannel {
  readonly sleeps: number[] = [];
  blockNs = 5_000_000;
  sleep(maxNs: number): number {
    this.sleeps.push(maxNs);
    this.now += this.blockNs;
    return this.blockNs;
  }
}

function setup(idleSleepUs?: number) {
  const ch = new SleepyChannel([0]);
  const agent = new Agent(ch, new FifoPolicy(), { name: 'sleep', statsIntervalMs: 0, yieldEveryMs: 1, idleSleepUs });
  return { ch, agent };
}

t.test('idle with nothing queued: sleeps, bounded by idleSleepUs, after a short spin', async (t) => {
  const { ch, agent } = setup(1000);
  ch.post(MsgType.TASK_NEW, 1);
  agent.step(); // busy: the task is placed
  t.same(ch.sleeps, [], 'not in a busy iteration');
  ch.now += 50_000;
  agent.step();
  t.same(ch.sleeps, [], 'not right after work: a request brings several messages close together');
  ch.now += 300_000;
  agent.step();
  t.same(ch.sleeps, [1_000_000], 'then it blocks, for at most the bound');
  const stalls = agent.stats.stalls; // the 300 us jumps above count as stalls
  ch.blockNs = 0;
  agent.step(); // its gap to the previous iteration is the 5 ms spent asleep
  t.equal(agent.stats.stalls, stalls, 'time spent asleep is not a stall');
});

t.test('never while the policy has a task waiting for a cpu (it may have to preempt for it)', async (t) => {
  const { ch, agent } = setup(1000);
  ch.post(MsgType.TASK_NEW, 1);
  ch.post(MsgType.TASK_NEW, 2); // one cpu: the second waits in FIFO's queue
  agent.step();
  for (let i = 0; i < 5; i++) {
    ch.now += 300_000;
    agent.step();
  }
  t.same(ch.sleeps, []);
  t.equal(agent.policy.queueDepth(), 1);
});

t.test('never without idleSleepUs', async (t) => {
  const { ch, agent } = setup();
  for (let i = 0; i < 5; i++) {
    ch.now += 300_000;
    agent.step();
  }
  t.same(ch.sleeps, []);
});

t.test('live: a sleeping agent is woken by client posts', async (t) => {
  const name = enclaveName('sleep');
  // A 1 s bound: were the posts not waking it, every request below would wait up to a second.
  const agent = await startAgent([...ENCLAVE_ARGS, '--name', name, '--stats-interval', '0', '--idle-sleep-us', '1000000', '--no-isolate']);
  const worker = await loopWorker(name, 0.1);
  await worker.send(20, 20); // 20 ms apart: long enough for the agent to fall asleep in between
  await worker.finish(t, 30_000);
  await agent.stop();
  const stopped = JSON.parse(agent.out.find((l) => l.includes('"agent stopped"'))!) as { shim: { sleeps: number; sleepWakeups: number } };
  t.ok(stopped.shim.sleeps > 0, `the agent slept (${stopped.shim.sleeps} times)`);
  t.ok(stopped.shim.sleepWakeups > 0, `client posts ended sleeps (${stopped.shim.sleepWakeups})`);
});

t.test('bad values are refused naming the flag', async (t) => {
  const { runAgentCli } = await import('./helpers/live.ts');
  const a = await runAgentCli(['--enclave', 'cpus=0', '--idle-sleep-us', 'soon']);
  t.equal(a.code, 2);
  t.match(a.stderr, /--idle-sleep-us must be a non-negative integer/);
  const b = await runAgentCli(['--enclave', 'cpus=0', '--agent-priority', '120']);
  t.equal(b.code, 2);
  t.match(b.stderr, /options\.agentPriority must be an integer in \[0, 99\]/);
});
