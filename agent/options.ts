// options.ts: the agent's one typed options object, its defaults, and validation that names the field.
import { MAX_TASKS } from './abi.ts';
import { InputError, onlineCpus } from './topology.ts';

export interface AgentOptions {
  /** Enclave name; names the shared region (/dev/shm/syrup.NAME) and the BPF pins. Default 'syrup'. */
  name: string;
  /** Cpus the policy schedules. Required. */
  cpus: number[];
  /** Cpu the agent spins on; must not be in cpus. Default: the first online cpu outside cpus. */
  agentCpu: number;
  /** Policy name from policies/registry.ts, or a path to a .ts/.js file. Default 'fifo'. */
  policy: string;
  /** Options handed to the policy's constructor. Default {}. */
  policyOptions: Record<string, unknown>;
  /** Period of the stats log line, ms; 0 disables. Default 1000. */
  statsIntervalMs: number;
  /** Longest spin burst before yielding to the event loop (signals, logs), ms. Default 2. */
  yieldEveryMs: number;
  /** Task slots in the enclave (1..4096). Default 4096. */
  maxTasks: number;
  /** Real-time signal used for preemption. Default 40 (SIGRTMIN+6 with glibc). */
  preemptSigno: number;
  /** File mode of the region and pinned maps: who may register. Default 0o600 (the agent's user). */
  regionMode: number;
  /** How long a latched successor waits for a victim that ignores preemption, ms. Default 20. */
  latchTimeoutMs: number;
  /**
   * How long a preemption's signal waits after the cooperative flag is set, us,
   * so a thread that calls checkpoint() often enough leaves without a signal
   * (a load instead of ~10-16 us of signal delivery here, bench:agent). Default 40;
   * 0 signals at once.
   */
  preemptGraceUs: number;
  /** How long a task's out-of-order message waits for the gap to fill, ms. Default 5. */
  reorderTimeoutMs: number;
  /** What a policy exception does: 'exit' detaches every thread and exits; 'continue' logs and carries on. Default 'exit'. */
  policyErrors: 'exit' | 'continue';
  /** Log every message and transaction as it happens. Default false. */
  trace: boolean;
  /** sched_yield() the agent's cpu when an iteration had nothing to do (for machines where other threads share it). Default false. */
  idleYield: boolean;
  /**
   * Keep every movable thread outside the enclave off its cpus while the agent
   * runs (cpuset cgroup; see isolation.ts), and give them back when it ends,
   * however it ends. Default true; --no-isolate turns it off.
   */
  isolate: boolean;
  /**
   * After an idle iteration, block up to this many us until a client posts,
   * instead of spinning (see AgentLoopOptions.idleSleepUs). 0 = never. Default 0.
   */
  idleSleepUs: number;
  /**
   * Run an idle poller on every enclave cpu: a SCHED_IDLE thread of the agent
   * that spins while the cpu has nothing to run and makes, from that cpu, the
   * futex wake of a thread placed there (kernel-shim/poller.c): the agent's
   * cost of a placement on an idle cpu drops from a cross-cpu wake (6 us
   * here, an IPI to a halted vCPU) to a store, and the thread runs ~2 us
   * after it instead of ~20. The poller sleeps once its cpu has been idle this
   * many us, until a thread next leaves the cpu idle. Costs a busy cpu while
   * idle; 0 = no pollers. Default 0.
   */
  idlePollUs: number;
  /** SCHED_FIFO priority of the agent thread (1-99); 0 = a normal thread. Default 0. */
  agentPriority: number;
  /**
   * With agentPriority > 0: sleep this many us in every 500 us of running,
   * so the kernel never takes the agent's cpu for 50 ms at a time to run the
   * normal threads it starved (see AgentLoopOptions.fairShareUs). 0 = never.
   * Default 30 (6 %); ignored for a normal-priority agent.
   */
  fairShareUs: number;
  /** Take over the enclave from its running agent (live upgrade, policy switch) instead of creating it. Default false. */
  upgrade: boolean;
  /** Pinned BPF array (u32 -> u32) to publish each executor's thread state into (cross-layer), '' = none. Default ''. */
  publishMap: string;
}

