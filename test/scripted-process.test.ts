// scripted-process.test.ts: the test helper that runs a scripted worker in a process of its own refuses a step once that process is gone, naming the step.
import t from 'tap';
import { ScriptedProcess } from './helpers/scripted-process.ts';

t.test('a step for an exited scripted process throws instead of a later EPIPE', async (t) => {
  // No such enclave: the child's attach fails and it exits.
  const w = new ScriptedProcess(`no-such-enclave-${process.pid}`);
  await new Promise((resolve) => w.once('exit', resolve));
  t.throws(() => w.postMessage({ op: 'park' }), /scripted process \d+ has exited; step \{"op":"park"\} not sent/);
  await w.terminate();
});
