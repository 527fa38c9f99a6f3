// report.ts: the soak report as terminal text and as docs/reliability.md (measured numbers, checks, and the fixed shim bugs the probes replay).
import type { Check, PhaseResult, SoakConfig } from './phase.ts';
import type { ResourceSample } from './resources.ts';

export interface SoakReport {
  command: string;
  startedAt: string;
  seconds: number;
  host: { cpus: number; kernel: string; node: string };
  config: SoakConfig;
  phases: PhaseResult[];
}

/** The shim weaknesses a check can be explained by: where, what happens, the probe that reproduces it. */
/** The shim bugs the soak found, all fixed; the probes replay them and fail if one comes back. */
const FIXED_BUGS: { title: string; probe: string; text: string }[] = [
  {
    title: "Re-registering right after unregister() lost the thread's tid-map entry",
    probe: 'probe-rereg',
    text:
      "The agent's release of the old slot deleted the BPF tid-map entry by tid alone, which was the new registration's entry: BPF went silent for that thread, no TASK_DEAD came when it exited, and the cpu it held stayed owned by a dead thread. " +
      'Fixed in kernel-shim/agent_side.c (forget_tid): the entry is deleted only while it still maps the tid to the slot being released.',
  },
  {
    title: 'A message with a future seqnum wedged its task, and FIFO then livelocked the enclave',
    probe: 'probe-future-seq',
    text:
      'A forged client-ring message ahead of the task\'s barrier was held, delivered when the reorder timeout skipped the "gap", and from then on every genuine message was dropped as a duplicate; FIFO retried the doomed placement on every iteration. ' +
      'Fixed in accept(): a genuine message is never ahead of the barrier (both producers bump it before publishing), so one that is counts as bad.',
  },
  {
    title: 'A client-ring cell claimed and never published blocked every later client message',
    probe: 'probe-unpublished-cell',
    text:
      'A producer killed between claiming a cell and publishing it left a hole the agent waited at for good. ' +
      'Fixed in kernel-shim/region.c and drain_cring(): a producer claims the cell itself ({seq, owner tid}), and after 5 ms at the head the agent skips the cell if its owner is dead.',
  },
  {
    title: 'Task handles were not checked against the calling thread',
    probe: 'bad-inputs (api checks)',
    text:
      "A stale handle from an earlier registration, or one rebuilt for another thread's slot, unregistered or parked the caller's current registration. " +
      'Fixed in client/index.ts: a handle that is not the calling thread\'s live registration is refused with NOT_OWNER.',
  },
  {
    title: "A stale task handle woke or hinted whoever got its slot next",
    probe: 'bad-inputs (api checks)',
    text:
      'wake() and the hint setters named a task by slot alone, so a dispatcher that kept the slot of a worker that had unregistered reached the next thread registered in that slot. ' +
      'Fixed with generation-checked handles (task.handle = slot | registration generation << 12, syr_task.reg_gen): a handle whose registration ended is refused with STALE_HANDLE, in client/index.ts and, for wake(), in kernel-shim/client.c under the task\'s lock.',
  },
  {
    title: 'A task whose messages the policy kept throwing on waited parked for good',
    probe: 'probe-hand-to-linux',
    text:
      'With --policy-errors continue, a runnable-making message the policy threw on was retried twice and then given up: the policy never queued the task, and the thread waited for a placement that did not come while its dispatcher kept sending it work (the policy-throws phase\'s stuck episodes, freed only by a live upgrade). ' +
      'Fixed in agent/agent.ts (handToLinux) and kernel-shim/agent_side.c (syr_agent_evict): after the third throw the agent hands that one thread back to Linux, as on agent loss, tells the policy it departed, and counts it (handedToLinux).',
  },
];

const ms = (us: number) => (us / 1000).toFixed(us < 10_000 ? 2 : 0);
const mib = (kb: number) => (kb / 1024).toFixed(1);
const mark = (c: Check) => (c.ok ? 'ok' : 'FAIL');

