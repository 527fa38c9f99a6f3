// isolation.test.ts: the enclave owns its cpus: threads outside it are moved off them while the agent runs and get them back however it ends.
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ISOLATION_CGROUP } from '../agent/abi.ts';
import { attach } from '../client/index.ts';
import { CPUSET_ROOT, STATE_DIR, cpusetUnavailable, reconcile } from '../agent/isolation.ts';
import { allowedCpus, enclaveName, nextMessage, startAgent, startWorker, waitFor } from './helpers/live.ts';
import { ALL_CPUS, ENCLAVE_ARGS, ENCLAVE_CPU, REST_CPUS } from './helpers/cpus.ts';

// The enclave and agent cpus of helpers/cpus.ts: what every live test here takes.
const common = (name: string) => [...ENCLAVE_ARGS, '--name', name, '--stats-interval', '200', '--idle-yield'];
const REST = path.join(CPUSET_ROOT, ISOLATION_CGROUP);

/** A niced busy loop in a process of its own, started before any agent; `pin` pins it first (taskset). */
function busy(t: Test, pin?: string): ChildProcess {
  const p = pin
    ? spawn('taskset', ['-c', pin, 'nice', '-n', '19', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' })
    : // taskset: this test process keeps itself off the enclave cpu (helpers/live.ts), and a child would inherit that
      spawn('taskset', ['-c', ALL_CPUS, 'nice', '-n', '19', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' });
  t.teardown(() => p.kill('SIGKILL'));
  return p;
}

const allowed = (p: ChildProcess) => /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync(`/proc/${p.pid}/status`, 'utf8'))![1];
const lastCpu = (p: ChildProcess) => {
  const stat = fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[36]);
};
const readyLine = (out: string[]) => JSON.parse(out.find((l) => l.includes('"agent ready"'))!);

const skip = cpusetUnavailable();

t.test('a busy thread started before the agent leaves the enclave cpus and gets them back when the agent exits', { skip }, async (t) => {
  const free = busy(t);
  const pinned = busy(t, String(ENCLAVE_CPU));
  await waitFor(() => fs.existsSync(`/proc/${pinned.pid}/status`) && allowed(pinned) === String(ENCLAVE_CPU));
  t.equal(allowed(free), ALL_CPUS, 'before: the free thread may run anywhere');
  const agent = await startAgent(common(enclaveName('iso')));
  const iso = readyLine(agent.out).isolation;
  t.equal(iso.state, 'isolated');
  t.equal(iso.restCpus, REST_CPUS, `everything else runs on cpus ${REST_CPUS}`);
  t.ok(iso.moved > 0, `threads were moved (${iso.moved})`);
  t.ok(iso.unmovable > 0, `what the kernel will not move is counted (${iso.unmovable}: ${iso.unmovableNames.join(', ')})`);
  t.equal(allowed(free), REST_CPUS, 'while the agent runs: off the enclave cpu');
  t.equal(allowed(pinned), REST_CPUS, 'a thread pinned to the enclave cpu is moved too');
  t.ok(await waitFor(() => lastCpu(free) !== ENCLAVE_CPU, 5000), 'and it runs off the enclave cpu');
  t.ok(await waitFor(() => agent.out.some((l) => l.includes('"agent stats"') && l.includes('"isolation"')), 5000), 'the stats line carries the isolation counts');
  t.equal((await agent.stop()).code, 0);
  t.equal(allowed(free), ALL_CPUS, 'after exit: all cpus again');
  t.equal(allowed(pinned), String(ENCLAVE_CPU), 'and the pinned thread is pinned where it was');
  t.notOk(fs.existsSync(REST), 'the isolation cgroup is gone');
});

t.test('after a SIGKILL the watchdog gives the cpus back', { skip }, async (t) => {
  const free = busy(t);
  const agent = await startAgent(common(enclaveName('isokill')));
  t.equal(allowed(free), REST_CPUS);
  agent.proc.kill('SIGKILL');
  await agent.exited;
  t.ok(await waitFor(() => allowed(free) === ALL_CPUS, 30_000), `all cpus again (now ${allowed(free)})`);
  t.ok(await waitFor(() => !fs.existsSync(REST), 5000), 'the isolation cgroup is gone');
});

t.test('a live upgrade keeps the cpus isolated; the new agent gives them back', { skip }, async (t) => {
  const free = busy(t);
  const name = enclaveName('isoupg');
  const first = await startAgent([...common(name), '--policy', 'fifo']);
  const second = await startAgent([...common(name), '--policy', 'shinjuku', '--upgrade']);
  t.equal((await first.exited).code, 0, 'the old agent handed over');
  // The old agent's watchdog has seen its pipe close by now; it must find the record taken over.
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(allowed(free), REST_CPUS, 'still off the enclave cpu under the new agent');
  t.equal((await second.stop()).code, 0);
  t.equal(allowed(free), ALL_CPUS, 'back after the new agent exits');
});

t.test('--no-isolate leaves other threads where they are', { skip }, async (t) => {
  const free = busy(t);
  const agent = await startAgent([...common(enclaveName('noiso')), '--no-isolate']);
  t.equal(readyLine(agent.out).isolation.state, 'not isolating');
  t.equal(allowed(free), ALL_CPUS);
  t.notOk(fs.existsSync(REST), 'no isolation cgroup');
  await agent.stop();
});

t.test('a registered thread is placed on the enclave cpu and handed back with every cpu, not the clipped mask', { skip }, async (t) => {
  const name = enclaveName('isoreg');
  const agent = await startAgent(common(name));
  const w = startWorker('park-worker.ts', { enclave: name });
  t.teardown(() => w.terminate());
  const { tid, handle } = await nextMessage<{ tid: number; handle: number }>(w, (m: any) => m.kind === 'registered');
  t.equal(await allowedCpus(tid), String(ENCLAVE_CPU), 'placed on the enclave cpu (it was admitted to the enclave cgroup)');
  const enc = attach(name);
  let seen = false;
  const detached = nextMessage(w, (m: any) => m.kind === 'detached').then(() => (seen = true));
  await agent.stop();
  // Detached, park() is a plain handshake: a wake lets the worker see it.
  while (!seen) {
    enc.wake(handle);
    await new Promise((r) => setTimeout(r, 20));
  }
  await detached;
  t.equal(await allowedCpus(tid), ALL_CPUS, 'after the hand-back it may run anywhere again');
  w.postMessage('exit');
});

t.test('a record left by a dead agent is cleaned up by the next reconcile', { skip }, async (t) => {
  const free = busy(t);
  await waitFor(() => fs.existsSync(`/proc/${free.pid}/status`));
  // A process that is gone by the time reconcile looks: its record is stale.
  const gone = spawn('true');
  await new Promise((r) => gone.once('exit', r));
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const record = path.join(STATE_DIR, 'stale-test.json');
  fs.writeFileSync(record, JSON.stringify({ name: 'stale-test', pid: gone.pid, start: 1, cpus: [ENCLAVE_CPU], isolate: true }));
  // What that agent left behind if its watchdog died with it: the rest cgroup, holding our busy thread.
  if (!fs.existsSync(REST)) fs.mkdirSync(REST);
  fs.writeFileSync(path.join(REST, 'cpuset.mems'), fs.readFileSync(path.join(CPUSET_ROOT, 'cpuset.mems'), 'utf8').trim());
  fs.writeFileSync(path.join(REST, 'cpuset.cpus'), REST_CPUS);
  fs.writeFileSync(path.join(REST, 'tasks'), String(free.pid));
  t.equal(allowed(free), REST_CPUS, 'left isolated');
  const r = reconcile();
  t.equal(r.restCpus, undefined, 'nobody isolates');
  t.notOk(fs.existsSync(record), 'the stale record is removed');
  t.equal(allowed(free), ALL_CPUS, 'the thread has every cpu again');
  t.notOk(fs.existsSync(REST), 'the isolation cgroup is gone');
});