export const DEFAULTS: Omit<AgentOptions, 'cpus' | 'agentCpu'> = {
  name: 'syrup',
  policy: 'fifo',
  policyOptions: {},
  statsIntervalMs: 1000,
  yieldEveryMs: 2,
  maxTasks: MAX_TASKS,
  preemptSigno: 40,
  regionMode: 0o600,
  latchTimeoutMs: 20,
  preemptGraceUs: 40,
  reorderTimeoutMs: 5,
  policyErrors: 'exit',
  trace: false,
  idleYield: false,
  isolate: true,
  idleSleepUs: 0,
  idlePollUs: 0,
  agentPriority: 0,
  fairShareUs: 30,
  upgrade: false,
  publishMap: '',
};

function bad(field: string, what: string, got: unknown): never {
  throw new InputError(`options.${field} must be ${what} (got ${JSON.stringify(got)})`, 'BAD_OPTION');
}

function int(o: Record<string, unknown>, field: string, lo: number, hi: number): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) bad(field, `an integer in [${lo}, ${hi}]`, v);
  return v;
}

function num(o: Record<string, unknown>, field: string, lo: number): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo) bad(field, `a number >= ${lo}`, v);
  return v;
}

/** Fill defaults and validate; throws InputError naming the field. */
export function resolveAgentOptions(input: Partial<AgentOptions> & { cpus: number[] }): AgentOptions {
  const online = onlineCpus();
  const o: Record<string, unknown> = { ...DEFAULTS, ...input };
  const cpus = o.cpus;
  if (!Array.isArray(cpus) || cpus.length === 0) bad('cpus', 'a non-empty list of cpus', cpus);
  for (const c of cpus as unknown[]) {
    if (typeof c !== 'number' || !online.includes(c)) bad('cpus', `online cpus (${online.join(',')})`, cpus);
  }
  if (new Set(cpus as number[]).size !== (cpus as number[]).length) bad('cpus', 'a list without duplicates', cpus);
  if (o.agentCpu === undefined) {
    const free = online.find((c) => !(cpus as number[]).includes(c));
    if (free === undefined) {
      throw new InputError(`options.agentCpu: every online cpu is in the enclave; leave one for the agent`, 'BAD_OPTION');
    }
    o.agentCpu = free;
  }
  const agentCpu = int(o, 'agentCpu', 0, 1 << 16);
  if (!online.includes(agentCpu)) bad('agentCpu', `an online cpu (${online.join(',')})`, agentCpu);
  if ((cpus as number[]).includes(agentCpu)) {
    throw new InputError(`options.agentCpu (${agentCpu}) must not be one of the enclave cpus`, 'BAD_OPTION');
  }
  if (typeof o.name !== 'string' || !/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,46}$/.test(o.name)) {
    bad('name', '1-47 characters of [A-Za-z0-9_.-], not starting with a dot', o.name);
  }
  if (typeof o.policy !== 'string' || o.policy === '') bad('policy', 'a policy name or file path', o.policy);
  if (typeof o.policyOptions !== 'object' || o.policyOptions === null) bad('policyOptions', 'an object', o.policyOptions);
  num(o, 'statsIntervalMs', 0);
  if (num(o, 'yieldEveryMs', 0) === 0) bad('yieldEveryMs', 'a number > 0', o.yieldEveryMs);
  int(o, 'maxTasks', 1, MAX_TASKS);
  int(o, 'preemptSigno', 34, 64);
  int(o, 'regionMode', 0, 0o777);
  num(o, 'latchTimeoutMs', 0);
  num(o, 'preemptGraceUs', 0);
  num(o, 'reorderTimeoutMs', 0);
  if (o.policyErrors !== 'exit' && o.policyErrors !== 'continue') bad('policyErrors', "'exit' or 'continue'", o.policyErrors);
  if (typeof o.trace !== 'boolean') bad('trace', 'a boolean', o.trace);
  if (typeof o.idleYield !== 'boolean') bad('idleYield', 'a boolean', o.idleYield);
  int(o, 'idleSleepUs', 0, 1_000_000);
  int(o, 'idlePollUs', 0, 60_000_000);
  int(o, 'agentPriority', 0, 99);
  int(o, 'fairShareUs', 0, 400);
  if (typeof o.isolate !== 'boolean') bad('isolate', 'a boolean', o.isolate);
  if (typeof o.upgrade !== 'boolean') bad('upgrade', 'a boolean', o.upgrade);
  if (typeof o.publishMap !== 'string') bad('publishMap', 'a path to a pinned BPF map, or empty', o.publishMap);
  return { ...(o as unknown as AgentOptions), cpus: [...(cpus as number[])].sort((a, b) => a - b) };
}
