// shinjuku-live.test.ts: with real threads, Shinjuku lets short requests finish while a long one runs; FIFO makes them wait.
import t from 'tap';
import { attach } from '../client/index.ts';
import { MsgSrc } from '../agent/abi.ts';
import { agentTrace, enclaveName, nextMessage, parkedInTrace, sleep, startAgent, startWorker, waitFor, type RunningAgent } from './helpers/live.ts';
import { ENCLAVE_ARGS } from './helpers/cpus.ts';

interface Run {
  /** Completion number of the long request ([0]) and of each short. */
  order: number[];
  /** TASK_PREEMPTs of the long request that the agent asked for (client-posted). */
  agentPreempts: number;
  /** Short requests placed while the long one held the cpu (placed, and no message since that says it left). */
  placedOverLong: number;
}

/** Read the agent's --trace: who the policy placed while the long request held the cpu, and how often it was asked to leave. */
function traceOf(agent: RunningAgent, longSlot: number, shortSlots: Set<number>): Omit<Run, 'order'> {
  let holding = false;
  let agentPreempts = 0;
  let placedOverLong = 0;
  for (const e of agentTrace(agent)) {
    if (e.kind === 'txn') {
      if (e.txn.result !== 'OK') continue;
      if (e.txn.slot === longSlot) holding = true;
      else if (shortSlots.has(e.txn.slot) && holding) placedOverLong++;
    } else {
      const m = e.message;
      if (m.slot !== longSlot || m.type === 'TASK_WAKEUP' || m.type === 'TASK_NEW') continue;
      holding = false;
      if (m.type === 'TASK_PREEMPT' && m.src === MsgSrc.CLIENT) agentPreempts++;
    }
  }
  return { agentPreempts, placedOverLong };
}

async function longAndShorts(policy: string, extra: string[], coop = false): Promise<Run> {
  const name = enclaveName(policy);
  const agent = await startAgent([...ENCLAVE_ARGS, '--name', name, '--stats-interval', '0', '--trace', '--policy', policy, ...extra]);
  try {
    const shared = new SharedArrayBuffer(256);
    const words = new Int32Array(shared);
    const SHORTS = 4;
    const shorts = [];
    for (let i = 1; i <= SHORTS; i++) {
      words[32 + i] = 30; // 3 ms each
      const w = startWorker('request-worker.ts', { enclave: name, index: i, shared, mode: 'serve', coop });
      shorts.push({ w, reg: nextMessage<{ slot: number; handle: number }>(w, (m: any) => m.kind === 'registered'), done: nextMessage(w, (m: any) => m.kind === 'done') });
    }
    const slots = await Promise.all(shorts.map((s) => s.reg));
    // 'registered' is posted before park(): the long request must not start while a short is still on its way there.
    if (!(await waitFor(() => parkedInTrace(agent, slots.map((s) => s.slot)), 30_000))) throw new Error('the short requests did not all park within 30 s');
    const long = startWorker('request-worker.ts', { enclave: name, index: 0, shared, mode: 'once', workMs: 400, coop, cpuTime: true });
    // 400 ms of cpu time, not of wall time: if this thread (on the agent's cpu) is slow to
    // wake the shorts, the long request is not thereby done before they arrive.
    const longDone = nextMessage(long, (m: any) => m.kind === 'done');
    const longSlot = (await nextMessage<{ slot: number }>(long, (m: any) => m.kind === 'registered')).slot;
    // Wake the shorts only once the long request is well into its work (20 ms of its
    // cpu time, word 3), past the kernel blocks a fresh registration brings (posting
    // 'registered' to the main thread, first calls): the shorts then arrive over it.
    if (!(await waitFor(() => Atomics.load(words, 3) >= 200, 30_000))) throw new Error(`the long request did not get 20 ms into its work within 30 s (${Atomics.load(words, 3) / 10} ms)`);
    const enc = attach(name);
    for (const s of slots) {
      enc.wake(s.handle);
      await sleep(10);
    }
    await Promise.all([longDone, ...shorts.map((s) => s.done)]);
    await agent.stop(); // every trace line is in once it has exited
    const order = Array.from({ length: SHORTS + 1 }, (_, i) => words[8 + i]);
    return { order, ...traceOf(agent, longSlot, new Set(slots.map((s) => s.slot))) };
  } finally {
    await agent.stop();
  }
}

t.test('Shinjuku: short requests complete while a long one is still running (signal preemption)', async (t) => {
  const { order, agentPreempts, placedOverLong } = await longAndShorts('shinjuku', ['--policy-opt', 'sliceUs=200']);
  t.equal(order[0], 5, `the long request finished last (completion order ${order})`);
  t.ok(agentPreempts > 0 && placedOverLong > 0, `the agent took the cpu from it for the shorts (${agentPreempts} preemptions, ${placedOverLong} placements over it)`);
});

t.test('Shinjuku with cooperative checkpoints: same outcome without relying on the signal', async (t) => {
  const { order, agentPreempts } = await longAndShorts('shinjuku', ['--policy-opt', 'sliceUs=200'], true);
  t.equal(order[0], 5, `the long request finished last (completion order ${order})`);
  t.ok(agentPreempts > 0, `the long request left at the agent's request (${agentPreempts} times)`);
});

t.test('FIFO control: the short requests wait behind the long one', async (t) => {
  // What FIFO promises, read from the agent's trace. Completion order would not
  // do: when the long request blocks in the kernel (a Node thread can, on its
  // runtime's locks) FIFO rightly runs the shorts meanwhile.
  const { order, agentPreempts, placedOverLong } = await longAndShorts('fifo', []);
  t.equal(agentPreempts, 0, 'the agent never asked the long request to leave');
  t.equal(placedOverLong, 0, `no short was placed while the long one held the cpu (completion order ${order})`);
});
