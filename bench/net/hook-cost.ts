// hook-cost.ts: per-packet cost of each hook's policy program, from the kernel's own BPF run-time statistics under real traffic through a veth.
import os from 'node:os';
import path from 'node:path';
import { netAddon, repoRoot } from '../../net/addon.ts';
import type { Policy, SyrupClient } from '../../net/client.ts';
import type { HookName } from '../../net/hooks.ts';
import { boundUdp, createNetns, type Teardown } from '../../test/net-harness.ts';
import type { NetBenchBinaries } from './native.ts';
import type { NetBenchOptions } from './options.ts';
import { runLoadgen, startServer } from './sweep.ts';

export interface HookCost {
  config: string;
  /** Packets the measured program ran for. */
  runs: number;
  /** Mean run time per packet in ns (0 for "no policy": no program runs). */
  nsPerPacket: number;
  /** One-way delay client send -> server socket, microseconds (includes this VM's scheduling noise). */
  oneWayP50: number;
  delivered: number;
}

interface CostConfig {
  config: string;
  hook?: HookName;
  policy?: string;
  /** Deploy the policy on another port, so the measured traffic only crosses the dispatcher. */
  otherPort?: boolean;
  executors?: boolean;
}

const CONFIGS: CostConfig[] = [
  { config: 'no policy' },
  // Where socket_select's time goes: the program with no selection (pass_through parses and returns PASS),
  // the selection helper with no policy work (first_executor), then round robin's own map and atomic.
  { config: 'socket_select pass_through (no selection)', hook: 'socket_select', policy: 'bench/net/pass_through.c', executors: true },
  { config: 'socket_select first_executor (selection only)', hook: 'socket_select', policy: 'bench/net/first_executor.c', executors: true },
  { config: 'socket_select round_robin', hook: 'socket_select', policy: 'net/policies/round_robin.c', executors: true },
  { config: 'xdp_skb dispatcher only (port not owned)', hook: 'xdp_skb', policy: 'bench/net/pass_through.c', otherPort: true },
  { config: 'xdp_skb pass_through', hook: 'xdp_skb', policy: 'bench/net/pass_through.c' },
  { config: 'xdp_drv pass_through', hook: 'xdp_drv', policy: 'bench/net/pass_through.c' },
  { config: 'cpu_redirect hash_port', hook: 'cpu_redirect', policy: 'net/policies/hash_port.c' },
];

export async function measureHookCosts(
  o: NetBenchOptions,
  bins: NetBenchBinaries,
  client: SyrupClient,
  progress: (msg: string) => void,
): Promise<HookCost[]> {
  const cleanups: (() => unknown)[] = [];
  const t: Teardown = { teardown: (fn) => cleanups.push(fn) };
  const statsFd = netAddon.enableRunStats();
  const results: HookCost[] = [];
  try {
    const ns = createNetns(t);
    const port = 19100;
    const otherPort = 19101;
    // Something of ours bound to the other port, so syrupd lets us claim it.
    const other = await boundUdp(otherPort, ns.hostAddr);
    cleanups.push(() => other.close());
    const serverCpu = (o.senderCpu + 1) % os.cpus().length;
    for (const c of CONFIGS) {
      const fds = [0, 1].map(() => netAddon.reuseportSocket('udp', 4, ns.hostAddr, port, 0));
      let policy: Policy | null = null;
      const server = await startServer(bins.server, fds, ['--cpu', String(serverCpu), '--service-ns', '0', '0']);
      try {
        if (c.hook) {
          policy = await client.deployPolicy({
            file: path.join(repoRoot, c.policy!),
            hook: c.hook,
            port: c.otherPort ? otherPort : port,
            ...(c.hook === 'socket_select' ? { executors: fds } : { ifname: ns.hostIf }),
          });
        }
        const p = await runLoadgen(
          bins.loadgen,
          [
            '--host', ns.hostAddr,
            '--port', String(port),
            '--flows', String(o.flows),
            '--rate', '20000',
            '--duration-ms', '2500',
            '--warmup-ms', '500',
            '--sender-cpu', String(o.senderCpu),
            '--receiver-cpu', String(serverCpu),
          ],
          2500,
          ns.name,
        );
        let runs = 0;
        let ns_ = 0;
        if (policy) {
          const list = await client.listPolicies();
          // Tail-called XDP policies are accounted to the interface's dispatcher.
          const prog =
            c.hook === 'socket_select'
              ? list.policies.find((x) => x.id === policy!.id)!.program
              : list.interfaces.find((i) => i.ifname === ns.hostIf)!.program;
          runs = prog.runCount;
          ns_ = prog.runCount > 0 ? prog.runTimeNs / prog.runCount : 0;
        }
        results.push({ config: c.config, runs, nsPerPacket: ns_, oneWayP50: p.netP50, delivered: p.received });
        progress(`hook cost: ${c.config.padEnd(42)} ${ns_.toFixed(0)} ns/packet over ${runs} runs`);
      } finally {
        await policy?.remove();
        await server.stop();
        for (const fd of fds) netAddon.closeFd(fd);
      }
    }
    return results;
  } finally {
    netAddon.closeFd(statsFd);
    for (const fn of cleanups.reverse()) await fn();
  }
}
