// net-attach.test.ts: syrupctl deploys socket_select onto a real nginx it did not start: round robin spreads the flows the kernel hash piles on one worker, the requester must be nginx's user or root, and detach (or nginx's exit) restores the hash.
import t from 'tap';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { SyrupClient } from '../net/client.ts';
import { haveNginx, startNginx } from './helpers/nginx.ts';
import { createNetns, httpGets, policyPath, repo, startSyrupd, until } from './net-harness.ts';

const SYRUPCTL = path.join(repo, 'bin/syrupctl.js');

function syrupctl(socket: string, args: string[], uid?: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [SYRUPCTL, '--socket', socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(uid !== undefined ? { uid, gid: uid } : {}), timeout: 60_000 });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/** Workers that served each of `ports` (by the access log), in order. */
function servedBy(workerOfPort: Map<number, number>, ports: number[]): number[] {
  return ports.map((p) => workerOfPort.get(p) ?? -1);
}

t.test('socket_select onto nginx (2 workers, reuseport) that syrupd did not start', { skip: haveNginx() ? false : 'nginx (nginx-light) not installed' }, async (t) => {
  const d = await startSyrupd(t);
  const ns = createNetns(t);
  const port = 18080;
  const nginx = await startNginx(t, ns.hostAddr, port, 2);
  t.equal(nginx.workers.length, 2, 'nginx runs two workers');

  // Find a set of flows the kernel hash puts all on one worker: send 32 flows, keep those of the busier worker.
  const probe = Array.from({ length: 32 }, (_, i) => 42000 + i);
  await httpGets(ns, ns.hostAddr, port, probe);
  await until(() => nginx.workerOfPort().size === 32, 'the probe requests in the access log');
  const byPort = nginx.workerOfPort();
  const [busy] = [...nginx.requestsByWorker().entries()].sort((a, b) => b[1] - a[1])[0]!;
  const flows = probe.filter((p) => byPort.get(p) === busy).slice(0, 8);
  t.ok(flows.length >= 8, `at least 8 of 32 flows hashed to one worker (${flows.length})`);

  // The same flows again under the kernel hash: they stay on that one worker.
  await httpGets(ns, ns.hostAddr, port, flows.map((p) => p));
  await until(() => flows.every((p) => nginx.workerOfPort().has(p)), 'the replayed flows');
  t.same(new Set(servedBy(nginx.workerOfPort(), flows)), new Set([busy]), 'the kernel hash keeps those flows on one worker');

  // Refused: another user, a process that does not exist; nothing is deployed by either.
  const other = await syrupctl(d.socketPath, ['deploy', '--pid', String(nginx.master), '--port', String(port), policyPath('round_robin.c')], 65534);
  t.equal(other.code, 1, 'uid 65534 may not deploy onto root\'s nginx');
  t.match(other.err, /EPERM: uid 65534 may not act on pid \d+ \(uid 0\)/);
  const gone = await syrupctl(d.socketPath, ['deploy', '--pid', '4194000', '--port', String(port), policyPath('round_robin.c')]);
  t.equal(gone.code, 1);
  t.match(gone.err, /ENOTARGET: no process 4194000/);
  const wrongPort = await syrupctl(d.socketPath, ['deploy', '--pid', String(nginx.master), '--port', String(port + 1), policyPath('round_robin.c')]);
  t.match(wrongPort.err, /EEXECUTOR: pid \d+ holds no listening TCP socket bound to port 18081/);

  const ok = await syrupctl(d.socketPath, ['deploy', '--pid', String(nginx.master), '--port', String(port), policyPath('round_robin.c')]);
  t.equal(ok.code, 0, `root deploys round_robin onto nginx: ${ok.err}`);
  const m = /^policy (\d+) deployed onto pid \d+: tcp port 18080, 2 sockets/.exec(ok.out);
  t.ok(m, `it found both workers' sockets: ${ok.out.trim()}`);
  const id = Number(m?.[1]);
  const again = await syrupctl(d.socketPath, ['deploy', '--pid', String(nginx.master), '--port', String(port), policyPath('round_robin.c')]);
  t.match(again.err, /EPORTCLAIMED/, 'the port\'s claim still holds: one policy per group');

  await httpGets(ns, ns.hostAddr, port, flows);
  await until(() => [...nginx.requestsByWorker().values()].reduce((a, b) => a + b, 0) >= 32 + 2 * flows.length, 'the round-robin requests');
  const rr = servedBy(nginx.workerOfPort(), flows);
  t.same(nginx.workers.map((w) => rr.filter((x) => x === w).length), [flows.length / 2, flows.length / 2], `round robin splits the same flows evenly (${rr})`);

  // syrupctl exited: the policy is not its connection's, it stays until removed.
  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  t.teardown(() => client.close());
  t.same((await client.listPolicies()).policies.map((p) => p.id), [id], 'the policy outlives the syrupctl that deployed it');

  const removed = await syrupctl(d.socketPath, ['remove', String(id)]);
  t.equal(removed.code, 0);
  await httpGets(ns, ns.hostAddr, port, flows);
  await until(() => [...nginx.requestsByWorker().values()].reduce((a, b) => a + b, 0) >= 32 + 3 * flows.length, 'the requests after removal');
  t.same(new Set(servedBy(nginx.workerOfPort(), flows)), new Set([busy]), "after removal the kernel's hash is back: the flows go to the same worker as before");

  // Deployed again, then nginx exits: syrupd removes the policy.
  const re = await syrupctl(d.socketPath, ['deploy', '--pid', String(nginx.master), '--port', String(port), policyPath('round_robin.c')]);
  t.equal(re.code, 0);
  await nginx.stop();
  await until(async () => (await client.listPolicies()).policies.length === 0, 'the policy to go with nginx');
  t.pass('nginx exited and its policy was removed');
});

