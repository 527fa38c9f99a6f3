// idle-poll.test.ts: with --idle-poll-us the futex wake of a thread placed on an idle enclave cpu is made by that cpu's SCHED_IDLE poller, once; a poller that cannot run has its wakes taken back by the agent; a poller past its spin window sleeps and polls again when the cpu next goes idle.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { resolveAgentOptions } from '../agent/options.ts';
import { enclaveName, loopWorker, runAgentCli, sleep, startAgent } from './helpers/live.ts';
import { ENCLAVE_ARGS, ENCLAVE_CPU } from './helpers/cpus.ts';

interface PollCounts {
  pollDelegated: number;
  pollWakes: number;
  pollReclaimed: number;
  pollSleeps: number;
}

/** The shim's poller counters from a stopped agent's last line, each handed-over wake checked to have been made once. */
function pollCounts(t: Test, agent: Awaited<ReturnType<typeof startAgent>>): PollCounts {
  const s = (JSON.parse(agent.out.find((l) => l.includes('"agent stopped"'))!) as { shim: PollCounts }).shim;
  // The counters are read while the poller still runs: a starved poller may
  // have taken its last wake (xchg) and not yet counted it. Never more than one.
  const unaccounted = s.pollDelegated - s.pollWakes - s.pollReclaimed;
  t.ok(unaccounted === 0 || unaccounted === 1, `every handed-over wake was made once, by the poller or by the agent (${unaccounted} taken, not yet counted; ${JSON.stringify(s)})`);
  return s;
}

/**
 * Serve `rounds` rounds of requests to one registered loop worker: each round
 * is `burst` requests `gapMs` apart, then `restMs` of nothing, so the enclave
 * cpu goes idle before each placement. Returns the shim's poller counters.
 */
async function serve(t: Test, agentArgs: string[], o: { rounds: number; burst: number; gapMs: number; restMs: number }): Promise<PollCounts> {
  const name = enclaveName('poll');
  const agent = await startAgent([...ENCLAVE_ARGS, '--name', name, '--stats-interval', '0', '--no-isolate', ...agentArgs]);
  const worker = await loopWorker(name, 0.05);
  for (let r = 0; r < o.rounds; r++) {
    await worker.send(o.burst, o.gapMs);
    await sleep(o.restMs);
  }
  await worker.finish(t, 30_000);
  const exit = await agent.stop();
  t.equal(exit.code, 0, 'the agent stops cleanly, its pollers with it');
  return pollCounts(t, agent);
}

t.test('live: a placement on an idle cpu is woken by the poller on that cpu', async (t) => {
  const s = await serve(t, ['--idle-poll-us', '10000000'], { rounds: 20, burst: 1, gapMs: 1, restMs: 10 });
  t.ok(s.pollWakes >= 10, `the poller made the wakes (${s.pollWakes} of 20 requests)`);
  t.equal(s.pollSleeps, 0, 'a 10 s spin window: it never slept');
});

t.test('live: without --idle-poll-us nothing is handed to a poller', async (t) => {
  const s = await serve(t, [], { rounds: 5, burst: 1, gapMs: 1, restMs: 5 });
  t.equal(s.pollDelegated, 0);
  t.equal(s.pollWakes, 0);
});

t.test('live: a poller kept off its cpu by a busy normal thread: the agent makes the wakes after the grace', async (t) => {
  // SCHED_IDLE loses the cpu to any normal thread, so the poller barely runs while this spins.
  const hog = spawn('taskset', ['-c', String(ENCLAVE_CPU), 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' });
  t.teardown(() => void hog.kill('SIGKILL'));
  await sleep(100);
  const s = await serve(t, ['--idle-poll-us', '10000000'], { rounds: 20, burst: 1, gapMs: 1, restMs: 10 });
  t.ok(s.pollReclaimed > 0, `the agent took wakes back (${s.pollReclaimed} reclaimed, ${s.pollWakes} made by the poller)`);
});

t.test('live: past its spin window the poller sleeps, and the next thread to leave the cpu idle wakes it', async (t) => {
  // 2 ms window, 30 ms rests: it falls asleep in every rest. The first request
  // of a burst is placed while it sleeps (the agent wakes it itself); when that
  // request parks the cpu goes idle and the poller spins again, so the
  // burst's next requests are handed to it.
  const s = await serve(t, ['--idle-poll-us', '2000'], { rounds: 8, burst: 3, gapMs: 1, restMs: 30 });
  t.ok(s.pollSleeps >= 4, `it slept in the rests (${s.pollSleeps})`);
  t.ok(s.pollWakes >= 4, `and made wakes again after them (${s.pollWakes})`);
});

t.test('bad idlePollUs is refused naming the field', async (t) => {
  t.throws(() => resolveAgentOptions({ cpus: [0], agentCpu: 1, idlePollUs: -5 }), /options\.idlePollUs must be an integer in \[0, 60000000\]/);
  t.throws(() => resolveAgentOptions({ cpus: [0], agentCpu: 1, idlePollUs: 1.5 }), /options\.idlePollUs/);
  t.equal(resolveAgentOptions({ cpus: [0], agentCpu: 1 }).idlePollUs, 0, 'default 0: no pollers');
  const a = await runAgentCli(['--enclave', 'cpus=0', '--idle-poll-us', 'often']);
  t.equal(a.code, 2);
  t.match(a.stderr, /--idle-poll-us must be a non-negative integer/);
});

t.test('live: --upgrade between two polling agents: the old one stops its pollers, the new one starts its own, no request is lost', async (t) => {
  const name = enclaveName('pollupg');
  const common = [...ENCLAVE_ARGS, '--name', name, '--stats-interval', '0', '--no-isolate', '--idle-poll-us', '10000000'];
  const first = await startAgent(common);
  const worker = await loopWorker(name, 0.05);
  // 2 ms apart, the cpu goes idle between requests: every placement is a handed-over wake.
  await worker.send(50, 2);
  const second = startAgent([...common, '--upgrade']);
  await worker.send(50, 2);
  const next = await second;
  t.equal((await first.exited).code, 0, 'the old agent exits 0');
  await worker.send(50, 2);
  await worker.finish(t, 20_000);
  t.equal(worker.words[72], 0, 'the thread never fell back to Linux');
  await next.stop();
  const s = pollCounts(t, next);
  t.ok(s.pollWakes >= 25, `the new agent's poller made the wakes after the upgrade (${s.pollWakes})`);
});
