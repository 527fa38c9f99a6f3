// readme-policy.test.ts: the README's complete Policy example compiles, orders tasks LIFO, and runs real threads on the enclave.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { tsImport } from 'tsx/esm/api';
import { MsgType } from '../agent/abi.ts';
import { Agent } from '../agent/agent.ts';
import { FakeChannel } from '../agent/fake-channel.ts';
import type { Policy } from '../agent/policy.ts';
import { ROOT, enclaveName, nextMessage, startAgent, startWorker } from './helpers/live.ts';
import { ENCLAVE_ARGS, ENCLAVE_CPU } from './helpers/cpus.ts';

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const code = /```ts\n(\/\/ my-policy\.ts\n[\s\S]*?)```/.exec(readme)?.[1];
const file = path.join(ROOT, `readme-policy-${process.pid}.ts`);
fs.writeFileSync(file, code ?? '');
t.teardown(() => fs.rmSync(file, { force: true }));

t.test('the README example is a LIFO policy (fake channel)', async (t) => {
  t.ok(code, 'the README has the my-policy.ts example');
  const mod = (await tsImport(file, import.meta.url)) as { default: new () => Policy };
  const ch = new FakeChannel([0]);
  const agent = new Agent(ch, new mod.default(), { name: 'readme', statsIntervalMs: 0, yieldEveryMs: 1 });
  ch.post(MsgType.TASK_NEW, 1);
  agent.step();
  for (const s of [2, 3, 4]) ch.post(MsgType.TASK_NEW, s);
  agent.step();
  t.same(ch.placements(), [{ slot: 1, cpu: 0 }], 'the cpu is busy: the newcomers wait');
  for (const next of [4, 3, 2]) {
    ch.post(MsgType.TASK_BLOCKED, agent.taskOn(0)!.slot);
    agent.step();
    t.equal(agent.taskOn(0)?.slot, next, `then the newest waiting task (${next}) runs`);
  }
});

t.test('the README example runs real threads on the enclave cpu', async (t) => {
  const name = enclaveName('readme');
  const agent = await startAgent([...ENCLAVE_ARGS, '--name', name, '--stats-interval', '0', '--policy', `./${path.basename(file)}`]);
  t.teardown(() => agent.stop());
  t.match(agent.out.join('\n'), /"policy":"lifo"/, 'the agent runs the README policy');
  const shared = new SharedArrayBuffer(16);
  const done = [0, 1, 2].map((index) => {
    const w = startWorker('busy-worker.ts', { enclave: name, workMs: 30, shared, index });
    return nextMessage(w, (m) => m.kind === 'done');
  });
  const r = await Promise.all(done);
  t.equal(r.length, 3, 'every thread completed');
  t.ok(r.every((x) => x.cpu === ENCLAVE_CPU && x.scheduled), `each ran on enclave cpu ${ENCLAVE_CPU}, placed by the policy`);
});
