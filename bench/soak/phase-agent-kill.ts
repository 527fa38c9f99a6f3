// phase-agent-kill.ts: SIGKILL the agent under load; threads go on under Linux; a new agent starts and the service re-registers.
import { countSlots } from './region.ts';
import { tidMapEntries } from './resources.ts';
import { nowNs, sleep, tally, waitFor, type Check, type PhaseResult, type SoakContext } from './phase.ts';

export async function agentKillPhase(ctx: SoakContext): Promise<PhaseResult> {
  const { cfg } = ctx;
  const name = ctx.enclave('kill');
  const t0 = Date.now();
  const first = await ctx.agent(name);
  const svc = await ctx.service({ enclave: name });
  await sleep(cfg.faultLeadS * 1000);

  const killNs = nowNs();
  first.signal('SIGKILL');
  const allDetached = await waitFor(() => !!svc.last && svc.last.nowNs > killNs && svc.last.workers.every((w) => w.detached), 5000);
  // Under Linux for a while: the counter protocol over the futex handshake keeps answering.
  const servedAtKill = svc.history.find((s) => s.nowNs >= killNs)?.served ?? 0;
  await sleep(1000);

  const second = await ctx.agent(name);
  const readyNs = nowNs();
  const servedUnderLinux = (svc.history.filter((s) => s.nowNs <= readyNs).at(-1)?.served ?? 0) - servedAtKill;
  const reregistered = await waitFor(() => !!svc.last && svc.last.workers.every((w) => w.regs >= 2 && !w.detached && w.agent === second.pid), 10000);
  await sleep(300);
  const slotsNew = countSlots(name)?.inUse ?? -1;
  const mapNew = tidMapEntries(name);
  await sleep(cfg.faultLeadS * 1000);
  const f = await svc.stop();
  const stoppedAt = nowNs();
  await second.stop();
  const fin = second.final();
  const load = tally(f);
  const detachLat = f.workers.map((w) => (w.detachSeenNs > 0 ? (w.detachSeenNs - killNs) / 1e6 : NaN));
  const reregLat = f.workers.map((w) => (w.reregisteredNs > 0 ? (w.reregisteredNs - readyNs) / 1e6 : NaN));

  const checks: Check[] = [
    { what: 'every request answered (lost = 0)', ok: load.lost === 0, detail: `${load.answered}/${load.sent}` },
    { what: 'every worker saw the agent die and went on under Linux', ok: allDetached && detachLat.every((x) => x >= 0), detail: `slowest after ${Math.max(...detachLat).toFixed(1)} ms` },
    { what: 'requests were answered while there was no agent', ok: servedUnderLinux > 0, detail: `${servedUnderLinux}` },
    { what: 'a new agent started on the same enclave name', ok: second.alive || fin !== undefined },
    { what: 'every worker re-registered with the new agent', ok: reregistered && reregLat.every((x) => x >= 0), detail: `slowest ${Math.max(...reregLat).toFixed(1)} ms after it was ready` },
    { what: 'new enclave holds exactly the re-registered workers', ok: slotsNew === cfg.workers && mapNew === cfg.workers, detail: `slots ${slotsNew}, tid map ${mapNew}` },
    { what: 'the new agent scheduled them (TASK_NEW per worker, placements committed)', ok: (fin?.totals.msgs.TASK_NEW ?? 0) === cfg.workers && ((fin?.totals.txnResults.OK as number) ?? 0) > 0 },
  ];
  return {
    phase: 'agent-kill',
    title: 'Agent SIGKILL under load, then a new agent',
    seconds: (Date.now() - t0) / 1000,
    injected: 'SIGKILL of the agent; 1 s later a new agent on the same enclave name',
    load,
    facts: {
      detachMsMax: Math.max(...detachLat),
      detachMsByWorker: detachLat.map((x) => Math.round(x * 10) / 10),
      answeredWithoutAgent: servedUnderLinux,
      reregisterMsMax: Math.max(...reregLat),
      maxLatencyAroundFaultMs: svc.maxLatencyUs(killNs, stoppedAt) / 1000,
      newAgent: { slots: slotsNew, tidMap: mapNew, txnResults: fin?.totals.txnResults, shim: fin?.shim },
    },
    checks,
    findings: [],
  };
}
