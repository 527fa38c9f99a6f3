// cross-layer.test.ts: the agent publishes thread states into a map a socket-select policy reads; the steering follows the agent's state.
import t from 'tap';
import { SchedState } from '../agent/sched-state.ts';
import { attach } from '../client/index.ts';
import { SyrupClient } from '../net/client.ts';
import { PinnedMap } from '../net/maps.ts';
import { createReuseportGroup } from '../net/reuseport.ts';
import { enclaveName, nextMessage, startAgent, startWorker } from './helpers/live.ts';
import { createNetns, policyPath, sendUdp, startSyrupd, until } from './net-harness.ts';
import { ENCLAVE_ARGS } from './helpers/cpus.ts';

t.test('sched_aware.c steers requests away from the executor whose thread is queued', async (t) => {
  const port = 17301;
  const d = await startSyrupd(t);
  const ns = createNetns(t);
  const group = await createReuseportGroup({ protocol: 'udp', port, count: 3, address: ns.hostAddr });
  t.teardown(() => group.close());
  const counts = [0, 0, 0];
  group.sockets.forEach((s, i) => s.on('message', () => counts[i]++));
  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  t.teardown(() => client.close());
  const policy = await client.deployPolicy({ file: policyPath('sched_aware.c'), hook: 'socket_select', port, executors: group.sockets });
  const statePin = policy.description.maps.find((m) => m.name === 'sched_state')!.path;
  const steeredPin = policy.description.maps.find((m) => m.name === 'steered')!.path;

  const name = enclaveName('xl');
  const agent = await startAgent([
    ...ENCLAVE_ARGS, '--name', name, '--stats-interval', '0', '--publish-map', statePin,
    '--policy', 'test/fixtures/hold-policy.ts',
  ]);
  t.teardown(() => agent.stop());
  const state = new PinnedMap(statePin, { key: 'u32', value: 'u32' });
  t.teardown(() => state.close());
  let sent = 0;
  const steered = new PinnedMap(steeredPin, { key: 'u32', value: 'u64' });
  t.teardown(() => steered.close());
  const send = async (n: number): Promise<number[]> => {
    counts.fill(0);
    sent += n;
    await sendUdp(ns, ns.hostAddr, port, [{ count: n, srcPort: 42000, payload: 'GET k' }]);
    await until(() => counts.reduce((a, b) => a + b, 0) === n, `${n} datagrams`);
    return [...counts];
  };

  const enc = attach(name);
  /*
   * Executor 2's thread parks (idle); executor 0's holds the only cpu;
   * executor 1's is queued. The policy (hold-policy.ts) keeps it queued until
   * executor 0's thread parks on its own, so the queued state cannot end early
   * when the Node worker in front of it blocks in the kernel on a runtime lock.
   */
  const shared = new SharedArrayBuffer(8);
  const words = new Int32Array(shared);
  const start = async (executor: number, role: string) => {
    const w = startWorker('executor-worker.ts', { enclave: name, executor, shared, role });
    const done = nextMessage(w, (m: any) => m.kind === 'done');
    const registered = nextMessage<{ slot: number; handle: number }>(w, (m: any) => m.kind === 'registered');
    let ran = false;
    void registered.then(() => (ran = true));
    await nextMessage(w, (m: any) => m.kind === 'registering');
    return { done, registered, ran: () => ran };
  };
  const idle = await start(2, 'idle');
  await idle.registered; // IDLE is 0, what the map holds before the agent writes it: wait for the thread instead
  await until(() => state.get(2) === SchedState.IDLE, 'executor 2 idle');
  const blocker = await start(0, 'blocker');
  await until(() => state.get(0) === SchedState.RUNNING, 'executor 0 running');
  const queued = await start(1, 'queued');
  await until(() => state.get(1) === SchedState.QUEUED, 'executor 1 queued');
  const steering = await send(30);
  t.ok(!queued.ran() && state.get(1) === SchedState.QUEUED, 'executor 1 stayed queued for the whole send');
  t.equal(steering[1], 0, `no request went to the executor whose thread is queued (${steering})`);

  Atomics.store(words, 0, 1); // the blocker parks; the queued thread gets the cpu, then parks too
  await until(() => [0, 1, 2].every((i) => state.get(i) === SchedState.IDLE), 'all idle');
  const before = [0, 1, 2].map((i) => Number(steered.get(i) ?? 0n));
  t.same(await send(30), [10, 10, 10], 'once the agent reports every thread idle, round robin again');

  const after = [0, 1, 2].map((i) => Number(steered.get(i) ?? 0n));
  t.same(after.map((n, i) => n - before[i]), [10, 10, 10], 'the network decisions are visible to the thread side through the steered map');
  t.equal(after.reduce((a, b) => a + b, 0), sent, 'the steered map counts every request sent');
  Atomics.store(words, 1, 1); // wake every parked thread so it sees the flag
  for (const w of [idle, blocker, queued]) enc.wake((await w.registered).handle);
  await Promise.all([idle.done, blocker.done, queued.done]);
});
