// task-handles.test.ts: a task handle names one registration: once it ended and its slot was taken again, wake() and the hint setters refuse it (TS and C clients alike).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { attach, handleSlot } from '../client/index.ts';
import { buildCFixture } from './helpers/c-fixture.ts';
import { enclaveName, nextMessage, startAgent, startWorker } from './helpers/live.ts';
import { ENCLAVE_ARGS } from './helpers/cpus.ts';

// cpus: ENCLAVE_ARGS (helpers/cpus.ts).
const agentArgs = (name: string) => [...ENCLAVE_ARGS, '--name', name, '--stats-interval', '0'];

t.test('TS client: a stale handle is refused, the current one wakes its thread', async (t) => {
  const name = enclaveName('handles');
  const agent = await startAgent(agentArgs(name));
  t.teardown(() => agent.stop());
  const w = startWorker('rereg-worker.ts', { enclave: name });
  const reg = await nextMessage<{ first: number; second: number; firstSlot: number; secondSlot: number }>(w, (m: any) => m.kind === 'registered');
  t.equal(reg.firstSlot, reg.secondSlot, 'the second registration took the same slot');
  t.not(reg.first, reg.second, 'under another handle');
  t.equal(handleSlot(reg.second), reg.secondSlot, 'a handle carries its slot');
  const woken = nextMessage(w, (m: any) => m.kind === 'woken');
  const done = nextMessage(w, (m: any) => m.kind === 'done');
  const enc = attach(name);
  t.throws(() => enc.wake(reg.first), { code: 'STALE_HANDLE' }, 'wake() through the first registration is refused');
  t.throws(() => enc.setHint(reg.first, 1000), { code: 'STALE_HANDLE' }, 'so is a hint');
  t.throws(() => enc.setQos(reg.first, 1), { code: 'STALE_HANDLE' }, 'and a QoS change');
  t.throws(() => enc.wake(reg.secondSlot), { code: 'BAD_ARGUMENT', message: /not a task handle/ }, 'a bare slot number is not a handle');
  enc.setHint(reg.second, 1000);
  enc.wake(reg.second);
  await woken;
  t.pass('the current handle wakes the thread');
  await done;
});

t.test('C client: syr_client_wake refuses a stale handle with SYR_E_STALE', async (t) => {
  const bin = buildCFixture(t, 'handle-check', ['client.c', 'region.c', 'placement.c']);
  const name = enclaveName('chandles');
  const agent = await startAgent(agentArgs(name));
  t.teardown(() => agent.stop());
  const r = spawnSync(bin, [name], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 0, `the C client refused the stale handle: ${(r.stdout + r.stderr).trim()}`);
  t.match(r.stdout, /same_slot=1 stale=STALE_HANDLE bare=\S+ live=0/);
});
