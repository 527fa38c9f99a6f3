// layout.ts: which cpu runs the load generator, the dispatcher, the agent and the workers, adapted to the cpus available.
/*
 * The rule: the generator and the dispatcher each get a cpu of their own when
 * there are enough (>= 4 cpus), so their spinning never delays the agent or
 * the workers; the agent gets one cpu; the workers get the rest. The Linux
 * baseline uses the very same worker cpus (the agent's cpu stays idle for
 * it), so both sides get the same cpu budget for serving requests.
 *
 * With fewer cpus something must share, and the layout says what: threads
 * that share a cpu sleep between events instead of spinning (a spinning
 * thread would hold the shared cpu for whole ~1 ms timeslices).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { BenchOptionError } from './options.ts';
import { formatCpuList, parseCpuList } from './pin.ts';

export interface Layout {
  cpus: number[];
  generatorCpu: number;
  dispatcherCpu: number;
  agentCpu: number;
  workerCpus: number[];
  generatorSleeps: boolean;
  dispatcherSleeps: boolean;
  /** Generator and dispatcher run SCHED_FIFO (frontEndPriority) because they share a cpu with the agent (pin.ts says why). */
  realtimeFrontEnd: boolean;
  /** The agent shares its cpu, so it runs with --idle-yield (sched_yield after an idle iteration) instead of pure spinning. */
  agentIdleYield: boolean;
  /**
   * The agent shares its cpu, so it sleeps when idle until a client posts
   * (--idle-sleep-us) and runs SCHED_FIFO (--agent-priority) at the front
   * end's priority: normal threads on its cpu then never stand between a
   * wakeup and the decision, and it costs them nothing while idle. 0 / 0 when
   * it has a cpu of its own.
   *
   * Equal, not below: one SCHED_FIFO thread never preempts another of its own
   * priority, so an arrival's timer no longer cuts into a decision half made;
   * the generator and dispatcher run at the agent's next sched_yield (after
   * every idle iteration, hence agentIdleYield), at most one busy iteration
   * later. With the agent below them, every arrival preempted it for ~18 us;
   * a holder on a worker cpu that left before the agent had latched its
   * successor then found nobody to hand over to, and the worker cpu halted
   * until the agent came back (55 % idle at 25k req/s with 49 tasks queued
   * in the agent). Measured on the real RocksDB, two runs each: the knee
   * moved from ~20-23k to past 25k req/s and GET p99 fell at every load.
   */
  agentSleepUs: number;
  agentPriority: number;
  /** SCHED_FIFO priority of the generator and dispatcher when realtimeFrontEnd (the agent's too on a shared cpu). */
  frontEndPriority: number;
  /** Plain statements of what shares a cpu (empty when nothing does). */
  shared: string[];
}

/** The cpus this process may run on (its affinity), falling back to 0..n-1. */
export function availableCpus(): number[] {
  try {
    const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return parseCpuList(m[1]);
  } catch {
    // not Linux /proc: fall through
  }
  return Array.from({ length: availableParallelism() }, (_, i) => i);
}

/** Roles are given out in the order of `cpus` (ascending from availableCpus(); --cpus 1,0 swaps the two-cpu roles). */
export function planLayout(cpus: readonly number[]): Layout {
  const c = [...cpus];
  if (c.length < 2) throw new Error(`the benchmark needs at least 2 cpus (one for the workers, one for the rest); have ${c.length}`);
  if (c.length === 2) {
    return {
      cpus: c,
      workerCpus: [c[0]],
      agentCpu: c[1],
      generatorCpu: c[1],
      dispatcherCpu: c[1],
      generatorSleeps: true,
      dispatcherSleeps: true,
      realtimeFrontEnd: true,
      agentIdleYield: true,
      agentSleepUs: 1000,
      agentPriority: 2,
      frontEndPriority: 2,
      shared: [
        `cpu ${c[1]} is shared by the load generator, the dispatcher and (Syrup configurations) the spinning agent; ` +
          'generator and dispatcher sleep between events instead of spinning and run SCHED_FIFO 2; ' +
          'the agent runs SCHED_FIFO 2 too (above every normal thread on the cpu; neither side preempts the other, and the agent yields to them after every idle iteration) ' +
          'and sleeps when idle until a client posts (--idle-sleep-us 1000), ' +
          "so the server's helper threads get the cpu whenever it has nothing to decide",
        `the Linux baseline uses the same layout: workers on cpu ${c[0]}, generator and dispatcher on cpu ${c[1]}`,
      ],
    };
  }
  if (c.length === 3) {
    return {
      cpus: c,
      generatorCpu: c[0],
      dispatcherCpu: c[0],
      agentCpu: c[1],
      workerCpus: [c[2]],
      generatorSleeps: true,
      dispatcherSleeps: true,
      realtimeFrontEnd: false,
      agentIdleYield: false,
      agentSleepUs: 0,
      agentPriority: 0,
      frontEndPriority: 0,
      shared: [`cpu ${c[0]} is shared by the load generator and the dispatcher, which sleep between events instead of spinning`],
    };
  }
  return {
    cpus: c,
    generatorCpu: c[0],
    dispatcherCpu: c[1],
    agentCpu: c[2],
    workerCpus: c.slice(3),
    generatorSleeps: false,
    dispatcherSleeps: false,
    realtimeFrontEnd: false,
    agentIdleYield: false,
    agentSleepUs: 0,
    agentPriority: 0,
    frontEndPriority: 0,
    shared: [],
  };
}

