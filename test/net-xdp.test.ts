// net-xdp.test.ts: xdp_skb / xdp_drv policies behind the per-interface dispatcher: DROP only hits the app's port, AF_XDP delivery to the chosen socket, offload refusal.
import t from 'tap';
import { netAddon } from '../net/addon.ts';
import { SyrupClient } from '../net/client.ts';
import { XskGroup } from '../net/xsk.ts';
import { createNetns, pinsUnder, sendUdp, settle, startSyrupd, udpCounter, until, writePolicy } from './net-harness.ts';

const DROP_ALL = `#include "syrup.h"
uint32_t schedule(void *pkt_start, void *pkt_end) { return SYR_DROP; }
`;

/** Executor = first payload digit ('0' or '1'); anything else goes to the kernel stack. */
const BY_DIGIT = `#include "syrup.h"
uint32_t schedule(void *pkt_start, void *pkt_end)
{
	char *c = syr_udp_payload(pkt_start, pkt_end, 1);
	if (c && (*c == '0' || *c == '1'))
		return *c - '0';
	return SYR_PASS;
}
`;

for (const hook of ['xdp_skb', 'xdp_drv'] as const) {
  t.test(`${hook}: a DROP policy drops only its own port, removal restores delivery`, async (t) => {
    const d = await startSyrupd(t);
    const ns = createNetns(t);
    const mine = await udpCounter(t, ns.hostAddr, 17201);
    const other = await udpCounter(t, ns.hostAddr, 17202);
    const client = await SyrupClient.connect({ socketPath: d.socketPath });
    t.teardown(() => client.close());
    const policy = await client.deployPolicy({ file: writePolicy(t, 'drop.c', DROP_ALL), hook, ifname: ns.hostIf, port: 17201 });
    const ifindex = netAddon.ifindex(ns.hostIf);
    t.not(netAddon.xdpAttachedId(ifindex, hook === 'xdp_skb' ? 'skb' : 'drv'), 0, 'dispatcher attached in the hook\'s mode');

    await sendUdp(ns, ns.hostAddr, 17201, [{ count: 20 }]);
    await sendUdp(ns, ns.hostAddr, 17202, [{ count: 20 }]);
    await until(() => other.count() === 20, 'datagrams to the other port');
    await settle();
    t.equal(mine.count(), 0, "the app's port got nothing");
    const status = await policy.status();
    t.equal(status.counters.drop, 20, 'the policy saw exactly its 20 packets');
    const list = await client.listPolicies();
    const iface = list.interfaces.find((i) => i.ifname === ns.hostIf)!;
    t.same(iface.ports, [{ protocol: 'udp', port: 17201, policy: policy.id }]);
    t.ok(iface.unowned >= 20, 'the other port went through the dispatcher untouched');

    if (hook === 'xdp_drv') {
      await t.rejects(
        client.deployPolicy({ file: writePolicy(t, 'drop2.c', DROP_ALL), hook: 'xdp_skb', ifname: ns.hostIf, port: 17202 }),
        { code: 'EIFACE', message: /drv mode/ },
        'a generic-mode policy cannot join a native-mode dispatcher',
      );
    }

    await policy.remove();
    t.equal(netAddon.xdpAttachedId(ifindex, 'skb') + netAddon.xdpAttachedId(ifindex, 'drv'), 0, 'last policy gone: dispatcher detached');
    t.same(pinsUnder(d.pinRoot), [], 'nothing left pinned');
    await sendUdp(ns, ns.hostAddr, 17201, [{ count: 5 }]);
    await until(() => mine.count() === 5, 'delivery after removal');
  });
}

t.test('xdp_skb: AF_XDP delivery to the socket the policy picks', async (t) => {
  const d = await startSyrupd(t);
  const ns = createNetns(t);
  const port = 17203;
  const stack = await udpCounter(t, ns.hostAddr, port);
  const xsks = new XskGroup({ ifname: ns.hostIf, count: 2 });
  t.teardown(() => xsks.close());
  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  t.teardown(() => client.close());
  const policy = await client.deployPolicy({
    file: writePolicy(t, 'digit.c', BY_DIGIT),
    hook: 'xdp_skb',
    ifname: ns.hostIf,
    port,
    executors: xsks.sockets,
  });
  await sendUdp(ns, ns.hostAddr, port, [
    { count: 5, payload: '0-zero' },
    { count: 7, payload: '1-one' },
    { count: 3, payload: 'stack' },
  ]);
  const got: string[][] = [[], []];
  const payloadOf = (frame: Buffer): string => frame.subarray(14 + 20 + 8).toString(); // eth + ipv4 + udp
  await until(() => {
    for (const i of [0, 1]) for (const f of xsks.receive(i)) got[i]!.push(payloadOf(f));
    return got[0]!.length + got[1]!.length >= 12 && stack.count() >= 3;
  }, 'AF_XDP frames');
  t.same(got[0], new Array(5).fill('0-zero'), 'socket 0 got exactly the frames for executor 0');
  t.same(got[1], new Array(7).fill('1-one'), 'socket 1 got exactly the frames for executor 1');
  t.same(stack.payloads, ['stack', 'stack', 'stack'], 'SYR_PASS frames reached the kernel socket');
  t.same((await policy.status()).counters.executors, [5, 7]);
});

t.test('xdp_offload: a NIC without offload gets a clear refusal', async (t) => {
  const d = await startSyrupd(t);
  const ns = createNetns(t);
  await udpCounter(t, ns.hostAddr, 17204);
  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  t.teardown(() => client.close());
  await t.rejects(
    client.deployPolicy({ file: writePolicy(t, 'drop.c', DROP_ALL), hook: 'xdp_offload', ifname: ns.hostIf, port: 17204 }),
    { code: 'ENOOFFLOAD', message: new RegExp(`interface ${ns.hostIf} cannot offload XDP programs`) },
  );
  t.same(pinsUnder(d.pinRoot), [], 'the failed deploy left nothing behind');
  t.same((await client.listPolicies()).policies, [], 'daemon still serves');
});
