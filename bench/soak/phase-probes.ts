// phase-probes.ts: deterministic replays of the shim bugs the soak found (all fixed), each checking the fix holds, then recovered by stopping the agent.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MsgSrc, MsgType } from '../../agent/abi.ts';
import { RingInjector } from './inject.ts';
import { countSlots, cpuHolder } from './region.ts';
import { tidMapEntries } from './resources.ts';
import { sleep, tally, waitFor, type Check, type PhaseResult, type SoakContext } from './phase.ts';

const BOOT = new URL('../../client/thread-boot.mjs', import.meta.url);

/**
 * A thread unregisters and registers again before the agent has freed its old
 * slot (the agent is stopped meanwhile, so both messages reach it in one
 * drain). Before the fix (forget_tid in agent_side.c) the agent's release of
 * the old slot deleted the tid the new registration had just put in the BPF
 * map; when the thread then exited, no TASK_DEAD came, the slot was never
 * freed, and the cpu stayed owned by a thread that no longer existed.
 */
export async function reregisterProbe(ctx: SoakContext): Promise<PhaseResult> {
  const { cfg } = ctx;
  const name = ctx.enclave('rereg');
  const t0 = Date.now();
  const agent = await ctx.agent(name);
  const ctl = new SharedArrayBuffer(8);
  const w = new Int32Array(ctl);
  const thread = new Worker(BOOT, { workerData: { entry: new URL('./rereg-thread.ts', import.meta.url).href, enclave: name, ctl } });
  const msgs: { kind: string; slot: number; tid?: number }[] = [];
  thread.on('message', (m) => msgs.push(m));
  const exited = new Promise((r) => thread.once('exit', r));
  await waitFor(() => msgs.some((m) => m.kind === 'registered'), 10000);
  agent.signal('SIGSTOP');
  Atomics.store(w, 0, 1);
  await waitFor(() => Atomics.load(w, 1) === 1, 5000);
  await sleep(50); // its second register() has posted TASK_NEW and waits
  agent.signal('SIGCONT');
  await waitFor(() => msgs.some((m) => m.kind === 'reregistered'), 5000);
  await sleep(100);
  const mapWhileRegistered = tidMapEntries(name);
  Atomics.store(w, 0, 2);
  await exited;
  await sleep(500);
  const slots = countSlots(name);
  const holder = cpuHolder(name, cfg.cpu);
  // Consequence for a service: a newcomer is never placed (the cpu belongs to the dead thread).
  const svc = await ctx.service({ enclave: name, workers: 1, rate: 100 }, 3000).catch((e: Error) => e);
  const newcomerServed = !(svc instanceof Error) && (await waitFor(() => (svc.last?.served ?? 0) > 0, 2000));
  await agent.stop(); // closing the enclave hands every thread back to Linux
  const f = svc instanceof Error ? undefined : await svc.stop(5000);
  const checks: Check[] = [
    { what: 're-registered thread is in the BPF tid map', ok: mapWhileRegistered === 1, detail: `tid map entries ${mapWhileRegistered}` },
    { what: 'its slot is freed when it exits registered', ok: (slots?.inUse ?? -1) === 0, detail: `slots in use after exit: ${slots?.inUse}` },
    { what: 'the cpu is not left to the dead thread', ok: holder.slot < 0, detail: holder.slot >= 0 ? `cpu ${cfg.cpu} still owned by slot ${holder.slot}, whose thread has exited` : 'free' },
    { what: 'a new service thread registers and is served afterwards', ok: newcomerServed, detail: svc instanceof Error ? svc.message : undefined },
    { what: 'stopping the agent releases everything (no request lost)', ok: !f || f.sent === f.served, detail: f ? `${f.served}/${f.sent}` : undefined },
  ];
  return {
    phase: 'probe-rereg',
    title: 'Probe: unregister() then register() at once',
    seconds: (Date.now() - t0) / 1000,
    injected: 'one thread: register, unregister, register again before the agent freed the first slot, then exit registered',
    load: f ? tally(f) : undefined,
    facts: { mapWhileRegistered, slotsAfterExit: slots?.inUse, cpuHolderAfterExit: holder, newcomerServed },
    checks,
    findings: [],
  };
}

