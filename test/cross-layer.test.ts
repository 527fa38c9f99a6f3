// cross-layer.test.ts: the agent publishes thread states into a map a socket-select policy reads; the steering follows the agent's state.
import t from 'tap';
import { SchedState } from '../agent/sched-state.ts';
import { attach } from '../client/index.ts';
import { SyrupClient } from '../net/client.ts';
import { PinnedMap } from '../net/maps.ts';
import { createReuseportGroup } from '../net/reuseport.ts';
import { enclaveName, nextMessage, startAgent, startWorker } from './helpers/live.ts';
import { createNetns, policyPath, sendUdp, startSyrupd, until } from './net-harness.ts';

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
  const agent = await startAgent(['--enclave', 'cpus=0', '--agent-cpu', '1', '--name', name, '--stats-interval', '0', '--publish-map', statePin]);
  t.teardown(() => agent.stop());
  const state = new PinnedMap(statePin, { key: 'u32', value: 'u32' });
  t.teardown(() => state.close());
  const send = async (n: number): Promise<number[]> => {
    counts.fill(0);
    await sendUdp(ns, ns.hostAddr, port, [{ count: n, srcPort: 42000, payload: 'GET k' }]);
    await until(() => counts.reduce((a, b) => a + b, 0) === n, `${n} datagrams`);
    return [...counts];
  };

  const shared = new SharedArrayBuffer(8);
  const words = new Int32Array(shared);
  const start = async (executor: number, role: string) => {
    const w = startWorker('executor-worker.ts', { enclave: name, executor, shared, role });
    const done = nextMessage(w, (m: any) => m.kind === 'done');
    const registered = nextMessage<{ slot: number }>(w, (m: any) => m.kind === 'registered');
    await nextMessage(w, (m: any) => m.kind === 'registering');
    return { done, registered };
  };
  // Executor 2's thread parks (idle); executor 0's holds the only cpu; executor 1's queues behind it.
  const idle = await start(2, 'idle');
  await until(() => state.get(2) === SchedState.IDLE, 'executor 2 idle');
  const blocker = await start(0, 'blocker');
  await until(() => state.get(0) === SchedState.RUNNING, 'executor 0 running');
  const queued = await start(1, 'queued');
  await until(() => state.get(1) === SchedState.QUEUED, 'executor 1 queued');

  const steeredAway = await send(30);
  t.equal(steeredAway[1], 0, `no request went to the executor whose thread is queued (${steeredAway})`);

  Atomics.store(words, 0, 1); // the blocker parks; the queued thread gets the cpu, then parks too
  await until(() => [0, 1, 2].every((i) => state.get(i) === SchedState.IDLE), 'all idle');
  t.same(await send(30), [10, 10, 10], 'once the agent reports every thread idle, round robin again');

  const steered = new PinnedMap(steeredPin, { key: 'u32', value: 'u64' });
  t.teardown(() => steered.close());
  const total = [0, 1, 2].reduce((a, i) => a + Number(steered.get(i) ?? 0n), 0);
  t.equal(total, 60, 'the network decisions are visible to the thread side through the steered map');

  Atomics.store(words, 1, 1); // finish: wake every parked thread so it sees the flag
  const enc = attach(name);
  for (const w of [idle, blocker, queued]) enc.wake((await w.registered).slot);
  await Promise.all([idle.done, blocker.done, queued.done]);
});
