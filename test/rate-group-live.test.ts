// rate-group-live.test.ts: with real threads, a CPU-rate group at 50 % holds its CPU-bound threads below an ungrouped twin.
import t from 'tap';
import { enclaveName, nextMessage, sleep, startAgent, startWorker } from './helpers/live.ts';
import { ENCLAVE_ARGS } from './helpers/cpus.ts';

t.test('CPU-rate group at 50%: grouped threads get clearly less cpu than an ungrouped twin', async (t) => {
  const name = enclaveName('rate');
  const agent = await startAgent([
    ...ENCLAVE_ARGS, '--name', name, '--stats-interval', '500',
    '--policy', 'shinjuku', '--policy-opt', 'sliceUs=1000',
    '--policy-opt', 'groups={"1":{"ratePct":50}}', '--policy-opt', 'windowMs=10',
  ]);
  t.teardown(() => agent.stop());
  const shared = new SharedArrayBuffer(256);
  const words = new Int32Array(shared);
  // Two threads in group 1 (together capped at 50 % of the enclave) and one ungrouped twin.
  const groups = [1, 1, 0];
  const ws = groups.map((group, i) => {
    const w = startWorker('request-worker.ts', { enclave: name, index: i, shared, mode: 'spin', group });
    return { reg: nextMessage(w, (m: any) => m.kind === 'registered'), spun: nextMessage<{ usedNs: number }>(w, (m: any) => m.kind === 'spun') };
  });
  await Promise.all(ws.map((w) => w.reg));
  Atomics.store(words, 2, 1); // go
  await sleep(1500);
  Atomics.store(words, 1, 1); // stop
  const used = (await Promise.all(ws.map((w) => w.spun))).map((m) => m.usedNs / 1e6);
  const grouped = (used[0] + used[1]) / 2;
  t.comment(`cpu ms over the window: grouped ${used[0].toFixed(0)}, ${used[1].toFixed(0)}; ungrouped ${used[2].toFixed(0)}`);
  t.ok(used[2] > 1.4 * grouped, `ungrouped twin (${used[2].toFixed(0)} ms) got clearly more than a grouped thread (${grouped.toFixed(0)} ms)`);
  t.ok(used[0] + used[1] < 0.65 * (used[0] + used[1] + used[2]), 'the group stayed near its 50 % share');
  t.match(agent.out.join('\n'), /limitPct/, 'the limit shows in the stats');
});
