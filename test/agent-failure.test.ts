// agent-failure.test.ts: an agent that dies (SIGKILL) or whose policy throws never strands registered threads.
import t from 'tap';
import { MsgType } from '../agent/abi.ts';
import { Agent } from '../agent/agent.ts';
import { FakeChannel } from '../agent/fake-channel.ts';
import type { Message } from '../agent/message.ts';
import type { Task } from '../agent/task.ts';
import { FifoPolicy } from '../policies/fifo.ts';
import { enclaveName, nextMessage, startAgent, startWorker, tracedMessages, waitFor } from './helpers/live.ts';
import { ENCLAVE_ARGS, ENCLAVE_CPU } from './helpers/cpus.ts';

/*
 * n busy workers that register together: each waits at a gate until all have
 * started, because a worker that starts late (a cold tsx cache on a fresh
 * machine takes seconds) would otherwise find the others already done.
 */
function startBusy(name: string, n: number, workMs: number) {
  const shared = new SharedArrayBuffer(16);
  const gate = new SharedArrayBuffer(8);
  const done: Promise<Record<string, unknown>>[] = [];
  const registering: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const w = startWorker('busy-worker.ts', { enclave: name, workMs, shared, index: i, gate });
    done.push(nextMessage(w, (m) => m.kind === 'done'));
    registering.push(nextMessage<Record<string, unknown>>(w, (m) => m.kind === 'registering'));
  }
  const g = new Int32Array(gate);
  void waitFor(() => Atomics.load(g, 0) === n, 60_000).then(() => {
    Atomics.store(g, 1, 1);
    Atomics.notify(g, 1);
  });
  return { done, registering, shared };
}

t.test('SIGKILL of the agent while threads are parked: every thread completes its work', async (t) => {
  const name = enclaveName('kill');
  // --no-isolate: this is the client's own contract (hand back the mask the thread had); under
  // isolation that mask is clipped and every cpu is handed back instead (isolation.test.ts).
  const agent = await startAgent([...ENCLAVE_ARGS, '--name', name, '--stats-interval', '0', '--no-isolate', '--trace']);
  const { done, registering } = startBusy(name, 4, 600);
  await Promise.all(registering);
  // Kill once all four are the agent's: one runs, the others are parked waiting for a
  // placement (each works 600 ms of the one enclave cpu: most are still waiting at the kill).
  const registered = () => tracedMessages(agent, 'TASK_NEW').length;
  t.ok(await waitFor(() => registered() >= 4, 30_000), `all four threads registered (${registered()})`);
  const killedAt = Date.now();
  let finishedBeforeKill = 0;
  agent.proc.kill('SIGKILL');
  const results = await Promise.all(
    done.map((p) => p.then((r) => ((r.detached ? 0 : finishedBeforeKill++), r))),
  );
  t.comment(`all threads finished ${Date.now() - killedAt} ms after the SIGKILL`);
  t.equal(results.length, 4, 'every thread completed');
  t.ok(results.filter((r) => r.detached).length >= 2, 'threads still parked or running at the kill saw the enclave detach');
  t.ok(finishedBeforeKill <= 2, 'most threads were still waiting when the agent died');
  t.ok(results.every((r) => r.after === r.origAffinity), 'each thread got its original affinity back');
  const { signal } = await agent.exited;
  t.equal(signal, 'SIGKILL');
});

t.test('a policy that throws is reported with its stack and hands every thread back', async (t) => {
  const name = enclaveName('throw');
  const agent = await startAgent([
    ...ENCLAVE_ARGS, '--name', name, '--stats-interval', '0',
    '--policy', 'test/fixtures/throwing-policy.ts',
  ]);
  const { done } = startBusy(name, 3, 50);
  const results = await Promise.all(done);
  t.equal(results.length, 3, 'every thread completed its work');
  const { code } = await agent.exited;
  t.equal(code, 3, 'the agent exits 3');
  const log = agent.out.join('\n');
  t.match(log, /policy 'throwing' threw in taskNew/, 'the log names the policy and the callback');
  t.match(log, /deliberate failure in taskNew/, 'the log has the error message');
  t.match(log, /throwing-policy\.ts:\d+/, 'the log has the stack into the policy file');
});