t.test("nginx's own user may deploy onto it, without root", { skip: haveNginx() ? false : 'nginx (nginx-light) not installed' }, async (t) => {
  const d = await startSyrupd(t);
  const ns = createNetns(t);
  const port = 18090;
  const nginx = await startNginx(t, ns.hostAddr, port, 2, 65534);
  const r = await syrupctl(d.socketPath, ['deploy', '--pid', String(nginx.master), '--port', String(port), policyPath('round_robin.c')], 65534);
  t.equal(r.code, 0, `uid 65534 deploys onto its own nginx: ${r.err}`);
  t.match(r.out, /2 sockets/);
  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  t.teardown(() => client.close());
  const [p] = (await client.listPolicies()).policies;
  t.equal(p?.uid, 65534, 'the policy is the requester\'s');
  const flows = Array.from({ length: 8 }, (_, i) => 44000 + i);
  await httpGets(ns, ns.hostAddr, port, flows);
  await until(() => [...nginx.requestsByWorker().values()].reduce((a, b) => a + b, 0) >= 8, 'the requests');
  t.same([...nginx.requestsByWorker().values()], [4, 4], 'round robin over its two workers');
});

t.test('syrupctl deploy: bad arguments get one line and exit 2, before syrupd is asked', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['deploy', '--port', '80', policyPath('round_robin.c')], /--pid must be a process id/],
    [['deploy', '--pid', 'nginx', '--port', '80', policyPath('round_robin.c')], /--pid must be a process id/],
    [['deploy', '--pid', '1', '--port', '70000', policyPath('round_robin.c')], /--port must be 1..65535/],
    [['deploy', '--pid', '1', '--port', '80', '--protocol', 'sctp', policyPath('round_robin.c')], /--protocol must be tcp or udp \(got sctp\)/],
    [['deploy', '--pid', '1', '--port', '80'], /takes one policy file/],
    [['deploy', '--pid', '1', '--port', '80', '/nonexistent/p.c'], /cannot read \/nonexistent\/p.c/],
  ];
  for (const [args, msg] of cases) {
    const r = await syrupctl('/nonexistent/syrupd.sock', args);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.err, msg);
  }
});
