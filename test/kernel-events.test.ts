// kernel-events.test.ts: BPF turns a registered thread's kernel sleep into TASK_BLOCKED then TASK_WAKEUP, with increasing seqnums.
import t from 'tap';
import { MsgSrc, MsgType } from '../agent/abi.ts';
import { HandEnclave } from './helpers/inproc.ts';
import { nextMessage, startWorker } from './helpers/live.ts';
import { ENCLAVE_CPU } from './helpers/cpus.ts';

/** The enclave cpu these tests place on (helpers/cpus.ts). */
const E = ENCLAVE_CPU;

t.test('kernel sleep produces TASK_BLOCKED then TASK_WAKEUP with increasing seqnums', async (t) => {
  const h = new HandEnclave('kev');
  t.teardown(() => h.close());
  const w = startWorker('scripted-worker.ts', { enclave: h.name });
  t.teardown(() => w.terminate());
  await nextMessage(w, (m) => m.kind === 'registering'); // wait out its boot here, not in until(), which spins a cpu the boot could use
  const born = await h.until((m) => m.type === MsgType.TASK_NEW);
  t.equal(born.src, MsgSrc.CLIENT, 'TASK_NEW comes from the client library');
  t.same(h.commit([[born.slot, E, born.seq]]), [0], 'placement commits');
  await nextMessage(w, (m) => m.kind === 'registered');

  // Listen before asking: 'did' arrives while the loop below is still draining messages.
  const did = nextMessage(w, (m) => m.kind === 'did');
  w.postMessage({ op: 'kernel-sleep', ms: 30 });
  // The worker also blocks whenever its event loop idles (epoll); the pair we
  // want is the one whose wakeup comes a full sleep after the block.
  let blocked, woke;
  for (;;) {
    blocked = await h.until((m) => m.type === MsgType.TASK_BLOCKED && m.slot === born.slot);
    woke = await h.until((m) => m.type === MsgType.TASK_WAKEUP && m.slot === born.slot);
    if (woke.tsNs - blocked.tsNs >= 25e6) break;
  }
  t.equal(blocked.src, MsgSrc.KERNEL, 'TASK_BLOCKED comes from BPF');
  t.equal(woke.src, MsgSrc.KERNEL, 'TASK_WAKEUP comes from BPF');
  t.equal(blocked.tid, born.tid, 'same thread');
  t.ok(blocked.seq > born.seq, `BLOCKED seq ${blocked.seq} > NEW seq ${born.seq}`);
  t.ok(woke.seq > blocked.seq, `WAKEUP seq ${woke.seq} > BLOCKED seq ${blocked.seq}`);
  await did;

  w.postMessage({ op: 'unregister' });
  const gone = await h.until((m) => m.type === MsgType.TASK_DEPARTED && m.slot === born.slot);
  t.ok(gone.seq > woke.seq, 'DEPARTED comes last');
  const perTask = h.log.filter((m) => m.slot === born.slot).map((m) => m.seq);
  t.same(perTask, [...perTask].sort((a, b) => a - b), 'the task\'s stream is delivered in seqnum order');
  t.equal(new Set(perTask).size, perTask.length, 'seqnums are unique');
});

t.test('a registered thread that exits produces TASK_DEAD', async (t) => {
  const h = new HandEnclave('dead');
  t.teardown(() => h.close());
  const w = startWorker('scripted-worker.ts', { enclave: h.name });
  await nextMessage(w, (m) => m.kind === 'registering'); // wait out its boot here, not in until(), which spins a cpu the boot could use
  const born = await h.until((m) => m.type === MsgType.TASK_NEW);
  h.commit([[born.slot, E, born.seq]]);
  await nextMessage(w, (m) => m.kind === 'registered');
  w.postMessage({ op: 'exit' });
  const dead = await h.until((m) => m.type === MsgType.TASK_DEAD && m.slot === born.slot);
  t.equal(dead.src, MsgSrc.KERNEL);
  t.ok(dead.seq > born.seq);
});
