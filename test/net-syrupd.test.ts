// net-syrupd.test.ts: the syrupd and syrupctl commands: help and usage errors, listing with owners and counters, removal, compile cache, clean shutdown.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { netAddon } from '../net/addon.ts';
import { SyrupClient } from '../net/client.ts';
import { createReuseportGroup } from '../net/reuseport.ts';
import { createNetns, pinsUnder, policyPath, repo, sendUdp, startSyrupd, udpCounter, until, writePolicy } from './net-harness.ts';

function run(bin: string, args: string[], uid?: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repo, 'bin', bin), ...args], { cwd: repo, ...(uid === undefined ? {} : { uid, gid: uid }) }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

t.test('syrupd --help, bad flags, non-root', async (t) => {
  const help = await run('syrupd.js', ['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /socket_select, xdp_skb, xdp_drv, cpu_redirect and xdp_offload/);
  t.match(help.stdout, /--pin-root DIR/);
  const bad = await run('syrupd.js', ['--pin-root', '/tmp/x']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /options.pinRoot must be a directory below \/sys\/fs\/bpf\//);
  const nobody = await run('syrupd.js', [], 65534);
  t.equal(nobody.code, 2);
  t.match(nobody.stderr, /must run as root/);
  const ctl = await run('syrupctl.js', ['--help']);
  t.equal(ctl.code, 0);
  t.match(ctl.stdout, /list +deployed policies/);
  t.equal((await run('syrupctl.js', ['frobnicate'])).code, 2);
});

t.test('syrupctl lists hooks, owners and counters, and removes', async (t) => {
  const d = await startSyrupd(t);
  const ns = createNetns(t);
  const group = await createReuseportGroup({ protocol: 'udp', port: 17601, count: 2, address: ns.hostAddr });
  t.teardown(() => group.close());
  let received = 0;
  for (const s of group.sockets) s.on('message', () => received++);
  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  t.teardown(() => client.close());
  const policy = await client.deployPolicy({ file: policyPath('round_robin.c'), hook: 'socket_select', port: 17601, executors: group.sockets });
  await sendUdp(ns, ns.hostAddr, 17601, [{ count: 6 }]);
  await until(() => received === 6, 'datagrams');

  const list = await run('syrupctl.js', ['--socket', d.socketPath, 'list']);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /ID\s+HOOK\s+TARGET\s+OWNER/);
  t.match(list.stdout, new RegExp(`${policy.id}\\s+socket_select\\s+udp/17601\\s+root\\(0\\)\\s+${process.pid}\\s+\\S+round_robin\\.c\\s+exec=\\[3 3\\] pass=0 drop=0`));
  const json = JSON.parse((await run('syrupctl.js', ['--socket', d.socketPath, '--json', 'list'])).stdout);
  t.same(json.policies[0].counters.executors, [3, 3]);

  const removed = await run('syrupctl.js', ['--socket', d.socketPath, 'remove', String(policy.id)]);
  t.equal(removed.code, 0, removed.stderr);
  t.same((await client.listPolicies()).policies, []);
  const again = await run('syrupctl.js', ['--socket', d.socketPath, 'remove', String(policy.id)]);
  t.equal(again.code, 1);
  t.match(again.stderr, /ENOPOLICY/);
  t.equal((await run('syrupctl.js', ['--socket', path.join(d.dir, 'nope.sock'), 'list'])).code, 1, 'unreachable daemon: exit 1');

  await client.deployPolicy({ file: policyPath('round_robin.c'), hook: 'socket_select', port: 17601, executors: group.sockets });
  t.equal(readdirSync(d.cacheDir).filter((f) => f.endsWith('.o')).length, 1, 'same policy and hook: compiled once (content-hash cache)');
});

t.test('SIGTERM removes every policy: XDP detached, pins gone', async (t) => {
  const d = await startSyrupd(t);
  const ns = createNetns(t);
  const sink = await udpCounter(t, ns.hostAddr, 17602);
  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  const drop = writePolicy(t, 'drop.c', '#include "syrup.h"\nuint32_t schedule(void *s, void *e) { return SYR_DROP; }\n');
  await client.deployPolicy({ file: drop, hook: 'xdp_skb', ifname: ns.hostIf, port: 17602 });
  t.not(netAddon.xdpAttachedId(netAddon.ifindex(ns.hostIf), 'skb'), 0);
  t.ok(pinsUnder(d.pinRoot).length > 0);
  t.equal(await d.stop(), 0, 'clean exit');
  t.equal(netAddon.xdpAttachedId(netAddon.ifindex(ns.hostIf), 'skb'), 0, 'dispatcher detached');
  t.same(pinsUnder(d.pinRoot), [], 'no pins left');
  await sendUdp(ns, ns.hostAddr, 17602, [{ count: 3 }]);
  await until(() => sink.count() === 3, 'traffic flows again');
  await client.close();
});
