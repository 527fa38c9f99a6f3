// sjf-live.test.ts: with real threads, SJF runs queued requests in order of the expected-runtime hint the service set.
import t from 'tap';
import { attach } from '../client/index.ts';
import { enclaveName, nextMessage, sleep, startAgent, startWorker } from './helpers/live.ts';

t.test('SJF: requests queued at once complete in order of their hint', async (t) => {
  const name = enclaveName('sjf');
  const agent = await startAgent(['--enclave', 'cpus=0', '--agent-cpu', '1', '--name', name, '--stats-interval', '0', '--policy', 'sjf']);
  t.teardown(() => agent.stop());
  const shared = new SharedArrayBuffer(256);
  const words = new Int32Array(shared);
  const hintsMs = [4, 1, 3, 2]; // worker i's request is expected to take hintsMs[i] ms
  const workers = hintsMs.map((ms, i) => {
    words[32 + i] = ms * 10;
    const w = startWorker('request-worker.ts', { enclave: name, index: i, shared, mode: 'serve' });
    return { reg: nextMessage<{ slot: number }>(w, (m: any) => m.kind === 'registered'), done: nextMessage(w, (m: any) => m.kind === 'done') };
  });
  const slots = (await Promise.all(workers.map((w) => w.reg))).map((m) => m.slot);
  await sleep(50);
  // Hold the cpu with a blocker so all four requests are queued before any runs.
  const blocker = startWorker('request-worker.ts', { enclave: name, index: 5, shared, mode: 'once', workMs: 300 });
  const blockerDone = nextMessage(blocker, (m: any) => m.kind === 'done');
  await nextMessage(blocker, (m: any) => m.kind === 'registered');
  const enc = attach(name);
  for (let i = 0; i < slots.length; i++) {
    enc.setHint(slots[i], hintsMs[i] * 1e6);
    enc.wake(slots[i]);
  }
  await Promise.all([blockerDone, ...workers.map((w) => w.done)]);
  const completion = hintsMs.map((_, i) => words[8 + i]);
  // Rank the four requests by when they completed (the blocker, unhinted, may
  // finish before or after them: SJF ranks it last once it loses the cpu).
  const byCompletion = [0, 1, 2, 3].sort((a, b) => completion[a] - completion[b]);
  t.same(byCompletion.map((i) => hintsMs[i]), [1, 2, 3, 4], `completed in hint order (completion numbers ${completion})`);
});