/**
 * A message with a valid slot and tid but a seqnum far ahead of the task's
 * barrier. Before the fix (accept() rejects seq > barrier) it was held, then
 * delivered when the reorder timeout skipped the "gap", and from then on every
 * genuine message of the task was older than the expected seqnum and dropped
 * as a duplicate.
 */
export async function futureSeqProbe(ctx: SoakContext): Promise<PhaseResult> {
  const { cfg } = ctx;
  const name = ctx.enclave('fseq');
  const t0 = Date.now();
  const agent = await ctx.agent(name);
  const svc = await ctx.service({ enclave: name, workers: 2, rate: Math.round(cfg.rate / 2) });
  await sleep(1000);
  const inj = new RingInjector(name);
  const slot = svc.slots[0];
  const pos = inj.post({ type: MsgType.TASK_WAKEUP, src: MsgSrc.CLIENT, slot, tid: inj.tidOf(slot), seq: inj.barrierOf(slot) + 1000 });
  await waitFor(() => inj.consumed(pos), 2000);
  await sleep(200);
  const s0 = svc.last!.workers.map((w) => w.served);
  await sleep(2000);
  const s1 = svc.last!.workers.map((w) => w.served);
  const progressed = s1.map((v, i) => v > s0[i]);
  await agent.stop();
  const fin = agent.final();
  const f = await svc.stop(10000);
  const stale = (fin?.totals.txnResults.TARGET_STALE as number | undefined) ?? 0;
  const checks: Check[] = [
    { what: 'the forged message is rejected', ok: progressed.every(Boolean), detail: `workers progressing in the 2 s after: ${progressed.join(',')}` },
    { what: 'the agent does not spin on a doomed transaction', ok: stale < 1e5, detail: `TARGET_STALE results: ${stale}` },
    { what: 'stopping the agent releases everything (no request lost)', ok: f.sent === f.served, detail: `${f.served}/${f.sent}` },
  ];
  return {
    phase: 'probe-future-seq',
    title: 'Probe: a forged message with a future seqnum',
    seconds: (Date.now() - t0) / 1000,
    injected: `one TASK_WAKEUP for a live task with seq = barrier + 1000`,
    load: tally(f),
    facts: { progressed, staleResults: stale, seqGaps: fin?.shim.seqGaps, dupMsgs: fin?.shim.dupMsgs },
    checks,
    findings: [],
  };
}

/**
 * A producer that claimed a ring cell and never published it. A dead one (a
 * client killed inside syr_cring_post between its claim and its publish)
 * names its tid in the claim, and the agent skips the cell once that thread
 * is gone; a live one that is merely slow (stopped, descheduled) is waited
 * for, because it will still publish.
 */
