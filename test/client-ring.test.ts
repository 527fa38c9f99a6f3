// client-ring.test.ts: the client ring (kernel-shim/region.c) delivers every message, in order per producer, with producers racing on both cpus; a dead producer's claimed cell does not block it.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { buildCFixture } from './helpers/c-fixture.ts';
import { ROOT, enclaveName, nextMessage, startAgent, startWorker } from './helpers/live.ts';
import { ENCLAVE_ARGS } from './helpers/cpus.ts';

t.test('concurrent producers: nothing lost, nothing stuck, per-producer order kept', async (t) => {
  const bin = buildCFixture(t, 'cring-stress', ['region.c']);
  // A producer whose tail CAS lost to a helping producer used to publish its
  // cell under the wrong seqnum, and the ring stopped (the bench's "server is
  // stuck"): the program then reports where it is stuck and exits 1.
  for (const producers of [2, 4, 8]) {
    const r = spawnSync(bin, [String(producers), String(Math.floor(1_200_000 / producers))], { encoding: 'utf8', timeout: 60_000 });
    t.equal(r.status, 0, `${producers} producers: ${(r.stdout + r.stderr).trim()}`);
  }
});

t.test('a client killed between claiming a ring cell and publishing it blocks nobody: the agent reclaims the cell', async (t) => {
  // cpus: ENCLAVE_ARGS (helpers/cpus.ts).
  const name = enclaveName('reclaim');
  const agent = await startAgent([...ENCLAVE_ARGS, '--name', name, '--stats-interval', '0']);
  t.teardown(() => agent.stop());
  const claimer = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/claim-and-die.ts', name], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const claimed = await new Promise<string>((resolve, reject) => {
    claimer.stdout!.on('data', (d: Buffer) => resolve(d.toString().trim()));
    claimer.on('exit', (code) => reject(new Error(`claimer exited (${code}) before claiming`)));
  });
  t.match(claimed, /^claimed \d+$/, 'the client claimed a cell and stopped there');
  claimer.kill('SIGKILL');
  await new Promise((r) => claimer.once('exit', r));
  // Every registration below posts its TASK_NEW behind the dead client's cell.
  const shared = new SharedArrayBuffer(16);
  const done = [0, 1].map((index) => nextMessage(startWorker('busy-worker.ts', { enclave: name, workMs: 5, shared, index }), (m) => m.kind === 'done', 20_000));
  const r = await Promise.all(done);
  t.ok(r.every((x) => x.scheduled), 'later clients register and are scheduled');
  await agent.stop();
  const stopped = JSON.parse(agent.out.find((l) => l.includes('"agent stopped"'))!) as { shim: { cringReclaimed: number } };
  t.equal(stopped.shim.cringReclaimed, 1, 'the dead owner\'s cell was reclaimed, and counted');
});