/** How the agent runs in this layout: the layout's choice unless an option overrides it. */
export interface AgentRunSettings {
  idleYield: boolean;
  idleSleepUs: number;
  priority: number;
}

/**
 * Resolves the agent's settings from the layout and the bench options (-1 /
 * 'auto' = the layout's), refusing combinations that would starve the front
 * end: on a cpu it shares with the generator and dispatcher, a SCHED_FIFO
 * agent above them, or at their priority without --agent-idle-yield, spins
 * and never lets them run (only its fair-share naps would).
 */
export function agentRunSettings(
  l: Layout,
  o: { agentIdleYield: 'auto' | 'on' | 'off'; agentSleepUs: number; agentPriority: number },
): AgentRunSettings {
  const s = {
    idleYield: o.agentIdleYield === 'auto' ? l.agentIdleYield : o.agentIdleYield === 'on',
    idleSleepUs: o.agentSleepUs >= 0 ? o.agentSleepUs : l.agentSleepUs,
    priority: o.agentPriority >= 0 ? o.agentPriority : l.agentPriority,
  };
  const shares = l.realtimeFrontEnd && (l.agentCpu === l.generatorCpu || l.agentCpu === l.dispatcherCpu);
  if (shares && s.priority > l.frontEndPriority) {
    throw new BenchOptionError('--agent-priority', `${s.priority} is above the front end's SCHED_FIFO ${l.frontEndPriority} on the cpu they share (${l.agentCpu}): the spinning agent would starve the generator and dispatcher`);
  }
  if (shares && s.priority === l.frontEndPriority && !s.idleYield) {
    throw new BenchOptionError('--agent-idle-yield', `must be on when the agent shares cpu ${l.agentCpu} at the front end's SCHED_FIFO ${l.frontEndPriority}: without a yield the generator and dispatcher only run in its naps`);
  }
  return s;
}

export function describeLayout(l: Layout): string[] {
  return [
    `cpus ${formatCpuList(l.cpus)}: load generator cpu ${l.generatorCpu}${l.generatorSleeps ? ' (sleeps between arrivals)' : ' (spins)'}, ` +
      `dispatcher cpu ${l.dispatcherCpu}${l.dispatcherSleeps ? ' (sleeps when idle)' : ' (spins)'}, ` +
      `agent cpu ${l.agentCpu}, workers cpu${l.workerCpus.length > 1 ? 's' : ''} ${formatCpuList(l.workerCpus)}`,
    `Linux baseline: same worker cpus (${formatCpuList(l.workerCpus)}), same generator and dispatcher cpus${l.realtimeFrontEnd ? ' and priorities' : ''}, no agent`,
    `server's other threads (Node GC and libuv helpers): cpu${l.cpus.length - l.workerCpus.length > 1 ? 's' : ''} ${formatCpuList(l.cpus.filter((c) => !l.workerCpus.includes(c)))}, never on worker cpus`,
    ...l.shared.map((s) => `shared: ${s}`),
  ];
}

/** Default worker count: ghOSt ran 25 workers per cpu (200 on 8); at least 50 so runnable workers always outnumber cpus, at most 200. */
export function defaultWorkers(l: Layout): number {
  return Math.min(200, Math.max(50, 25 * l.workerCpus.length));
}
