// fifo-live.test.ts: FIFO on a real enclave (one enclave cpu, the agent on another): exclusivity and arrival order with real threads.
import t from 'tap';
import { enclaveName, nextMessage, startAgent, startWorker, tracedMessages, waitFor } from './helpers/live.ts';
import { ENCLAVE_ARGS, ENCLAVE_CPU } from './helpers/cpus.ts';

t.test('registered threads run one at a time on cpu 0, in arrival order', async (t) => {
  const name = enclaveName('fifo');
  // --no-isolate: unregister must restore the thread's own mask; under isolation that mask is
  // clipped and every cpu is handed back instead (isolation.test.ts).
  const agent = await startAgent([...ENCLAVE_ARGS, '--policy', 'fifo', '--name', name, '--stats-interval', '0', '--no-isolate', '--trace']);
  t.teardown(() => agent.stop());
  const N = 5;
  const shared = new SharedArrayBuffer(16);
  const done: Promise<Record<string, unknown>>[] = [];
  for (let i = 0; i < N; i++) {
    const w = startWorker('busy-worker.ts', { enclave: name, workMs: 40, shared, index: i });
    done.push(nextMessage(w, (m) => m.kind === 'done'));
    await nextMessage(w, (m) => m.kind === 'registering');
    // Its TASK_NEW reaches the agent before the next thread arrives, so arrival order is defined.
    const arrived = () => tracedMessages(agent, 'TASK_NEW').length;
    t.ok(await waitFor(() => arrived() === i + 1, 30_000), `thread ${i}'s TASK_NEW reached the agent (${arrived()} so far)`);
  }
  const results = await Promise.all(done);
  const words = new Int32Array(shared);
  t.equal(words[2], 1, 'never two registered threads inside their work at once');
  t.same(results.map((r) => r.order), [0, 1, 2, 3, 4], 'threads ran in arrival (registration) order');
  t.ok(results.every((r) => r.cpu === ENCLAVE_CPU), `every thread ran on the enclave cpu ${ENCLAVE_CPU}`);
  t.ok(results.every((r) => r.after === r.origAffinity), 'unregister restored the original affinity');
  const { code } = await agent.stop();
  t.equal(code, 0, 'agent exits 0 on SIGTERM');
});
