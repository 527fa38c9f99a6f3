// multi-enclave.test.ts: two enclaves with different policies on disjoint cpus at once, each with its own threads; neither sees the other's tasks or messages.
import t from 'tap';
import { enclaveName, nextMessage, startAgent, startWorker, type RunningAgent } from './helpers/live.ts';

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

async function service(name: string, n: number): Promise<{ results: Done[]; maxInside: number }> {
  const shared = new SharedArrayBuffer(16);
  const done: Promise<Done>[] = [];
  for (let i = 0; i < n; i++) {
    const w = startWorker('busy-worker.ts', { enclave: name, workMs: 30, shared, index: i });
    done.push(nextMessage<Done>(w, (m) => m.kind === 'done'));
  }
  const results = await Promise.all(done);
  return { results, maxInside: new Int32Array(shared)[2] };
}

/** Tids of every message the agent traced. */
function tracedTids(agent: RunningAgent): Set<number> {
  const tids = new Set<number>();
  for (const line of agent.out) {
    if (!line.includes('"trace message"')) continue;
    tids.add((JSON.parse(line) as { message: { tid: number } }).message.tid);
  }
  return tids;
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

  const [sa, sb] = await Promise.all([service(nameA, 4), service(nameB, 4)]);
  t.ok(sa.results.every((r) => r.cpu === 0), `tenant A's threads ran on cpu 0 (${sa.results.map((r) => r.cpu)})`);
  t.ok(sb.results.every((r) => r.cpu === 1), `tenant B's threads ran on cpu 1 (${sb.results.map((r) => r.cpu)})`);
  t.equal(sa.maxInside, 1, 'A: one registered thread at a time on its cpu');
  t.equal(sb.maxInside, 1, 'B: one registered thread at a time on its cpu');

  const tidsA = new Set(sa.results.map((r) => r.tid));
  const tidsB = new Set(sb.results.map((r) => r.tid));
  const seenA = tracedTids(a);
  const seenB = tracedTids(b);
  t.same([...tidsA].filter((x) => !seenA.has(x)), [], "agent A got messages for every one of A's threads");
  t.same([...tidsB].filter((x) => !seenB.has(x)), [], "agent B got messages for every one of B's threads");
  t.same([...seenA].filter((x) => !tidsA.has(x)), [], 'agent A saw no message about any other thread');
  t.same([...seenB].filter((x) => !tidsB.has(x)), [], 'agent B saw no message about any other thread');

  const ea = await a.stop();
  const eb = await b.stop();
  t.equal(ea.code, 0, 'agent A exits 0');
  t.equal(eb.code, 0, 'agent B exits 0');
  const stopped = (ag: RunningAgent) => JSON.parse(ag.out.find((l) => l.includes('"agent stopped"'))!) as { shim?: { badMsgs: number } };
  t.equal(stopped(a).shim?.badMsgs ?? 0, 0, 'A counted no bad message');
  t.equal(stopped(b).shim?.badMsgs ?? 0, 0, 'B counted no bad message');
});
