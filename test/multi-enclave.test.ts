// multi-enclave.test.ts: two enclaves with different policies on disjoint cpus at once, each with its own threads; neither sees the other's tasks or messages, and one agent's crash leaves the other scheduling.
import t from 'tap';
import { MsgSrc } from '../agent/abi.ts';
import { onlineCpus } from '../agent/topology.ts';
import { attach } from '../client/index.ts';
import { AGENT_CPU, ENCLAVE_CPU } from './helpers/cpus.ts';
import { agentTrace, enclaveName, nextMessage, sleep, startAgent, startWorker, waitFor, type RunningAgent, type TracedMessage } from './helpers/live.ts';

/*
 * The 2-cpu layout, and the cpus these tests take: enclave A is
 * ENCLAVE_CPU with its agent on AGENT_CPU, enclave B is AGENT_CPU with its
 * agent on ENCLAVE_CPU (helpers/cpus.ts; default cpus 0 and 1). An agent cpu may lie in another enclave (it
 * is not placed there, only run); with --idle-yield each agent gives its cpu
 * to the other enclave's threads when it has nothing to do.
 */
interface Done {
  kind: string;
  cpu: number;
  tid: number;
  order: number;
}

async function service(name: string, n: number, gate: SharedArrayBuffer): Promise<{ results: Done[]; maxInside: number }> {
  const shared = new SharedArrayBuffer(16);
  const done: Promise<Done>[] = [];
  for (let i = 0; i < n; i++) {
    const w = startWorker('busy-worker.ts', { enclave: name, workMs: 30, shared, index: i, gate });
    done.push(nextMessage<Done>(w, (m) => m.kind === 'done'));
  }
  const results = await Promise.all(done);
  return { results, maxInside: new Int32Array(shared)[2] };
}

/** Every message the agent traced, in delivery order. */
function traced(agent: RunningAgent): TracedMessage[] {
  return agentTrace(agent).flatMap((e) => (e.kind === 'message' ? [e.message] : []));
}

/**
 * Threads that blocked in the kernel while they held the cpu (a page fault
 * behind the process's mmap lock, say). Each such block rightly lets the
 * policy run the next thread while the first is still inside its section,
 * so each may add one to the threads seen inside at once; time-sharing by
 * Linux instead of the agent would show all of them inside with none of these.
 */
function kernelBlocksInside(msgs: TracedMessage[]): number {
  const started = new Set<number>();
  const blocked = new Set<number>();
  for (const m of msgs) {
    if (m.type === 'TASK_NEW') started.add(m.tid);
    else if (m.type === 'TASK_BLOCKED' && m.src === MsgSrc.KERNEL && started.has(m.tid)) blocked.add(m.tid);
    else if (m.type === 'TASK_DEPARTED' || m.type === 'TASK_DEAD') started.delete(m.tid);
  }
  return blocked.size;
}

t.test('two enclaves, FIFO on one cpu and SJF on the other, run side by side and stay apart', async (t) => {
  const nameA = enclaveName('tenantA');
  const nameB = enclaveName('tenantB');
  const common = ['--stats-interval', '0', '--idle-yield', '--trace'];
  const a = await startAgent(['--enclave', `cpus=${ENCLAVE_CPU}`, '--agent-cpu', String(AGENT_CPU), '--policy', 'fifo', '--name', nameA, ...common]);
  t.teardown(() => a.stop());
  const b = await startAgent(['--enclave', `cpus=${AGENT_CPU}`, '--agent-cpu', String(ENCLAVE_CPU), '--policy', 'sjf', '--name', nameB, ...common]);
  t.teardown(() => b.stop());
  t.pass('the second agent started: disjoint cpus do not overlap');

  // Every worker of both tenants starts up before any registers (see busy-worker.ts).
  const gate = new SharedArrayBuffer(8);
  const g = new Int32Array(gate);
  const services = Promise.all([service(nameA, 4, gate), service(nameB, 4, gate)]);
  t.ok(await waitFor(() => Atomics.load(g, 0) === 8, 30000), 'all eight workers started');
  Atomics.store(g, 1, 1);
  Atomics.notify(g, 1);
  const [sa, sb] = await services;
  t.ok(sa.results.every((r) => r.cpu === ENCLAVE_CPU), `tenant A's threads ran on cpu ${ENCLAVE_CPU} (${sa.results.map((r) => r.cpu)})`);
  t.ok(sb.results.every((r) => r.cpu === AGENT_CPU), `tenant B's threads ran on cpu ${AGENT_CPU} (${sb.results.map((r) => r.cpu)})`);
  // Stop first: a trace line still in the pipe would undercount the blocks allowed below.
  const ea = await a.stop();
  const eb = await b.stop();
  t.equal(ea.code, 0, 'agent A exits 0');
  t.equal(eb.code, 0, 'agent B exits 0');
  const msgsA = traced(a);
  const msgsB = traced(b);
  for (const [tag, s, msgs] of [['A', sa, msgsA], ['B', sb, msgsB]] as const) {
    const blocks = kernelBlocksInside(msgs);
    t.ok(s.maxInside <= 1 + blocks, `${tag}: one registered thread at a time on its cpu (${s.maxInside} seen inside at once; ${blocks} threads blocked in the kernel while placed)`);
  }

  const tidsA = new Set(sa.results.map((r) => r.tid));
  const tidsB = new Set(sb.results.map((r) => r.tid));
  const seenA = new Set(msgsA.map((m) => m.tid));
  const seenB = new Set(msgsB.map((m) => m.tid));
  t.same([...tidsA].filter((x) => !seenA.has(x)), [], "agent A got messages for every one of A's threads");
  t.same([...tidsB].filter((x) => !seenB.has(x)), [], "agent B got messages for every one of B's threads");
  t.same([...seenA].filter((x) => !tidsA.has(x)), [], 'agent A saw no message about any other thread');
  t.same([...seenB].filter((x) => !tidsB.has(x)), [], 'agent B saw no message about any other thread');

  const stopped = (ag: RunningAgent) => JSON.parse(ag.out.find((l) => l.includes('"agent stopped"'))!) as { shim?: { badMsgs: number } };
  t.equal(stopped(a).shim?.badMsgs ?? 0, 0, 'A counted no bad message');
  t.equal(stopped(b).shim?.badMsgs ?? 0, 0, 'B counted no bad message');
});

