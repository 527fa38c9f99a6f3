// syrup-run.test.ts: an unmodified pthreads program under syrup-run: every thread registered, one at a time on the enclave cpu, the same output as under Linux, Linux again when the agent dies, and one-line errors with distinct exit codes.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildC } from './helpers/c-fixture.ts';
import { enclaveName, ROOT, runProcess, startAgent, tracedMessages, waitFor } from './helpers/live.ts';
import { ENCLAVE_ARGS, ENCLAVE_CPU } from './helpers/cpus.ts';

// cpus: ENCLAVE_ARGS (helpers/cpus.ts): one enclave cpu; FIFO never preempts, so cpu jobs run one thread at a time.
const RUN = path.join(ROOT, 'bin/syrup-run.js');
const agentArgs = (name: string, ...more: string[]) => [...ENCLAVE_ARGS, '--name', name, '--policy', 'fifo', '--stats-interval', '0', ...more];
const program = (t: Parameters<typeof buildC>[0]) => buildC(t, 'unmodified-threads', ['test/fixtures/unmodified-threads.c']);

/** The fixture's stderr line: overlaps=N cpus=LIST tids=MAIN,T1,... */
function schedLine(stderr: string): { overlaps: number; cpus: string; tids: number[] } {
  const m = /overlaps=(\d+) cpus=(\S*) tids=([\d,]+)/.exec(stderr);
  if (!m) throw new Error(`no schedule line in ${JSON.stringify(stderr)}`);
  return { overlaps: Number(m[1]), cpus: m[2], tids: m[3].split(',').map(Number) };
}

const syrupRun = (args: string[], timeoutMs = 60_000) => runProcess(process.execPath, [RUN, ...args], timeoutMs);

t.test('every thread is registered and runs only when placed; the output is the same as under Linux', async (t) => {
  const bin = program(t);
  const linux = spawnSync('taskset', ['-c', String(ENCLAVE_CPU), bin, '3', '10', '3000', '200'], { encoding: 'utf8', timeout: 30_000 });
  t.equal(linux.status, 0);
  t.ok(schedLine(linux.stderr).overlaps > 0, 'the control: Linux time-slices the threads on one cpu');

  const name = enclaveName('run');
  const agent = await startAgent(agentArgs(name, '--trace'));
  t.teardown(() => agent.stop());
  const r = await syrupRun(['--enclave', name, '--', bin, '3', '10', '3000', '200']);
  t.equal(r.code, 0, `it ran to completion: ${r.stderr}`);
  t.equal(r.stdout, linux.stdout, 'the same output as without Syrup');
  const s = schedLine(r.stderr);
  t.equal(s.cpus, String(ENCLAVE_CPU), 'every job ran on the enclave cpu');
  t.equal(s.overlaps, 0, 'one thread at a time');
  await agent.stop();
  const registered = new Set(tracedMessages(agent, 'TASK_NEW').map((m) => m.tid));
  t.ok(registered.has(s.tids[0]), 'the main thread, there before main(), registered');
  t.same(s.tids.slice(1).filter((tid) => !registered.has(tid)), [], 'so did every thread it created');
  const blocked = tracedMessages(agent, 'TASK_BLOCKED').length;
  t.ok(blocked >= 200, `the ping-pong's waits reached the policy as TASK_BLOCKED (${blocked})`);
});

t.test('the agent SIGKILLed mid-run: the program finishes under Linux with the same output', async (t) => {
  const bin = program(t);
  const expected = spawnSync(bin, ['3', '200', '2000', '100'], { encoding: 'utf8', timeout: 30_000 }).stdout;
  const name = enclaveName('runkill');
  const agent = await startAgent(agentArgs(name, '--trace'));
  t.teardown(() => agent.stop());
  const proc = spawn(process.execPath, [RUN, '--enclave', name, '--', bin, '3', '200', '2000', '100'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (err += d));
  const done = new Promise<number | null>((resolve) => proc.on('close', resolve));
  // Kill only once the program runs under the agent: syrup-run's own start
  // (tsx) can take over a second on a loaded machine, and a kill before its
  // preflight is a different case (NO_AGENT, tested below). The main thread
  // and its three workers register before any of the 1.2 s of cpu jobs ends.
  const registered = () => tracedMessages(agent, 'TASK_NEW').length;
  t.ok(await waitFor(() => registered() >= 4, 30_000), `the program's four threads registered (${registered()})`);
  t.equal(proc.exitCode, null, 'the program is still running when the agent dies');
  agent.proc.kill('SIGKILL');
  await agent.exited;
  t.equal(await done, 0, `it completed: ${err}`);
  t.equal(out, expected, 'with the output it has without Syrup');
});

t.test('bad input: a one-line error and a distinct exit code each', async (t) => {
  const bin = program(t);
  const name = enclaveName('runbad');
  const agent = await startAgent(agentArgs(name));
  t.teardown(() => agent.stop());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syrup-run-bad-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const noexec = path.join(dir, 'data');
  fs.writeFileSync(noexec, 'not a program\n', { mode: 0o644 });
  const staticBin = buildC(t, 'static-threads', ['-static', 'test/fixtures/unmodified-threads.c']);
  const cases: Array<[string, string[], number, RegExp]> = [
    ['no --enclave', ['--', bin], 2, /--enclave NAME is required/],
    ['no program', ['--enclave', name], 2, /no program given/],
    ['bad --qos', ['--enclave', name, '--qos', '-1', '--', bin], 2, /--qos must be an integer/],
    ['unknown flag', ['--enclave', name, '--bogus', '--', bin], 2, /unknown option --bogus/],
    ['no such enclave', ['--enclave', enclaveName('nosuch'), '--', bin], 3, /no such enclave.*NO_ENCLAVE/],
    ['bad enclave name', ['--enclave', 'no/slash', '--', bin], 3, /BAD_ENCLAVE_NAME/],
    ['static binary', ['--enclave', name, '--', staticBin], 4, /static binary/],
    ['not executable', ['--enclave', name, '--', noexec], 126, /not executable/],
    ['not found', ['--enclave', name, '--', 'syrup-no-such-program'], 127, /syrup-no-such-program: not found/],
  ];
  for (const [what, args, code, msg] of cases) {
    const r = await syrupRun(args, 20_000);
    t.equal(r.code, code, `${what}: exit ${code}`);
    t.match(r.stderr, msg, `${what}: says so`);
    t.equal(r.stderr.trim().split('\n').length, 1, `${what}: in one line`);
  }
  const ok = await syrupRun(['--enclave', name, '--qos', '2', '--', bin, '1', '1', '100', '1']);
  t.equal(ok.code, 0, 'and with good input it runs');
  agent.proc.kill('SIGKILL');
  await agent.exited;
  const dead = await syrupRun(['--enclave', name, '--', bin, '1', '1', '100', '1'], 20_000);
  t.equal(dead.code, 3, 'an enclave whose agent died: exit 3');
  t.match(dead.stderr, /no live agent \(NO_AGENT\)/, 'it says so');
});
