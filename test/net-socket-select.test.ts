// net-socket-select.test.ts: socket_select spreads one UDP flow and TCP connections over an SO_REUSEPORT group as the policy says, and removal restores the kernel's hash.
import t from 'tap';
import { SyrupClient } from '../net/client.ts';
import { createReuseportGroup } from '../net/reuseport.ts';
import { connectTcp, createNetns, pinsUnder, policyPath, sendUdp, settle, startSyrupd, until } from './net-harness.ts';

t.test('UDP: one 5-tuple, 40 datagrams, 4 sockets', async (t) => {
  const d = await startSyrupd(t);
  const ns = createNetns(t);
  const port = 17001;
  const group = await createReuseportGroup({ protocol: 'udp', port, count: 4, address: ns.hostAddr });
  t.teardown(() => group.close());
  const counts = [0, 0, 0, 0];
  group.sockets.forEach((s, i) => s.on('message', () => counts[i]!++));
  const total = (): number => counts.reduce((a, b) => a + b, 0);
  const flow = { count: 40, srcPort: 40001 };

  // Without a policy the kernel hashes the 5-tuple: every datagram lands on one socket.
  await sendUdp(ns, ns.hostAddr, port, [flow]);
  await until(() => total() === 40, 'baseline datagrams');
  t.same(counts.filter((c) => c > 0).length, 1, `kernel hash puts one flow on one socket (${counts})`);

  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  t.teardown(() => client.close());
  const policy = await client.deployPolicy({
    file: policyPath('round_robin.c'),
    hook: 'socket_select',
    port,
    executors: group.sockets,
  });
  t.equal(policy.description.executors, 4);
  t.ok(pinsUnder(d.pinRoot).some((p) => p.endsWith('/rr_next')), 'policy maps pinned');

  counts.fill(0);
  await sendUdp(ns, ns.hostAddr, port, [flow]);
  await until(() => total() === 40, 'round-robin datagrams');
  t.same(counts, [10, 10, 10, 10], 'round robin spreads the single flow evenly');
  const status = await policy.status();
  t.same(status.counters.executors, [10, 10, 10, 10], 'per-executor counters match');

  await policy.remove();
  t.same(pinsUnder(d.pinRoot), [], 'removal unpins everything');
  counts.fill(0);
  await sendUdp(ns, ns.hostAddr, port, [flow]);
  await until(() => total() === 40, 'post-removal datagrams');
  t.same(counts.filter((c) => c > 0).length, 1, `after removal the kernel hash is back (${counts})`);
});

t.test('TCP: SYNs of 8 connections go round robin over 4 listeners', async (t) => {
  const d = await startSyrupd(t);
  const ns = createNetns(t);
  const port = 17002;
  const group = await createReuseportGroup({ protocol: 'tcp', port, count: 4, address: ns.hostAddr });
  t.teardown(() => group.close());
  const accepted = [0, 0, 0, 0];
  group.servers.forEach((s, i) =>
    s.on('connection', (c) => {
      accepted[i]!++;
      c.on('error', () => undefined);
      c.end();
    }),
  );
  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  t.teardown(() => client.close());
  const policy = await client.deployPolicy({
    file: policyPath('round_robin.c'),
    hook: 'socket_select',
    protocol: 'tcp',
    port,
    executors: group.servers,
  });
  await connectTcp(ns, ns.hostAddr, port, 8);
  await until(() => accepted.reduce((a, b) => a + b, 0) === 8, 'accepted connections');
  t.same(accepted, [2, 2, 2, 2], 'each listener accepted two connections');
  t.same((await policy.status()).counters.executors, [2, 2, 2, 2], 'one decision per SYN');
});

/** syr_hash32 from syrup.h (murmur3 finaliser), to predict hash_port.c's choice. */
function syrHash32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

t.test('hash_port: each source port sticks to the socket its hash names', async (t) => {
  const d = await startSyrupd(t);
  const ns = createNetns(t);
  const port = 17005;
  const group = await createReuseportGroup({ protocol: 'udp', port, count: 3, address: ns.hostAddr });
  t.teardown(() => group.close());
  const seen = new Map<number, Set<number>>();
  group.sockets.forEach((s, i) =>
    s.on('message', (_m, rinfo) => {
      if (!seen.has(rinfo.port)) seen.set(rinfo.port, new Set());
      seen.get(rinfo.port)!.add(i);
    }),
  );
  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  t.teardown(() => client.close());
  const policy = await client.deployPolicy({ file: policyPath('hash_port.c'), hook: 'socket_select', port, executors: group.sockets });
  const srcPorts = [45001, 45002, 45003, 45004, 45005, 45006];
  await sendUdp(ns, ns.hostAddr, port, srcPorts.map((srcPort) => ({ count: 4, srcPort })));
  await until(() => seen.size === srcPorts.length, 'all source ports');
  await until(async () => (await policy.status()).counters.executors.reduce((a, b) => a + b, 0) === 24, 'decisions');
  for (const sp of srcPorts) t.same([...seen.get(sp)!], [syrHash32(sp) % 3], `source port ${sp} -> socket ${syrHash32(sp) % 3}`);
});

t.test('a second socket_select policy on the same port is refused', async (t) => {
  const d = await startSyrupd(t);
  const group = await createReuseportGroup({ protocol: 'udp', port: 17003, count: 2, address: '127.0.0.1' });
  t.teardown(() => group.close());
  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  t.teardown(() => client.close());
  await client.deployPolicy({ file: policyPath('round_robin.c'), hook: 'socket_select', port: 17003, executors: group.sockets });
  await t.rejects(
    client.deployPolicy({ file: policyPath('hash_port.c'), hook: 'socket_select', port: 17003, executors: group.sockets }),
    { code: 'EPORTCLAIMED' },
  );
  await t.rejects(
    client.deployPolicy({ file: policyPath('round_robin.c'), hook: 'socket_select', port: 17004, executors: group.sockets }),
    { code: 'EEXECUTOR', message: /bound to port 17004/ },
    'executors must be sockets on the requested port',
  );
  await settle(0);
});
