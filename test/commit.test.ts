// commit.test.ts: every commit failure code on a real enclave, and that a failed transaction never runs the task.
import t from 'tap';
import { MsgType, REGION, RunState, RUN_STATE_MASK, TASK, CPU, TxnResult } from '../agent/abi.ts';
import { native } from '../agent/native.ts';
import { attach } from '../client/index.ts';
import { HandEnclave } from './helpers/inproc.ts';
import { nextMessage, sleep, startWorker } from './helpers/live.ts';
import { AGENT_CPU, ENCLAVE_CPU } from './helpers/cpus.ts';

/** The enclave cpu these tests place on (helpers/cpus.ts). */
const E = ENCLAVE_CPU;

function words(h: HandEnclave): Uint32Array {
  return new Uint32Array(native.clientRegion(native.clientAttach(h.name)).region);
}
const runState = (w: Uint32Array, slot: number) => w[(REGION.fields.tasks + slot * TASK.size + TASK.fields.run) / 4] & RUN_STATE_MASK;
const cpuCur = (w: Uint32Array, cpu: number) => w[(REGION.fields.cpus + cpu * CPU.size + CPU.fields.cur) / 4];

t.test('transaction validation, result codes and enforcement', async (t) => {
  const h = new HandEnclave('commit');
  t.teardown(() => h.close());
  const w = words(h);
  const worker = startWorker('scripted-worker.ts', { enclave: h.name });
  t.teardown(() => worker.terminate());
  let registered = false;
  const reg = nextMessage(worker, (m) => m.kind === 'registered').then((m) => ((registered = true), m));
  await nextMessage(worker, (m) => m.kind === 'registering'); // wait out its boot here, not in until(), which spins a cpu the boot could use
  const born = await h.until((m) => m.type === MsgType.TASK_NEW);
  const slot = born.slot;

  t.same(h.commit([[slot, E, born.seq - 1]]), [TxnResult.TARGET_STALE], 'an old barrier is rejected as TARGET_STALE');
  await sleep(100);
  t.notOk(registered, 'the stale transaction did not run the task');
  t.not(runState(w, slot), RunState.RUN, 'its run word was not released');
  t.equal(cpuCur(w, E), 0, 'the enclave cpu stayed idle');

  t.same(h.commit([[slot, AGENT_CPU, born.seq]]), [TxnResult.INVALID_CPU], 'a cpu outside the enclave is INVALID_CPU');
  const free = (slot + 1) % 4096;
  t.same(h.commit([[free, E, 0]]), [TxnResult.TARGET_NOT_FOUND], 'a free slot is TARGET_NOT_FOUND');
  t.same(h.commit([[4096, E, 0]]), [TxnResult.TARGET_NOT_FOUND], 'a slot out of range is TARGET_NOT_FOUND');

  t.same(
    h.commit([[slot, E, born.seq], [slot, E, born.seq]]),
    [TxnResult.OK, TxnResult.CPU_BUSY],
    'a second transaction for the same cpu in one batch is CPU_BUSY',
  );
  t.equal(cpuCur(w, E), slot + 1, 'the enclave cpu now holds the task');
  await reg;

  worker.postMessage({ op: 'park' });
  const blocked = await h.until((m) => m.type === MsgType.TASK_BLOCKED && m.slot === slot && m.src === 1);
  t.equal(cpuCur(w, E), 0, 'park() handed the enclave cpu back');
  t.same(h.commit([[slot, E, blocked.seq]]), [TxnResult.TARGET_NOT_RUNNABLE], 'a parked task is TARGET_NOT_RUNNABLE');

  let unparked = false;
  const did = nextMessage(worker, (m) => m.kind === 'did' && m.op === 'park').then(() => (unparked = true));
  attach(h.name).wake(h.handle(slot));
  const woke = await h.until((m) => m.type === MsgType.TASK_WAKEUP && m.slot === slot);
  await sleep(50);
  t.notOk(unparked, 'wake() alone does not run it: it waits for a placement');
  t.same(h.commit([[slot, E, woke.seq]]), [TxnResult.OK], 'after TASK_WAKEUP it can be placed');
  await did;

  worker.postMessage({ op: 'unregister' });
  const gone = await h.until((m) => m.type === MsgType.TASK_DEPARTED && m.slot === slot);
  t.same(h.commit([[slot, E, gone.seq]]), [TxnResult.TARGET_DEPARTED], 'a departed task is TARGET_DEPARTED');
});

t.test('a task already on a cpu is TARGET_ONCPU', async (t) => {
  const h = new HandEnclave('commitoncpu', [ENCLAVE_CPU, AGENT_CPU], -1); // takes both cpus: the task on two at once
  t.teardown(() => h.close());
  const worker = startWorker('scripted-worker.ts', { enclave: h.name });
  t.teardown(() => worker.terminate());
  await nextMessage(worker, (m) => m.kind === 'registering'); // wait out its boot here, not in until(), which spins a cpu the boot could use
  const born = await h.until((m) => m.type === MsgType.TASK_NEW);
  t.same(
    h.commit([[born.slot, E, born.seq], [born.slot, AGENT_CPU, born.seq]]),
    [TxnResult.OK, TxnResult.TARGET_ONCPU],
    'the same task on a second cpu in one group commit is TARGET_ONCPU',
  );
  await nextMessage(worker, (m) => m.kind === 'registered');
});

t.test('a dead task is TARGET_DEAD', async (t) => {
  const h = new HandEnclave('commitdead');
  t.teardown(() => h.close());
  const worker = startWorker('scripted-worker.ts', { enclave: h.name });
  await nextMessage(worker, (m) => m.kind === 'registering'); // wait out its boot here, not in until(), which spins a cpu the boot could use
  const born = await h.until((m) => m.type === MsgType.TASK_NEW);
  h.commit([[born.slot, E, born.seq]]);
  await nextMessage(worker, (m) => m.kind === 'registered');
  worker.postMessage({ op: 'exit' });
  const dead = await h.until((m) => m.type === MsgType.TASK_DEAD);
  t.same(h.commit([[born.slot, E, dead.seq]]), [TxnResult.TARGET_DEAD]);
});
