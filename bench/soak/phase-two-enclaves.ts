// phase-two-enclaves.ts: two enclaves with different policies side by side, each with its own service; SIGKILL one agent under load: the other keeps scheduling, neither loses a request.
import { sleep, tally, waitFor, nowNs, type Check, type PhaseResult, type SoakContext } from './phase.ts';

/*
 * The 2-cpu layout: enclave A (FIFO) is the soak's enclave cpu with its agent
 * on the agent cpu; enclave B (Shinjuku) is the agent cpu with its agent on
 * the enclave cpu. Both agents --idle-yield, so each gives its cpu to the
 * other enclave's threads when idle. Each service runs at half the soak's
 * rate, its dispatcher off its own enclave's cpu (so on the other's).
 */
export async function twoEnclavesPhase(ctx: SoakContext): Promise<PhaseResult> {
  const { cfg } = ctx;
  const nameA = ctx.enclave('twoA');
  const nameB = ctx.enclave('twoB');
  const t0 = Date.now();
  const rate = Math.round(cfg.rate / 2);
  const a = await ctx.agent(nameA, ['--policy', 'fifo']);
  const b = await ctx.agent(nameB, ['--policy', 'shinjuku'], { cpu: cfg.agentCpu, agentCpu: cfg.cpu });
  const svcA = await ctx.service({ enclave: nameA, rate });
  const svcB = await ctx.service({ enclave: nameB, rate, enclaveCpus: [cfg.agentCpu] });
  await sleep(cfg.faultLeadS * 1000);

  const killNs = nowNs();
  a.signal('SIGKILL');
  const aDetached = await waitFor(() => !!svcA.last && svcA.last.nowNs > killNs && svcA.last.workers.every((w) => w.detached), 5000);
  const servedBAtKill = svcB.history.find((s) => s.nowNs >= killNs)?.served ?? 0;
  await sleep(cfg.faultLeadS * 1000);
  const servedBAfter = (svcB.last?.served ?? 0) - servedBAtKill;
  const bNeverDetached = svcB.history.every((s) => s.workers.every((w) => !w.detached));
  const fA = await svcA.stop();
  const fB = await svcB.stop();
  const bAlive = b.alive;
  await b.stop();
  const exitB = await b.exited;
  const finB = b.final();
  const loadA = tally(fA);
  const loadB = tally(fB);
  const checks: Check[] = [
    { what: 'every request of both services answered (lost = 0)', ok: loadA.lost === 0 && loadB.lost === 0, detail: `A ${loadA.answered}/${loadA.sent}, B ${loadB.answered}/${loadB.sent}` },
    { what: "A's workers saw their agent die and went on under Linux", ok: aDetached },
    { what: "B kept scheduling after A's agent died, its workers never detached", ok: bAlive && bNeverDetached && servedBAfter > 0, detail: `${servedBAfter} answered by B after the kill` },
    { what: "B's agent exited cleanly at the end", ok: exitB.code === 0 && ((finB?.totals.txnResults.OK as number) ?? 0) > 0, detail: `exit ${exitB.code}` },
  ];
  return {
    phase: 'two-enclaves',
    title: 'Two enclaves side by side, one agent SIGKILLed',
    seconds: (Date.now() - t0) / 1000,
    injected: `enclave A (FIFO, cpu ${cfg.cpu}) and enclave B (Shinjuku, cpu ${cfg.agentCpu}), each agent on the other's cpu with --idle-yield, each with its own service at ${rate} req/s; SIGKILL of A's agent after ${cfg.faultLeadS} s`,
    load: { ...loadB, sent: loadA.sent + loadB.sent, answered: loadA.answered + loadB.answered, lost: loadA.lost + loadB.lost, answeredPerS: loadA.answeredPerS + loadB.answeredPerS },
    facts: { loadA: { sent: loadA.sent, lost: loadA.lost, p99Ms: loadA.latency.p99Us / 1000 }, loadB: { sent: loadB.sent, lost: loadB.lost, p99Ms: loadB.latency.p99Us / 1000 }, answeredByBAfterKill: servedBAfter },
    checks,
    findings: [],
  };
}
