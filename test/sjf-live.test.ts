// sjf-live.test.ts: with real threads, SJF runs queued requests in order of the expected-runtime hint the service set.
import t from 'tap';
import { attach } from '../client/index.ts';
import { agentTrace, enclaveName, nextMessage, parkedInTrace, startAgent, startWorker, waitFor } from './helpers/live.ts';
import { ENCLAVE_ARGS } from './helpers/cpus.ts';

t.test('SJF: requests queued at once are placed in order of their hint', async (t) => {
  const name = enclaveName('sjf');
  // batch-sjf-policy.ts is SJF that lets the four wakeups in together, so SJF alone picks the order.
  const agent = await startAgent([
    ...ENCLAVE_ARGS, '--name', name, '--stats-interval', '0', '--trace',
    '--policy', 'test/fixtures/batch-sjf-policy.ts',
  ]);
  t.teardown(() => agent.stop());
  const shared = new SharedArrayBuffer(256);
  const words = new Int32Array(shared);
  const hintsMs = [4, 1, 3, 2]; // worker i's request is expected to take hintsMs[i] ms
  const workers = hintsMs.map((ms, i) => {
    words[32 + i] = ms * 10;
    const w = startWorker('request-worker.ts', { enclave: name, index: i, shared, mode: 'serve' });
    return { reg: nextMessage<{ slot: number; handle: number }>(w, (m: any) => m.kind === 'registered'), done: nextMessage(w, (m: any) => m.kind === 'done') };
  });
  const regs = await Promise.all(workers.map((w) => w.reg));
  const slots = regs.map((m) => m.slot);
  const handles = regs.map((m) => m.handle);
  // 'registered' is posted before park(): wait until the agent has seen every
  // worker park, so their start-up placements all fall before the cut below
  // and the first placement after it is each request's.
  t.ok(await waitFor(() => parkedInTrace(agent, slots), 30_000), 'every worker parked, as the agent saw it');
  const woken = agent.out.length; // trace lines from here on are the requests'
  const enc = attach(name);
  for (let i = 0; i < handles.length; i++) {
    enc.setHint(handles[i], hintsMs[i] * 1e6);
    enc.wake(handles[i]);
  }
  await Promise.all(workers.map((w) => w.done));
  await agent.stop(); // every trace line is in once it has exited
  const firstPlaced = new Map<number, number>();
  agentTrace(agent, woken).forEach((e, at) => {
    if (e.kind === 'txn' && e.txn.result === 'OK' && !firstPlaced.has(e.txn.slot)) firstPlaced.set(e.txn.slot, at);
  });
  const byPlacement = [0, 1, 2, 3].sort((a, b) => (firstPlaced.get(slots[a]) ?? Infinity) - (firstPlaced.get(slots[b]) ?? Infinity));
  // Placement order, not completion order: SJF never preempts, so a request
  // that blocks in the kernel mid-work (which a Node thread can) rightly lets
  // the next one run and finish first; the order SJF chose is the placements'.
  t.same(byPlacement.map((i) => hintsMs[i]), [1, 2, 3, 4], 'placed in hint order');
  t.ok(hintsMs.every((_, i) => words[8 + i] > 0), 'every request completed');
});
