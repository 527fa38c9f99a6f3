// net-isolation.test.ts: two apps (root and nobody) with XDP policies on one interface each see only their own port; deploying on another's port, or touching its policy, is refused; an app's exit removes its policy.
import { statSync } from 'node:fs';
import t from 'tap';
import { SyrupClient } from '../net/client.ts';
import { createNetns, pinsUnder, sendUdp, settle, spawnApp, startSyrupd, udpCounter, until, writePolicy } from './net-harness.ts';

const NOBODY = 65534;

const DROP_ALL = `#include "syrup.h"
uint32_t schedule(void *pkt_start, void *pkt_end) { return SYR_DROP; }
`;

/** Passes everything, remembering the last source port it saw in a map the app can read. */
const WATCH = `#include "syrup.h"
SYR_MAP(last_src, ARRAY, __u32, __u32, 1);
SYR_MAP(limit, ARRAY, __u32, __u32, 1);
uint32_t schedule(void *pkt_start, void *pkt_end)
{
	__u32 zero = 0;
	struct udphdr *udp = syr_udp(pkt_start, pkt_end);
	__u32 *last = bpf_map_lookup_elem(&last_src, &zero);
	if (udp && last)
		*last = bpf_ntohs(udp->source);
	return SYR_PASS;
}
`;

t.test('two apps on one interface', async (t) => {
  const d = await startSyrupd(t);
  const ns = createNetns(t);
  const [PA, PB, PC] = [17301, 17302, 17303];
  const a = await udpCounter(t, ns.hostAddr, PA);
  const c = await udpCounter(t, ns.hostAddr, PC);
  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  t.teardown(() => client.close());
  const policyA = await client.deployPolicy({ file: writePolicy(t, 'drop.c', DROP_ALL), hook: 'xdp_skb', ifname: ns.hostIf, port: PA });

  const appB = await spawnApp(t, d.socketPath, NOBODY, NOBODY);
  t.ok((await appB.call({ cmd: 'bind', address: ns.hostAddr, port: PB })).ok);
  const deployed = await appB.call({ cmd: 'deploy', file: writePolicy(t, 'watch.c', WATCH), hook: 'xdp_skb', ifname: ns.hostIf, port: PB });
  t.ok(deployed.ok, `app B deployed: ${deployed.message ?? ''}`);
  const policyB = deployed.policy as { id: number; pinDir: string; uid: number };
  t.equal(policyB.uid, NOBODY);
  const st = statSync(policyB.pinDir);
  t.equal(st.uid, NOBODY, "B's pin directory belongs to B");
  t.equal(st.mode & 0o777, 0o700, 'and only B can open it');

  await sendUdp(ns, ns.hostAddr, PA, [{ count: 10, srcPort: 43001 }]);
  await sendUdp(ns, ns.hostAddr, PB, [{ count: 15, srcPort: 43002 }]);
  await sendUdp(ns, ns.hostAddr, PC, [{ count: 7, srcPort: 43003 }]);
  await until(() => c.count() === 7, 'unowned port traffic');
  await settle();
  t.equal(a.count(), 0, "A's policy dropped A's port");
  const list = await client.listPolicies();
  const byId = new Map(list.policies.map((p) => [p.id, p]));
  t.equal(byId.get(policyA.id)!.counters.drop, 10, 'A saw only its 10 packets');
  t.equal(byId.get(policyB.id)!.counters.pass, 15, 'B saw only its 15 packets');
  const last = await appB.call({ cmd: 'mapGet', map: 'last_src', key: 0 });
  t.same([last.ok, last.value], [true, 43002], `B's policy only saw B's flow (B read its pinned map via ${last.via})`);
  t.ok((await appB.call({ cmd: 'mapSet', map: 'limit', key: 0, value: 9 })).ok, 'B writes its own map');
  const viaDaemon = await appB.call({ cmd: 'request', op: 'mapGet', args: { policy: policyB.id, map: 'limit', key: 'AAAAAA==' } });
  t.same(viaDaemon.result, { value: Buffer.from([9, 0, 0, 0]).toString('base64') }, 'and the same value through syrupd');
  const aCounters = policyA.description.maps.find((m) => m.name === 'syr_counters')!;
  const pin = await appB.call({ cmd: 'openPin', path: aCounters.path, valueSize: 8 });
  t.same([pin.ok, pin.code], [false, 'EPERM'], `B cannot open A's pinned map: ${pin.message}`);

  const stolen = await appB.call({ cmd: 'deploy', file: writePolicy(t, 'drop2.c', DROP_ALL), hook: 'xdp_skb', ifname: ns.hostIf, port: PA });
  t.same([stolen.ok, stolen.code], [false, 'EPORTOWNER'], `B cannot deploy on A's port: ${stolen.message}`);
  await t.rejects(
    client.deployPolicy({ file: writePolicy(t, 'drop3.c', DROP_ALL), hook: 'xdp_skb', ifname: ns.hostIf, port: PB }),
    { code: 'EPORTOWNER', message: /port 17302/ },
    "A cannot deploy on B's port either",
  );
  const peek = await appB.call({ cmd: 'request', op: 'mapGet', args: { policy: policyA.id, map: 'syr_counters', key: 'AAAAAA==' } });
  t.same([peek.ok, peek.code], [false, 'ENOPOLICY'], "B cannot read A's maps");
  const rm = await appB.call({ cmd: 'request', op: 'remove', args: { policy: policyA.id } });
  t.same([rm.ok, rm.code], [false, 'ENOPOLICY'], "B cannot remove A's policy");

  // B dies without saying goodbye: its connection closes and its policy goes with it.
  await appB.kill();
  await until(async () => (await client.listPolicies()).policies.length === 1, "B's policy removal");
  t.notOk(pinsUnder(d.pinRoot).some((p) => p.startsWith(policyB.pinDir)), "B's pins are gone");
  const iface = (await client.listPolicies()).interfaces.find((i) => i.ifname === ns.hostIf)!;
  t.same(iface.ports.map((p) => p.port), [PA], 'only A still routes through the dispatcher');
});