export async function unpublishedCellProbe(ctx: SoakContext): Promise<PhaseResult> {
  const { cfg } = ctx;
  const name = ctx.enclave('cell');
  const t0 = Date.now();
  const agent = await ctx.agent(name);
  const svc = await ctx.service({ enclave: name, workers: 2, rate: Math.round(cfg.rate / 2) });
  await sleep(1000);
  const inj = new RingInjector(name);
  // A thread that has exited: a child process that already ran and was reaped.
  const deadTid = spawnSync('true').pid as number;
  const deadPos = inj.claim(deadTid);
  await sleep(1000);
  const s0 = svc.last!.served;
  await sleep(1000);
  const servedWhileClaimed = svc.last!.served - s0;
  const deadSkipped = inj.consumed(deadPos);
  // A live producer's claim (this thread's own tid) is waited for until it publishes.
  const livePos = inj.claim();
  await sleep(300);
  const liveWaited = !inj.consumed(livePos);
  inj.publish(livePos, { type: MsgType.NONE, src: MsgSrc.CLIENT, slot: 0, tid: 0, seq: 0 });
  const s1 = svc.last!.served;
  const resumed = await waitFor(() => svc.last!.served > s1 + 10, 3000);
  ctx.log(`probe-unpublished-cell: dead claim ${deadSkipped ? 'skipped' : 'NOT skipped'}, ${servedWhileClaimed} answered behind it; live claim ${liveWaited ? 'waited for' : 'not waited for'}; ring ${resumed ? 'resumed' : 'did not resume'}`);
  const f = await svc.stop();
  ctx.log('probe-unpublished-cell: service stopped');
  await agent.stop();
  const fin = agent.final();
  const checks: Check[] = [
    { what: 'a cell claimed by a thread that has exited is skipped', ok: deadSkipped && (fin?.shim.cringReclaimed ?? 0) >= 1, detail: `cringReclaimed ${fin?.shim.cringReclaimed}` },
    { what: 'the service is served while a dead producer\'s cell is unpublished', ok: servedWhileClaimed > 0, detail: `${servedWhileClaimed} answered in 1 s` },
    { what: 'a live producer\'s claim is waited for, not skipped', ok: liveWaited },
    { what: 'the ring moves again once the live producer publishes', ok: resumed },
    { what: 'every request answered (lost = 0)', ok: f.sent === f.served, detail: `${f.served}/${f.sent}` },
  ];
  return {
    phase: 'probe-unpublished-cell',
    title: 'Probe: a ring cell claimed and never published',
    seconds: (Date.now() - t0) / 1000,
    injected: 'one client-ring cell claimed in the name of an exited thread and never published; then one claimed by a live thread and published 300 ms later',
    load: tally(f),
    facts: { servedWhileClaimed, deadSkipped, liveWaited, resumed, cringReclaimed: fin?.shim.cringReclaimed, clientDrops: fin?.shim.clientDrops, badMsgs: fin?.shim.badMsgs },
    checks,
    findings: [],
  };
}

/**
 * A policy that throws on every message of one task, under
 * --policy-errors continue. Before the fix the task's first runnable-making
 * message was retried and then given up, and the thread waited parked for a
 * placement that never came, while its dispatcher went on sending it work
 * (the policy-throws phase's "stuck" episodes). Now the agent hands that one
 * thread back to Linux: it serves its requests under CFS, the rest of the
 * service stays scheduled, and nothing is lost.
 */
export async function handToLinuxProbe(ctx: SoakContext): Promise<PhaseResult> {
  const { cfg } = ctx;
  const name = ctx.enclave('handback');
  const t0 = Date.now();
  const policy = fileURLToPath(new URL('./throw-on-task-policy.ts', import.meta.url));
  const agent = await ctx.agent(name, ['--policy', policy, '--policy-errors', 'continue']);
  const svc = await ctx.service({ enclave: name });
  await sleep(cfg.faultLeadS * 2000);
  const f = await svc.stop();
  await agent.stop();
  const exit = await agent.exited;
  const fin = agent.final();
  const load = tally(f);
  const handed = (fin?.totals.handedToLinux as number | undefined) ?? 0;
  const perWorker = f.workers.map((w) => w.served);
  const checks: Check[] = [
    { what: 'every request answered (lost = 0), the handed-back worker\'s too', ok: load.lost === 0, detail: `${load.answered}/${load.sent}` },
    { what: 'exactly one thread was handed back to Linux, and counted', ok: handed === 1, detail: `handedToLinux ${handed}` },
    { what: 'every worker served requests', ok: perWorker.every((n) => n > 0), detail: perWorker.join(',') },
    { what: 'the agent kept scheduling and exited cleanly', ok: exit.code === 0 && ((fin?.totals.txnResults.OK as number) ?? 0) > 0, detail: `exit ${exit.code}` },
  ];
  return {
    phase: 'probe-hand-to-linux',
    title: 'Probe: a policy that throws on every message of one task',
    seconds: (Date.now() - t0) / 1000,
    injected: 'a FIFO policy that throws in every callback of the second task to register, with --policy-errors continue',
    load,
    facts: { handedToLinux: handed, policyErrors: fin?.totals.policyErrors, servedByWorker: perWorker, evictedMsgs: (fin?.shim as Record<string, unknown> | undefined)?.evictedMsgs },
    checks,
    findings: [],
  };
}
