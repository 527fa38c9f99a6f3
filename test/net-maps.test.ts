// net-maps.test.ts: a policy's maps opened from TypeScript change its next decision (busy sockets, load counters via syscalls and via mmap).
import t from 'tap';
import { SyrupClient } from '../net/client.ts';
import { createReuseportGroup } from '../net/reuseport.ts';
import { createNetns, policyPath, sendUdp, startSyrupd, until, type Teardown } from './net-harness.ts';

async function setup(t: Teardown, file: string, port: number, count: number) {
  const d = await startSyrupd(t);
  const ns = createNetns(t);
  const group = await createReuseportGroup({ protocol: 'udp', port, count, address: ns.hostAddr });
  t.teardown(() => group.close());
  const counts = new Array<number>(count).fill(0);
  group.sockets.forEach((s, i) => s.on('message', () => counts[i]!++));
  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  t.teardown(() => client.close());
  const policy = await client.deployPolicy({ file: policyPath(file), hook: 'socket_select', port, executors: group.sockets });
  const send = async (n: number, payload = 'GET k'): Promise<number[]> => {
    counts.fill(0);
    await sendUdp(ns, ns.hostAddr, port, [{ count: n, srcPort: 41000, payload }]);
    await until(() => counts.reduce((a, b) => a + b, 0) === n, `${n} datagrams`);
    return [...counts];
  };
  return { policy, send };
}

t.test('scan_avoid: marking a socket busy takes it out of rotation at once', async (t) => {
  const { policy, send } = await setup(t, 'scan_avoid.c', 17101, 3);
  t.same(await send(30), [10, 10, 10], 'GETs go round robin');
  const busy = policy.openMap('busy', { key: 'u32', value: 'u32' });
  t.equal(busy.via, 'pin', 'root app opens the pinned map directly');
  await busy.set(1, 1);
  t.equal(await busy.get(1), 1);
  // A GET whose turn falls on the busy socket takes the next free one.
  t.same(await send(30), [10, 0, 20], 'no GET reaches the busy socket');
  const scans = await send(30, 'SCAN k');
  t.equal(scans[1], 10, 'SCANs still use every socket');
  await busy.set(1, 0);
  t.same(await send(30), [10, 10, 10], 'cleared: back in rotation');
  t.same(await busy.keys(), Array.from({ length: 64 }, (_, i) => i), 'array map lists every index');
});

t.test('least_loaded: load written by the app steers inputs; the policy counts its assignments', async (t) => {
  const { policy, send } = await setup(t, 'least_loaded.c', 17102, 3);
  const load = policy.openMap('load', { key: 'u32', value: 'u64' });
  await load.set(0, 100n);
  await load.set(1, 100n);
  await load.set(2, 0n);
  t.same(await send(10), [0, 0, 10], 'all inputs go to the idle executor');
  t.equal(await load.get(2), 10n, "the policy's own increments are visible to the app");

  // The same map through shared memory: entry i is a u64 at byte 8*i.
  const shared = new BigUint64Array(load.direct!.mmap(), 0, 3);
  t.equal(shared[2], 10n, 'mmap sees the same values');
  shared[2] = 1000n;
  t.same(await send(10), [5, 5, 0], 'a load written through mmap takes effect on the next input');
  t.equal(await load.get(2), 1000n);
});

t.test('map API errors name the problem', async (t) => {
  const { policy } = await setup(t, 'scan_avoid.c', 17103, 2);
  t.throws(() => policy.openMap('busy', { key: 'u32', value: 'u64' }), { code: 'EBADREQUEST', message: /4-byte values/ });
  t.throws(() => policy.openMap('nope', { key: 'u32', value: 'u32' }), { code: 'ENOMAP', message: /busy/ });
  const busy = policy.openMap('busy', { key: 'u32', value: 'u32' });
  await t.rejects(busy.set(1000, 1), { code: 'EBADREQUEST' }, 'index beyond max_entries');
  await t.rejects(busy.set(1, -1), RangeError);
});
