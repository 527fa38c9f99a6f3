// c-client.test.ts: the public C client library: a native service's threads run only on the enclave's cpus and only when placed, and fall back to Linux when the agent dies.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { buildAgainstLibsyrup } from './helpers/c-fixture.ts';
import { enclaveName, startAgent, tracedMessages, waitFor } from './helpers/live.ts';
import { ENCLAVE_ARGS, ENCLAVE_CPU } from './helpers/cpus.ts';

// cpus: ENCLAVE_ARGS (helpers/cpus.ts): one enclave cpu, so a policy runs one worker at a time.
const agentArgs = (name: string) => [...ENCLAVE_ARGS, '--name', name, '--policy', 'fifo', '--stats-interval', '0'];

/** worker-pool's summary line: jobs=N workers=N overlaps=N cpus=LIST detached=0|1 */
function summary(stdout: string): { overlaps: number; cpus: string; detached: number; jobs: number } {
  const m = /jobs=(\d+) workers=\d+ overlaps=(\d+) cpus=(\S*) detached=(\d)/.exec(stdout);
  if (!m) throw new Error(`no summary line in ${JSON.stringify(stdout)}`);
  return { jobs: Number(m[1]), overlaps: Number(m[2]), cpus: m[3], detached: Number(m[4]) };
}

t.test('the example service (client/examples/worker-pool.c) under FIFO', async (t) => {
  const bin = buildAgainstLibsyrup(t, 'worker-pool', 'client/examples/worker-pool.c');

  // The control: the same workers pinned to the same one cpu under Linux are time-sliced, so the check can see overlap.
  const linux = spawnSync('taskset', ['-c', String(ENCLAVE_CPU), bin, '-', '3', '30', '3000'], { encoding: 'utf8', timeout: 30_000 });
  t.equal(linux.status, 0, linux.stderr);
  t.ok(summary(linux.stdout).overlaps > 0, `under Linux the workers' jobs overlap (${summary(linux.stdout).overlaps})`);

  const name = enclaveName('cclient');
  const agent = await startAgent(agentArgs(name));
  t.teardown(() => agent.stop());
  const r = spawnSync(bin, [name, '3', '30', '3000'], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, `it ran to completion: ${r.stderr}`);
  const s = summary(r.stdout);
  t.equal(s.jobs, 30);
  t.equal(s.cpus, String(ENCLAVE_CPU), 'every job ran on the enclave cpu');
  t.equal(s.overlaps, 0, 'one worker at a time: none ran unless placed');
  t.equal(s.detached, 0, 'the agent was there throughout');
});

t.test('a bad enclave name is refused with its code', async (t) => {
  const bin = buildAgainstLibsyrup(t, 'worker-pool', 'client/examples/worker-pool.c');
  const r = spawnSync(bin, [enclaveName('nosuch')], { encoding: 'utf8', timeout: 10_000 });
  t.equal(r.status, 1);
  t.match(r.stderr, /no such enclave.*\(NO_ENCLAVE\)/);
});

t.test('the agent SIGKILLed mid-run: the C workers finish under Linux', async (t) => {
  const bin = buildAgainstLibsyrup(t, 'worker-pool', 'client/examples/worker-pool.c');
  const name = enclaveName('ckill');
  const agent = await startAgent([...agentArgs(name), '--trace']);
  t.teardown(() => agent.stop());
  const proc = spawn(bin, [name, '3', '500', '2000'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (err += d));
  const done = new Promise<number | null>((resolve) => proc.on('close', resolve));
  // Kill only once all three workers run under the agent (a worker that
  // registers after the kill is refused, and the service exits 1): the jobs
  // take 1 s of the one enclave cpu, so the agent dies well before they are done.
  const registered = () => tracedMessages(agent, 'TASK_NEW').length;
  t.ok(await waitFor(() => registered() >= 3, 30_000), `the service's three workers registered (${registered()})`);
  t.equal(proc.exitCode, null, 'the service is still running when the agent dies');
  agent.proc.kill('SIGKILL');
  await agent.exited;
  const code = await done;
  t.equal(code, 0, `the service completed: ${err}`);
  const s = summary(out);
  t.equal(s.jobs, 500, 'every job ran');
  t.equal(s.detached, 1, 'the library noticed the agent was gone');
});

t.test('hint setters take live handles only', async (t) => {
  const bin = buildAgainstLibsyrup(t, 'hint-check', 'test/fixtures/hint-check.c');
  const name = enclaveName('chints');
  const agent = await startAgent(agentArgs(name));
  t.teardown(() => agent.stop());
  const r = spawnSync(bin, [name], { encoding: 'utf8', timeout: 20_000 });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout.trim(), 'own=0 stale=STALE_HANDLE bad=-22 placed=1 self=1 after=NOT_REGISTERED self_after=0',
    'own handle: set; another generation: STALE_HANDLE; a bare slot: EINVAL; after unregister: NOT_REGISTERED');
});