/** A tenant's request service: loop-worker threads, fed through the no-loss counter protocol (see loop-worker.ts). */
async function requestService(name: string, n: number) {
  const shared = new SharedArrayBuffer(512);
  const words = new Int32Array(shared);
  const workers = Array.from({ length: n }, (_, index) => startWorker('loop-worker.ts', { enclave: name, index, shared, workMs: 0.2 }));
  const handles = (await Promise.all(workers.map((w) => nextMessage<{ handle: number }>(w, (m: any) => m.kind === 'registered')))).map((m) => m.handle);
  const done = Promise.all(workers.map((w) => nextMessage(w, (m: any) => m.kind === 'done')));
  const enc = attach(name);
  let sent = 0;
  return {
    words,
    send(k: number): void {
      for (let i = 0; i < k; i++) {
        const w = sent++ % n;
        Atomics.add(words, 8 + w, 1);
        enc.wake(handles[w]);
      }
    },
    sent: () => sent,
    served: () => handles.reduce((a, _, i) => a + Atomics.load(words, 40 + i), 0),
    async stop() {
      Atomics.store(words, 0, 1);
      for (const h of handles) enc.wake(h);
      await done;
      return handles.map((_, i) => Atomics.load(words, 72 + i) === 1);
    },
  };
}

t.test('two enclaves under load: a SIGKILL of one agent leaves the other scheduling, and neither loses a request', async (t) => {
  // cpus: the layout above; both agents --idle-yield.
  // Isolation is on (the default): A isolates its cpu. On 2 cpus B cannot also
  // isolate its own (no cpu would be left for the rest), so it runs without and
  // says so; with 3 or more both isolate side by side.
  const nameA = enclaveName('crashA');
  const nameB = enclaveName('crashB');
  const common = ['--stats-interval', '0', '--idle-yield'];
  const a = await startAgent(['--enclave', `cpus=${ENCLAVE_CPU}`, '--agent-cpu', String(AGENT_CPU), '--policy', 'fifo', '--name', nameA, ...common]);
  t.teardown(() => a.stop());
  const b = await startAgent(['--enclave', `cpus=${AGENT_CPU}`, '--agent-cpu', String(ENCLAVE_CPU), '--policy', 'shinjuku', '--name', nameB, ...common]);
  t.teardown(() => b.stop());
  const ready = (ag: RunningAgent) => JSON.parse(ag.out.find((l) => l.includes('"agent ready"'))!) as { isolation: { state: string } };
  t.equal(ready(a).isolation.state, 'isolated', 'A isolates its cpu');
  if (onlineCpus().length === 2) t.match(ready(b).isolation.state, /skipped: no cpu would be left/, 'B says why it does not');
  else t.equal(ready(b).isolation.state, 'isolated', 'so does B');

  const svcA = await requestService(nameA, 2);
  const svcB = await requestService(nameB, 2);
  for (let i = 0; i < 20; i++) {
    svcA.send(10);
    svcB.send(10);
    await sleep(10);
  }
  a.proc.kill('SIGKILL');
  await a.exited;
  const servedB = svcB.served();
  for (let i = 0; i < 20; i++) {
    svcA.send(10);
    svcB.send(10);
    await sleep(10);
  }
  t.ok(await waitFor(() => svcB.served() === svcB.sent(), 20_000), `B served every request after A died (${svcB.served()}/${svcB.sent()})`);
  t.ok(svcB.served() > servedB, 'B kept serving after the crash');
  t.ok(await waitFor(() => svcA.served() === svcA.sent(), 20_000), `A's threads, back under Linux, served every request too (${svcA.served()}/${svcA.sent()})`);
  t.equal(b.proc.exitCode, null, 'agent B is still running');
  t.same(await svcA.stop(), [true, true], "A's threads fell back to Linux");
  t.same(await svcB.stop(), [false, false], "B's threads never detached: their agent scheduled them throughout");
  t.equal((await b.stop()).code, 0, 'agent B exits 0');
});