export function renderText(r: SoakReport): string {
  const out: string[] = [`Syrup soak: ${r.command} (${r.seconds.toFixed(0)} s)`, ''];
  for (const p of r.phases) {
    out.push(`== ${p.title} [${p.phase}, ${p.seconds.toFixed(1)} s]`);
    if (p.injected) out.push(`   injected: ${p.injected}`);
    if (p.load) {
      const l = p.load;
      out.push(`   load: sent ${l.sent}, answered ${l.answered}, lost ${l.lost}; ${l.answeredPerS}/s; latency p50 ${ms(l.latency.p50Us)} ms, p99 ${ms(l.latency.p99Us)} ms, max ${ms(l.latency.maxUs)} ms`);
    }
    for (const [k, v] of Object.entries(p.facts)) {
      if (k === 'samples' || k === 'episodes' || k === 'misuse' || k === 'ring') continue;
      out.push(`   ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
    }
    for (const c of p.checks) out.push(`   [${mark(c)}] ${c.what}${c.detail ? ` (${c.detail})` : ''}`);
    for (const f of p.findings) out.push(`   finding: ${f}`);
    out.push('');
  }
  const failed = r.phases.flatMap((p) => p.checks.filter((c) => !c.ok));
  out.push(`checks: ${r.phases.reduce((a, p) => a + p.checks.length, 0)}, failed ${failed.length}`);
  return out.join('\n') + '\n';
}

function phase(r: SoakReport, id: string): PhaseResult | undefined {
  return r.phases.find((p) => p.phase === id);
}

function checksTable(p: PhaseResult): string[] {
  return ['| check | result | detail |', '|---|---|---|', ...p.checks.map((c) => `| ${c.what} | ${mark(c)} | ${(c.detail ?? '').replace(/\|/g, '/')} |`)];
}

export function renderMarkdown(r: SoakReport): string {
  const o: string[] = [];
  const churn = phase(r, 'churn');
  const minutes = churn ? Math.round(((churn.facts.churnS as number) / 60) * 10) / 10 : 0;
  o.push('# Reliability: soak and faults', '');
  o.push(
    'This report is generated by `npm run soak`. It starts real agents, real BPF programs and real service processes on this machine. It runs thread churn under load, then injects each fault and each bad input in turn. At every step it counts the requests the service sent and the requests it got answered.',
    '',
    'Reproduce the report with:',
    '',
    '```sh',
    r.command,
    '```',
    '',
    `Run: ${r.startedAt}, ${Math.round(r.seconds)} s in all, churn phase ${minutes} min. Host: ${r.host.cpus} vCPUs, Linux ${r.host.kernel}, Node ${r.host.node}. ` +
      `The enclave is cpu ${r.config.cpu} and the agent runs on cpu ${r.config.agentCpu} with \`--idle-yield\`, because the services' dispatchers share that cpu. ` +
      `The service has ${r.config.workers} registered workers, an open-loop load of ${r.config.rate} requests/s and ${r.config.workMs} ms of cpu per request. It uses the no-loss sent/served counter protocol of test/fixtures/loop-worker.ts. The short CI version is \`npm run soak -- --quick\` (test/soak.test.ts).`,
    '',
  );
  o.push('## Summary', '');
  o.push('| phase | fault or input | requests sent | answered | lost | load held (answered/s) | latency p99 / max (ms) | checks |');
  o.push('|---|---|---|---|---|---|---|---|');
  for (const p of r.phases) {
    const l = p.load;
    const bad = p.checks.filter((c) => !c.ok);
    const res = bad.length === 0 ? 'all pass' : `${bad.length} FAIL`;
    o.push(`| ${p.title} | ${p.injected.replace(/\|/g, '/')} | ${l?.sent ?? '-'} | ${l?.answered ?? '-'} | ${l ? l.lost : '-'} | ${l?.answeredPerS ?? '-'} | ${l ? `${ms(l.latency.p99Us)} / ${ms(l.latency.maxUs)}` : '-'} | ${res} |`);
  }
  const lost = r.phases.filter((p) => !p.phase.startsWith('probe')).reduce((a, p) => a + (p.load?.lost ?? 0), 0);
  o.push('', `Requests lost across the churn, fault and bad-input phases: **${lost}**. "Lost" means sent and never answered by the end of the phase. Requests that a fault only delayed are counted as answered, and their delay shows in the latency columns.`, '');

  if (churn) {
    const s = churn.facts.start as ResourceSample;
    const e = churn.facts.end as ResourceSample;
    o.push('## Thread churn', '');
    o.push(
      `For ${minutes} min, ${r.config.churnThreads} short-lived threads at a time each registered ${r.config.churnCycles} times, and the request load kept running throughout. Each registration ran, yielded once, and unregistered. Every other thread ended its last registration by exiting while still registered, so its slot had to come back through BPF's TASK_DEAD. ` +
        `A thread registers again only after the agent has freed its previous slot. Registering at once tripped the tid-map bug listed under "Bugs the soak found", which wedged the enclave within seconds in the first runs; it is fixed, and probe-rereg replays that case. ` +
        `Totals: ${churn.facts.threadsStarted} threads, ${churn.facts.registrations} registrations (${churn.facts.registrationsPerS}/s), ${churn.facts.exitedRegistered} exits while registered.`,
      '',
    );
    o.push('| resource | start | end |', '|---|---|---|');
    o.push(`| status-word slots in use (region tasks with state != FREE) | ${s.slots} | ${e.slots} |`);
    o.push(`| BPF tid-map entries (bpftool map dump pinned .../tids) | ${s.tidMap} | ${e.tidMap} |`);
    o.push(`| agent file descriptors | ${s.agent.fds} | ${e.agent.fds} |`);
    o.push(`| agent VmRSS (MiB) | ${mib(s.agent.rssKb)} | ${mib(e.agent.rssKb)} |`);
    o.push(`| agent threads | ${s.agent.threads} | ${e.agent.threads} |`);
    o.push(`| service file descriptors | ${s.service.fds} | ${e.service.fds} |`);
    o.push(`| service VmRSS (MiB) | ${mib(s.service.rssKb)} | ${mib(e.service.rssKb)} |`);
    const samples = (churn.facts.samples as ResourceSample[]) ?? [];
    if (samples.length > 2) {
      o.push('', 'Samples during the churn (slots / tid map / agent fds / agent RSS MiB):', '');
      o.push(samples.map((x) => `${x.atS}s: ${x.slots}/${x.tidMap}/${x.agent.fds}/${mib(x.agent.rssKb)}`).join(', '));
    }
    o.push(
      '',
      `Slots and tid-map entries above the baseline during the run are the churn threads registered at that moment. Agent counters for the whole churn: \`${JSON.stringify(churn.facts.shim)}\`. ` +
        `Request latency is higher here than in the fault phases (p50 ${churn.load ? ms(churn.load.latency.p50Us) : '-'} ms). The cause was not isolated. There are two likely candidates. First, each churn thread is a Node worker that boots tsx for about 150-200 ms of cpu on cpu ${r.config.agentCpu}, where the dispatcher and the agent also run. Second, a churn thread that exits while registered runs Node's thread teardown on the enclave cpu, and FIFO never preempts it. The latency is reported, not asserted. ` +
        'The badMsgs there come from no injection. They are kernel messages about a thread that BPF posted before the agent dropped the thread\'s tid but the agent read after it freed the slot, so accept() sees a FREE slot. Counting them as lateMsgs would be more accurate.',
      '',
    );
    o.push(...checksTable(churn), '');
  }

  const faults: [string, string][] = [
    ['agent-kill', 'Agent SIGKILL'],
    ['agent-stop', 'Agent SIGSTOP for 1 s'],
    ['policy-throws', 'Policy that throws on every 1000th message'],
    ['client-kill', 'Client process killed while holding a placement'],
    ['two-enclaves', 'Two enclaves side by side, one agent SIGKILLed'],
  ];
  o.push('## Faults during load', '');
  for (const [id, title] of faults) {
    const p = phase(r, id);
    if (!p) continue;
    o.push(`### ${title}`, '', `Injected: ${p.injected}.`, '');
    o.push(...faultText(p), '');
    o.push(...checksTable(p), '');
  }

  const bad = phase(r, 'bad-inputs');
  if (bad) {
    o.push('## Bad inputs', '');
    o.push(
      'Each malformed message is written straight into the client ring, following the ring\'s own protocol (a CAS on tail, fill, publish), while the service is under load. It is written the configured number of times. Then the soak checks three things: the agent consumed the message, the service was still answered, and the agent\'s counters went up. ' +
        'The agent under test runs a FIFO variant that sends every 50th placement to a cpu outside the enclave (-1, the agent cpu, 255, 256, 99999, 2^31-1). The client-API misuses run from a thread of the orchestrator.',
      '',
    );
    o.push(...checksTable(bad), '');
    o.push(`Agent counters at the end: \`${JSON.stringify(bad.facts.shim)}\`; transaction results: \`${JSON.stringify(bad.facts.txnResults)}\`.`, '');
    o.push(
      'Not covered: a corrupted length in the kernel ring. User space cannot write a BPF ring buffer. The agent checks the record size (on_kernel_msg counts short records in badMsgs), but the soak cannot produce one. Client-ring cells have a fixed size and carry no length.',
      '',
    );
  }

  const probes = r.phases.filter((p) => p.phase.startsWith('probe'));
  o.push('## Bugs the soak found (all fixed)', '');
  for (const b of FIXED_BUGS) o.push(`### ${b.title}`, '', `${b.text} Replayed by ${b.probe}; a failed check there means it is back.`, '');
  if (probes.length) {
    o.push(
      'The probes below replay these cases one at a time. Each probe stops its agent at the end, which hands every thread back to Linux, so a request that a regression left stuck is still answered in the end; the latency columns would show how long it was stuck.',
      '',
    );
  }
  for (const p of probes) {
    o.push(`#### ${p.title}`, '', `Injected: ${p.injected}. Facts: \`${JSON.stringify(p.facts)}\`.`, '');
    o.push(...checksTable(p), '');
  }
  // The policy-throws finding is the subject of its own section above.
  const other = r.phases.filter((p) => p.phase !== 'policy-throws').flatMap((p) => p.findings);
  if (other.length) {
    o.push('## Other findings', '');
    for (const f of other) o.push(`- ${f}`);
    o.push('');
  }
  return o.join('\n');
}

function faultText(p: PhaseResult): string[] {
  const f = p.facts as Record<string, any>;
  switch (p.phase) {
    case 'agent-kill':
      return [
        `Workers saw the agent die after ${num(f.detachMsMax)} ms at most (per worker: ${(f.detachMsByWorker ?? []).join(', ')} ms). The client library's watchdog (one thread per process, polling a pidfd of the agent every 10 ms) detached all of them, and each worker noticed at its next request. ` +
          `They went on under Linux and answered ${f.answeredWithoutAgent} requests with no agent. park() and wake() worked as a futex handshake. ` +
          `A new agent started on the same name (it reaps the stale region). Each worker then saw it, unregistered from the dead enclave and registered again; the slowest took ${num(f.reregisterMsMax)} ms after the new agent was ready. ` +
          `The old incarnation's threads do not come back by themselves: the service's worker loop re-registers them. The largest request latency from the kill to the end of the phase was ${num(f.maxLatencyAroundFaultMs)} ms.`,
      ];
    case 'agent-stop':
      return [
        `Nothing detects a frozen agent. Threads waiting for a placement simply waited, and the largest request latency was ${f.maxLatencyDuringStallMs} ms (${f.maxLatencyBeforeMs} ms before the stop). Nothing was dropped, and every worker stayed registered.`,
      ];
    case 'policy-throws':
      if (f.stuckEpisodes === 0) {
        return [
          `The policy threw ${f.throws} times. The skipped callbacks were: ${JSON.stringify(f.skippedByCallback)}. ` +
            `Skipping taskBlocked is harmless: the next wakeup queues the task again. A skipped taskNew, taskRunnable, taskPreempted or taskYield would leave the task unqueued, so the agent delivers that message again on the next iterations (${f.redelivered} redelivered); a task the policy throws on three times in a row is handed back to Linux (${f.handedToLinux} here; probe-hand-to-linux replays it). ` +
            `No worker got stuck in ${Math.round(f.loadS)} s, so no live upgrade was needed.`,
        ];
      }
      return [
        `The policy threw ${f.throws} times. The skipped callbacks were: ${JSON.stringify(f.skippedByCallback)}. ` +
          `Skipping taskBlocked is harmless: the next wakeup queues the task again. Skipping taskRunnable or taskPreempted is not. The task is never queued, so it waits for a placement that never comes while the agent lives. ` +
          `The first time, the soak left the stuck worker alone for 2 s while its dispatcher kept calling wake(), to check whether the service could free it by itself. It cannot: the wakeup is already posted, so a further wake() only sets PENDING in the wake word and sends nothing. ` +
          `The recovery is on the agent side. \`syrup-agent --upgrade\` takes over the enclave and rediscovers every registered thread as TASK_NEW, which queues the stuck worker again. There were ${f.stuckEpisodes} stuck episodes in ${Math.round(f.loadS)} s, each freed by a live upgrade (${f.liveUpgrades} upgrades). The longest a worker stayed stuck was ${f.longestStuckMs} ms.`,
      ];
    case 'two-enclaves':
      return [
        `Each enclave had its own agent, policy and service. After the SIGKILL, A's workers went on under Linux and B's agent kept scheduling its own: B answered ${f.answeredByBAfterKill} requests after the kill, and none of B's workers ever detached. ` +
          `Neither service lost a request (A: ${f.loadA.sent} sent, ${f.loadA.lost} lost; B: ${f.loadB.sent} sent, ${f.loadB.lost} lost). On 2 cpus the two agents share cpus with each other's enclave: each runs on the other's enclave cpu with --idle-yield, and the soak's agents run --no-isolate (isolation of two enclaves on 2 cpus leaves no cpu for the rest; test/multi-enclave.test.ts covers it with isolation on).`,
      ];
    case 'client-kill':
      return [
        `A service process with long requests (3 ms) was SIGKILLed the moment one of its threads held the cpu (${JSON.stringify(f.holder)}). ${f.killedInFlight} of its requests were in flight; they died with the process and are not counted as lost. ` +
          `BPF posted TASK_DEAD for its threads (${f.taskDead} TASK_DEAD in all), and the shim freed the cpu and the slots: ${f.slotsBefore} slots before, ${f.slotsAfter} after, tid map ${f.tidMapAfter}. ` +
          `The second service answered ${f.survivorAnsweredAfterKill} requests in the following seconds.`,
      ];
    default:
      return [];
  }
}

const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(x < 100 ? 1 : 0) : String(x));
