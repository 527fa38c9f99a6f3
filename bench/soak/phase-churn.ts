// phase-churn.ts: thread churn under load for N minutes: do slots, tid-map entries, fds or agent memory grow with it?
import { sampleResources, type ResourceSample } from './resources.ts';
import { nowNs, sleep, tally, waitFor, type Check, type PhaseResult, type SoakContext } from './phase.ts';

/** The cpu holder must not be a thread that no longer exists, and serving must not stop for this long. */
const WEDGE_MS = 5000;

export async function churnPhase(ctx: SoakContext): Promise<PhaseResult> {
  const { cfg } = ctx;
  const name = ctx.enclave('churn');
  const t0 = Date.now();
  const agent = await ctx.agent(name);
  const svc = await ctx.service({
    enclave: name,
    churn: { threads: cfg.churnThreads, cycles: cfg.churnCycles, spinMs: 0.2, reregister: 'slotFreed' },
  });
  await sleep(500);
  const startNs = nowNs();
  const at = () => (nowNs() - startNs) / 1e9;
  const samples: ResourceSample[] = [sampleResources(name, agent.pid, svc.pid, 0)];
  ctx.log(`churn: baseline ${fmt(samples[0])}`);
  svc.tell({ cmd: 'churn', on: true });

  const sampleEveryS = cfg.quick ? 2 : 30;
  let nextSample = sampleEveryS;
  let lastServed = -1;
  let lastProgress = Date.now();
  let wedged = '';
  while (at() < cfg.churnS) {
    await sleep(200);
    const s = svc.last;
    if (s && s.served !== lastServed) {
      lastServed = s.served;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress > WEDGE_MS) {
      wedged = `no request answered for ${WEDGE_MS} ms at ${at().toFixed(1)} s (sent ${s?.sent}, answered ${s?.served})`;
      break;
    }
    if (at() >= nextSample) {
      nextSample += sampleEveryS;
      const r = sampleResources(name, agent.pid, svc.pid, Math.round(at()));
      samples.push(r);
      ctx.log(`churn: ${r.atS}s ${fmt(r)} threads ${s?.churn.started} regs ${s?.churn.registrations}`);
    }
  }
  const churnS = at();
  svc.tell({ cmd: 'churn', on: false });
  await waitFor(() => (svc.last?.churn.active ?? 0) === 0, 15000, 50);
  await sleep(1000); // the agent frees the last slots as it reads their DEPARTED/DEAD
  const end = sampleResources(name, agent.pid, svc.pid, Math.round(at()));
  ctx.log(`churn: end ${fmt(end)}`);
  const churn = svc.last!.churn;
  const f = await svc.stop(wedged ? 3000 : 20000);
  await agent.stop();
  const fin = agent.final();
  const base = samples[0];
  const load = tally(f);

  // Memory: V8 heaps move in steps, so compare the settled second half of the run with its first samples.
  const rss = samples.map((s) => s.agent.rssKb);
  const checks: Check[] = [
    { what: 'every request answered (lost = 0)', ok: load.lost === 0, detail: `${load.answered}/${load.sent}` },
    { what: 'status-word slots back to baseline', ok: end.slots === base.slots, detail: `${base.slots} -> ${end.slots}` },
    { what: 'BPF tid-map entries back to baseline', ok: end.tidMap === base.tidMap, detail: `${base.tidMap} -> ${end.tidMap}` },
    { what: 'agent fds not grown (slack 2)', ok: end.agent.fds <= base.agent.fds + 2, detail: `${base.agent.fds} -> ${end.agent.fds}` },
    { what: 'agent RSS not grown by more than 32 MiB', ok: end.agent.rssKb - base.agent.rssKb < 32 * 1024, detail: `${mb(base.agent.rssKb)} -> ${mb(end.agent.rssKb)} MiB (max ${mb(Math.max(...rss))})` },
    { what: 'service never stopped being served', ok: wedged === '', detail: wedged || undefined },
    { what: 'churn threads all ran without error', ok: Object.keys(churn.failures).length === 0, detail: JSON.stringify(churn.failures) },
    { what: 'agent exited cleanly', ok: fin !== undefined },
  ];
  return {
    phase: 'churn',
    title: 'Thread churn under load',
    seconds: (Date.now() - t0) / 1000,
    injected: `${churn.started} short-lived registered threads (${cfg.churnThreads} at a time), ${churn.registrations} registrations, ${churn.exitedRegistered} threads exited while registered`,
    load,
    facts: {
      churnS: Math.round(churnS),
      threadsStarted: churn.started,
      registrations: churn.registrations,
      registrationsPerS: Math.round(churn.registrations / churnS),
      exitedRegistered: churn.exitedRegistered,
      start: base,
      end,
      samples,
      shim: fin?.shim,
      msgs: fin?.totals.msgs,
      txnResults: fin?.totals.txnResults,
    },
    checks,
    findings: wedged ? [`churn wedged the enclave: ${wedged}`] : [],
  };
}

const mb = (kb: number) => (kb / 1024).toFixed(1);
function fmt(r: ResourceSample): string {
  return `slots ${r.slots} tidmap ${r.tidMap} agent fds ${r.agent.fds} rss ${mb(r.agent.rssKb)} MiB; service fds ${r.service.fds} rss ${mb(r.service.rssKb)} MiB`;
}