t.test('policyErrors=continue: the agent logs the throw and keeps scheduling', async (t) => {
  const name = enclaveName('cont');
  const agent = await startAgent([
    ...ENCLAVE_ARGS, '--name', name, '--stats-interval', '0',
    '--policy', 'test/fixtures/throwing-policy.ts', '--policy-errors', 'continue',
  ]);
  t.teardown(() => agent.stop());
  const first = startBusy(name, 1, 20);
  await Promise.all(first.done);
  const rest = startBusy(name, 2, 20); // the first of these makes taskNew throw
  const threw = await waitFor(() => /policy threw in taskNew; continuing/.test(agent.out.join('\n')), 20000);
  t.ok(threw, 'the throw was logged');
  // The callback that threw is tried again next iteration, so the task is queued after all.
  const results = await Promise.all(rest.done);
  t.ok(agent.proc.exitCode === null, 'the agent is still running');
  t.ok(results.every((r) => r.scheduled === true && r.detached === false), 'every thread completed under the agent, the one whose TASK_NEW threw included');
  await agent.stop();
  const stopped = JSON.parse(agent.out.find((l) => l.includes('"agent stopped"'))!) as { totals: { policyErrors: number; redelivered: number } };
  t.equal(stopped.totals.policyErrors, 1, 'one policy exception');
  t.equal(stopped.totals.redelivered, 1, 'and one message delivered again after it');
});

t.test('policyErrors=continue: a policy that keeps throwing on a task hands it back to Linux after 3 tries, and only that task', async (t) => {
  const name = enclaveName('cont3');
  const agent = await startAgent([
    ...ENCLAVE_ARGS, '--name', name, '--stats-interval', '0',
    '--policy', 'test/fixtures/throwing-policy.ts', '--policy-opt', 'throwTimes=1000', '--policy-errors', 'continue',
  ]);
  t.teardown(() => agent.stop());
  const first = startBusy(name, 1, 20);
  await Promise.all(first.done);
  const victim = startBusy(name, 1, 20);
  await victim.registering[0];
  const gaveUp = await waitFor(() => /policy threw 3 times on this task's message; the thread is handed back to Linux/.test(agent.out.join('\n')), 20000);
  t.ok(gaveUp, 'the agent logged that it handed the task back to Linux');
  const r = await victim.done[0];
  t.ok(r, 'the given-up thread completes its work while the agent lives, under Linux');
  const others = startBusy(name, 2, 20);
  const later = await Promise.all(others.done);
  t.ok(later.every((x) => x.scheduled && x.cpu === ENCLAVE_CPU), 'later threads are still scheduled, on the enclave cpu');
  await agent.stop();
  const stopped = JSON.parse(agent.out.find((l) => l.includes('"agent stopped"'))!) as { totals: { policyErrors: number; handedToLinux: number } };
  t.equal(stopped.totals.policyErrors, 3, 'three exceptions: the first delivery and two retries');
  t.equal(stopped.totals.handedToLinux, 1, 'one task handed back, and counted');
});

t.test('policyErrors=continue, fake channel: the task the policy keeps throwing on is evicted to Linux and the policy told it departed', async (t) => {
  class ThrowsOnWakeup extends FifoPolicy {
    departed: number[] = [];
    override taskRunnable(task: Task, _msg: Message): void {
      if (task.slot === 2) throw new Error('no wakeups for slot 2');
      super.taskRunnable(task, _msg);
    }
    override taskDeparted(task: Task, msg: Message): void {
      this.departed.push(task.slot);
      super.taskDeparted(task, msg);
    }
  }
  const ch = new FakeChannel([0]);
  const policy = new ThrowsOnWakeup();
  const agent = new Agent(ch, policy, { name: 'x', statsIntervalMs: 0, yieldEveryMs: 1, policyErrors: 'continue' });
  for (const slot of [1, 2]) ch.post(MsgType.TASK_NEW, slot);
  agent.step();
  ch.post(MsgType.TASK_BLOCKED, 2);
  ch.post(MsgType.TASK_WAKEUP, 2);
  agent.step(); // the delivery throws
  agent.step(); // and the first retry
  t.same(ch.evicted, [], 'not before the third try');
  agent.step(); // the second retry throws too
  t.same(ch.evicted, [2], 'then slot 2 goes back to Linux');
  t.equal(agent.stats.policyErrors, 3);
  t.same(policy.departed, [2], 'and the policy forgets it');
  t.equal(agent.stats.handedToLinux, 1);
  t.notOk(agent.tasks.has(2), 'the agent forgets it too');
  t.ok(agent.tasks.has(1), 'the other task is untouched');
});
