// upgrade.test.ts: live upgrade: a new agent (switching FIFO to Shinjuku) takes over a busy enclave; no request or thread is lost.
import t from 'tap';
import { attach } from '../client/index.ts';
import { enclaveName, nextMessage, sleep, startAgent, startWorker } from './helpers/live.ts';
import { ENCLAVE_ARGS } from './helpers/cpus.ts';

t.test('syrup-agent --upgrade takes over without restarting the service', async (t) => {
  const name = enclaveName('upg');
  const common = [...ENCLAVE_ARGS, '--name', name, '--stats-interval', '0'];
  const first = await startAgent([...common, '--policy', 'fifo']);
  const shared = new SharedArrayBuffer(512);
  const words = new Int32Array(shared);
  const W = 3;
  const workers = Array.from({ length: W }, (_, index) => startWorker('loop-worker.ts', { enclave: name, index, shared, workMs: 0.2 }));
  const handles = (await Promise.all(workers.map((w) => nextMessage<{ handle: number }>(w, (m: any) => m.kind === 'registered')))).map((m) => m.handle);
  const done = workers.map((w) => nextMessage(w, (m: any) => m.kind === 'done'));
  const enc = attach(name);

  let sent = 0;
  const send = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const w = sent++ % W;
      Atomics.add(words, 8 + w, 1);
      enc.wake(handles[w]);
      if (i % 5 === 4) await sleep(1);
    }
  };
  await send(300);
  const second = startAgent([...common, '--policy', 'shinjuku', '--upgrade']);
  await send(300); // requests keep coming while the enclave changes hands
  const next = await second;
  t.teardown(() => next.stop());
  const old = await first.exited;
  t.equal(old.code, 0, 'the old agent exits 0');
  t.match(first.out.join('\n'), /agent handed the enclave over/);
  const ready = JSON.parse(next.out.find((l) => l.includes('"agent ready"'))!);
  t.equal(ready.policy, 'shinjuku', 'the new agent runs the new policy');
  t.equal(ready.upgrade.rediscovered, W, 'it rediscovered every registered thread');
  t.comment(`upgrade gap (no agent scheduling): ${ready.upgrade.gapMs.toFixed(2)} ms`);
  await send(300);

  const served = () => [0, 1, 2].reduce((a, i) => a + Atomics.load(words, 40 + i), 0);
  const end = Date.now() + 20000;
  while (served() < sent && Date.now() < end) await sleep(10);
  t.equal(served(), sent, `every request was served (${served()} of ${sent})`);
  Atomics.store(words, 0, 1);
  for (const h of handles) enc.wake(h);
  await Promise.all(done);
  t.same([72, 73, 74].map((i) => words[i]), [0, 0, 0], 'no thread fell back to Linux: the enclave never detached');
});

t.test('--upgrade with no live agent is refused', async (t) => {
  const { runAgentCli } = await import('./helpers/live.ts');
  const r = await runAgentCli([...ENCLAVE_ARGS, '--name', enclaveName('noupg'), '--upgrade']);
  t.equal(r.code, 1);
  t.match(r.stderr, /no enclave '.*' to upgrade \[NO_ENCLAVE\]/);
});
