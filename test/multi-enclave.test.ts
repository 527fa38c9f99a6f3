// multi-enclave.test.ts: two enclaves with different policies on disjoint cpus at once, each with its own threads; neither sees the other's tasks or messages.
import t from 'tap';
import { MsgSrc } from '../agent/abi.ts';
import { agentTrace, enclaveName, nextMessage, startAgent, startWorker, waitFor, type RunningAgent, type TracedMessage } from './helpers/live.ts';

/*
 * The 2-cpu layout: enclave A is cpu 0 with its agent on cpu 1, enclave B is
 * cpu 1 with its agent on cpu 0. An agent cpu may lie in another enclave (it
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

t.test('two enclaves, FIFO on cpu 0 and SJF on cpu 1, run side by side and stay apart', async (t) => {
  const nameA = enclaveName('tenantA');
  const nameB = enclaveName('tenantB');
  const common = ['--stats-interval', '0', '--idle-yield', '--trace'];
  const a = await startAgent(['--enclave', 'cpus=0', '--agent-cpu', '1', '--policy', 'fifo', '--name', nameA, ...common]);
  t.teardown(() => a.stop());
  const b = await startAgent(['--enclave', 'cpus=1', '--agent-cpu', '0', '--policy', 'sjf', '--name', nameB, ...common]);
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
  t.ok(sa.results.every((r) => r.cpu === 0), `tenant A's threads ran on cpu 0 (${sa.results.map((r) => r.cpu)})`);
  t.ok(sb.results.every((r) => r.cpu === 1), `tenant B's threads ran on cpu 1 (${sb.results.map((r) => r.cpu)})`);
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
