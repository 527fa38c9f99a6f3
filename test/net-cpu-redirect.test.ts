// net-cpu-redirect.test.ts: cpu_redirect steers each packet's stack processing to the cpu the policy names, counted on the cpu that really ran it.
import os from 'node:os';
import t from 'tap';
import { SyrupClient } from '../net/client.ts';
import { createNetns, sendUdp, startSyrupd, udpCounter, until, writePolicy } from './net-harness.ts';

/** Cpu = source port modulo the number of cpus. */
const BY_SOURCE_PORT = `#include "syrup.h"
uint32_t schedule(void *pkt_start, void *pkt_end)
{
	struct udphdr *udp = syr_udp(pkt_start, pkt_end);
	if (!udp)
		return SYR_PASS;
	return bpf_ntohs(udp->source) % syr_executor_count;
}
`;

t.test('cpu_redirect: packets processed on the chosen cpus and still delivered', async (t) => {
  const d = await startSyrupd(t);
  const ns = createNetns(t);
  const port = 17401;
  const sink = await udpCounter(t, ns.hostAddr, port);
  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  t.teardown(() => client.close());
  const policy = await client.deployPolicy({ file: writePolicy(t, 'bysrc.c', BY_SOURCE_PORT), hook: 'cpu_redirect', ifname: ns.hostIf, port });
  const cpus = os.cpus().length;
  t.equal(policy.description.executors, cpus, 'one executor per cpu');

  const flows = [
    { srcPort: 44000, count: 12 },
    { srcPort: 44001, count: 5 },
    { srcPort: 44003, count: 3 },
  ];
  await sendUdp(ns, ns.hostAddr, port, flows);
  await until(() => sink.count() === 20, 'delivery through the redirected cpus');
  const expected = new Array<number>(cpus).fill(0);
  for (const f of flows) expected[f.srcPort % cpus]! += f.count;
  const { counters } = await policy.status();
  t.same(counters.executors, expected, 'policy decisions per cpu');
  t.same(counters.cpuPackets, expected, 'packets counted by the program running on each target cpu');
});
