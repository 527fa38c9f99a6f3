// supervisor.ts: runs one agent end to end: affinity, enclave, loop, signals, and a clean hand-back on any exit.
import fs from 'node:fs';
import type { Logger } from 'pino';
import { Agent, PolicyError } from './agent.ts';
import { AgentEnclave } from './enclave.ts';
import { Isolation } from './isolation.ts';
import { native } from './native.ts';
import type { AgentOptions } from './options.ts';
import type { Policy } from './policy.ts';
import type { SchedStatePublisher } from './sched-state-publisher.ts';
import { formatCpuList, InputError, onlineCpus } from './topology.ts';
import { AGENT_V8_FLAGS, missingV8Flags } from './v8-flags.ts';
import { PerformanceObserver } from 'node:perf_hooks';

/**
 * Keep every thread of this process off the enclave cpus (Node's GC and
 * libuv helpers would otherwise compete with the threads the policy places),
 * and pin the calling (agent) thread to its own cpu.
 */
function placeAgentThreads(o: AgentOptions): void {
  const outside = onlineCpus().filter((c) => !o.cpus.includes(c));
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      native.setAffinity(Number(tid), outside);
    } catch {
      // a helper thread that exited meanwhile
    }
  }
  native.pinThread(o.agentCpu);
  if (o.agentPriority > 0) native.setFifo(o.agentPriority);
}

/** Loaded only when asked for: it needs the network half's addon. */
async function openPublisher(path: string): Promise<SchedStatePublisher> {
  try {
    const { SchedStatePublisher } = await import('./sched-state-publisher.ts');
    return new SchedStatePublisher(path);
  } catch (err) {
    throw new InputError(`--publish-map ${path}: ${(err as Error).message}`, 'BAD_PUBLISH_MAP');
  }
}

export interface RunResult {
  exitCode: number;
  agent: Agent;
}

/**
 * Open the enclave and run the policy until SIGINT/SIGTERM or stop(). Every
 * way out (signal, policy exception, any error) closes the enclave, which
 * hands every registered thread back to the Linux scheduler.
 */
export async function runAgent(
  o: AgentOptions,
  policy: Policy,
  log: Logger,
  onReady?: (agent: Agent) => void,
): Promise<RunResult> {
  // Before the enclave opens: this process's threads must be in the enclave's
  // cpuset before the pin, and the cpus cleared before the first placement.
  const isolation = Isolation.open({ name: o.name, cpus: o.cpus, isolate: o.isolate });
  let enclave: AgentEnclave;
  let publisher: SchedStatePublisher | undefined;
  try {
    placeAgentThreads(o);
    publisher = o.publishMap ? await openPublisher(o.publishMap) : undefined;
    enclave = AgentEnclave.open(o);
  } catch (err) {
    // Another agent may own this name (AGENT_ALIVE, or an upgrade that did not
    // take over): its isolation record is put back as it was.
    isolation.abandon();
    throw err;
  }
  const isoReport = isolation.report();
  if (o.isolate && isoReport.state !== 'isolated') log.warn({ isolation: isoReport }, `enclave cpus not isolated (${isoReport.state})`);
  let agent: Agent;
  try {
    agent = new Agent(enclave.channel, policy, {
      name: o.name,
      statsIntervalMs: o.statsIntervalMs,
      yieldEveryMs: o.yieldEveryMs,
      policyErrors: o.policyErrors,
      trace: o.trace,
      idleYield: o.idleYield,
      idleSleepUs: o.idleSleepUs,
      fairShareUs: o.agentPriority > 0 ? o.fairShareUs : 0,
      onTaskState: publisher ? (task, state) => publisher!.publish(task, state) : undefined,
      onTaskJoin: isolation.active ? (task) => isolation.admit(task.tid) : undefined,
      onTaskLeave: isolation.active ? (task, alive) => alive && isolation.leave(task.tid) : undefined,
      onStats: () => {
        isolation.sweep();
        return { isolation: isolation.report() };
      },
    }, log);
  } catch (err) {
    enclave.close();
    isolation.release();
    throw err;
  }
  const stop = () => agent.stop();
  // GC pauses stop the loop like any other stall; counting them separately
  // tells an agent that makes garbage from a cpu that is taken from it.
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) agent.stats.noteGc(e.duration * 1e6);
  });
  gc.observe({ entryTypes: ['gc'] });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const upgraded = o.upgrade ? enclave.counters() : undefined;
  log.info(
    {
      enclave: o.name, cpus: formatCpuList(o.cpus), agentCpu: o.agentCpu, policy: policy.name, pid: process.pid, isolation: isoReport,
      ...(upgraded ? { upgrade: { gapMs: upgraded.upgradeGapNs / 1e6, rediscovered: upgraded.rediscovered } } : {}),
    },
    'agent ready',
  );
  const missing = missingV8Flags();
  if (o.agentPriority > 0 && missing.length > 0) {
    log.warn({ missingV8Flags: missing }, `node was started without ${missing.join(' ')}: V8's helper threads starve behind a SCHED_FIFO agent (multi-ms GC pauses while it warms up); start it as bin/syrup-agent.js (its shebang has them) or node ${AGENT_V8_FLAGS.join(' ')} bin/syrup-agent.js`);
  }
  onReady?.(agent);
  let exitCode = 0;
  try {
    await agent.run();
  } catch (err) {
    if (err instanceof PolicyError) {
      log.error({ err: err.cause, where: err.where }, `policy '${policy.name}' threw in ${err.where}; handing every thread back to Linux`);
      exitCode = 3;
    } else {
      log.error({ err }, 'agent loop failed; handing every thread back to Linux');
      exitCode = 1;
    }
  } finally {
    gc.disconnect();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    agent.logStats();
    const shim = enclave.counters();
    publisher?.close();
    if (agent.handoverRequested && exitCode === 0) {
      enclave.handover();
      isolation.handedOver();
      log.info({ totals: agent.stats.totals(), shim, tasks: agent.tasks.size }, 'agent handed the enclave over');
    } else {
      log.info({ totals: agent.stats.totals(), shim, tasks: agent.tasks.size }, 'agent stopped');
      enclave.close();
      // After the close: the threads are Linux's again before they get their cpus back.
      isolation.release();
    }
  }
  return { exitCode, agent };
}
