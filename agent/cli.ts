// cli.ts: the syrup-agent command line: parse, validate, load the policy, run; one-line errors and exit codes.
import { parseArgs } from 'node:util';
import pino from 'pino';
import { resolveAgentOptions, DEFAULTS, type AgentOptions } from './options.ts';
import { loadPolicy } from './policy-loader.ts';
import { runAgent } from './supervisor.ts';
import { InputError, parseCpuList } from './topology.ts';
import { policyNames } from '../policies/registry.ts';

export const USAGE = `Usage: syrup-agent --enclave cpus=LIST [options]

Runs a scheduling policy for the threads that register with the enclave.

  --enclave cpus=LIST     cpus the policy schedules, as a Linux cpulist (e.g. 0, 4-11, 0-3,8)
  --agent-cpu N           cpu the agent spins on (default: first online cpu outside the enclave)
  --policy NAME|PATH      built-in policy (${policyNames.join(', ')}) or a .ts/.js file exporting a Policy
                          (default: ${DEFAULTS.policy})
  --policy-opt KEY=VALUE  option for the policy's constructor (repeatable; VALUE parsed as JSON if it can be)
  --name ENCLAVE          enclave name that services attach to (default: ${DEFAULTS.name})
  --stats-interval MS     period of the stats log line (default: ${DEFAULTS.statsIntervalMs}; 0 = off)
  --policy-errors MODE    exit (default): detach all threads and exit 3 on a policy exception;
                          continue: log it and keep scheduling
  --region-mode OCTAL     permissions of the enclave region and pins (default: 600)
  --upgrade               take the enclave over from its running agent (live upgrade or policy switch):
                          services keep running, the old agent exits 0
  --publish-map PATH      publish each executor's thread state (0 idle, 1 running, 2 queued, 3 preempted)
                          into this pinned BPF array, for network policies (see net/policies/sched_aware.c)
  --preempt-grace-us US   delay a preemption's signal by US microseconds after setting the cooperative
                          flag, so threads that call checkpoint() leave without one (default: 40; 0 = at once)
  --trace                 log every message and transaction (for debugging a policy)
  --idle-yield            sched_yield the agent cpu after an idle iteration, for machines where
                          other threads must share it (default: pure spin, as ghOSt)
  --idle-sleep-us US       after an idle iteration, block up to US us until a client posts (0 = never,
                          the default): for an agent that shares its cpu; kernel events wait up to US
  --idle-poll-us US       run an idle poller on every enclave cpu (a SCHED_IDLE agent thread that
                          wakes the threads placed there from that cpu: no cross-cpu wake for the
                          agent, ~2 us to run instead of ~20 here); it sleeps after US us of
                          idleness, until a thread next leaves the cpu idle (0 = none, the default)
  --agent-priority N      run the agent thread SCHED_FIFO at priority N (1-99; default 0: normal), so
                          the normal threads that share its cpu never delay a decision (use with
                          --idle-sleep-us, or it starves them)
  --fair-share-us US      with --agent-priority, sleep US us in every 500 us of running (default 30;
                          0 = never), else Linux takes the cpu from the agent for 50 ms at a time
                          to run the normal threads it starved
  --no-isolate            leave other threads on the enclave cpus (default: every movable thread
                          outside the enclave is moved off them through the cpuset cgroup while
                          the agent runs, and moved back when it exits, is killed or is upgraded)
  -h, --help              this text

Exit codes: 0 stopped by SIGINT/SIGTERM, 1 runtime failure, 2 bad input, 3 the policy threw.
Logs are JSON lines (pino) on stdout.`;

/** Parse argv into agent options; throws InputError with a one-line message. */
export function parseCli(argv: string[]): AgentOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        enclave: { type: 'string' },
        'agent-cpu': { type: 'string' },
        policy: { type: 'string' },
        'policy-opt': { type: 'string', multiple: true },
        name: { type: 'string' },
        'stats-interval': { type: 'string' },
        'policy-errors': { type: 'string' },
        'region-mode': { type: 'string' },
        trace: { type: 'boolean' },
        'idle-yield': { type: 'boolean' },
        upgrade: { type: 'boolean' },
        'no-isolate': { type: 'boolean' },
        'idle-sleep-us': { type: 'string' },
        'agent-priority': { type: 'string' },
        'fair-share-us': { type: 'string' },
        'idle-poll-us': { type: 'string' },
        'publish-map': { type: 'string' },
        'preempt-grace-us': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new InputError((err as Error).message.split('\n')[0], 'BAD_ARGS');
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (v.enclave === undefined) throw new InputError('--enclave cpus=LIST is required', 'BAD_ARGS');
  const m = /^cpus=(.*)$/.exec(v.enclave);
  if (!m) throw new InputError(`--enclave: expected cpus=LIST (got '${v.enclave}')`, 'BAD_ARGS');
  const cpus = parseCpuList(m[1], '--enclave cpus');
  const intArg = (flag: string, s: string | undefined): number | undefined => {
    if (s === undefined) return undefined;
    if (!/^\d+$/.test(s)) throw new InputError(`--${flag} must be a non-negative integer (got '${s}')`, 'BAD_ARGS');
    return Number(s);
  };
  const agentCpu = intArg('agent-cpu', v['agent-cpu']);
  if (agentCpu !== undefined && cpus.includes(agentCpu)) {
    throw new InputError(`--enclave cpus=${m[1]} contains the agent cpu ${agentCpu}; the agent needs a cpu of its own`, 'BAD_CPULIST');
  }
  const policyOptions: Record<string, unknown> = {};
  for (const kv of v['policy-opt'] ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new InputError(`--policy-opt expects KEY=VALUE (got '${kv}')`, 'BAD_ARGS');
    const raw = kv.slice(eq + 1);
    let val: unknown = raw;
    try {
      val = JSON.parse(raw);
    } catch {
      // plain string
    }
    policyOptions[kv.slice(0, eq)] = val;
  }
  let regionMode: number | undefined;
  if (v['region-mode'] !== undefined) {
    if (!/^[0-7]{1,4}$/.test(v['region-mode'])) {
      throw new InputError(`--region-mode must be octal permissions like 600 or 660 (got '${v['region-mode']}')`, 'BAD_ARGS');
    }
    regionMode = parseInt(v['region-mode'], 8);
  }
  const pe = v['policy-errors'];
  if (pe !== undefined && pe !== 'exit' && pe !== 'continue') {
    throw new InputError(`--policy-errors must be exit or continue (got '${pe}')`, 'BAD_ARGS');
  }
  const input: Partial<AgentOptions> & { cpus: number[] } = { cpus, policyOptions };
  if (agentCpu !== undefined) input.agentCpu = agentCpu;
  if (v.policy !== undefined) input.policy = v.policy;
  if (v.name !== undefined) input.name = v.name;
  const si = intArg('stats-interval', v['stats-interval']);
  if (si !== undefined) input.statsIntervalMs = si;
  if (regionMode !== undefined) input.regionMode = regionMode;
  if (pe !== undefined) input.policyErrors = pe;
  if (v.trace) input.trace = true;
  if (v['idle-yield']) input.idleYield = true;
  if (v.upgrade) input.upgrade = true;
  if (v['no-isolate']) input.isolate = false;
  const sleepUs = intArg('idle-sleep-us', v['idle-sleep-us']);
  if (sleepUs !== undefined) input.idleSleepUs = sleepUs;
  const poll = intArg('idle-poll-us', v['idle-poll-us']);
  if (poll !== undefined) input.idlePollUs = poll;
  const prio = intArg('agent-priority', v['agent-priority']);
  if (prio !== undefined) input.agentPriority = prio;
  const share = intArg('fair-share-us', v['fair-share-us']);
  if (share !== undefined) input.fairShareUs = share;
  if (v['publish-map'] !== undefined) input.publishMap = v['publish-map'];
  const grace = intArg('preempt-grace-us', v['preempt-grace-us']);
  if (grace !== undefined) input.preemptGraceUs = grace;
  return resolveAgentOptions(input);
}

export async function main(argv: string[]): Promise<number> {
  let opts: AgentOptions | 'help';
  try {
    opts = parseCli(argv);
    if (opts === 'help') {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
  } catch (err) {
    process.stderr.write(`syrup-agent: ${(err as Error).message}\n`);
    return 2;
  }
  const log = pino({ name: 'syrup-agent' }, pino.destination({ fd: 1, sync: true }));
  let policy;
  try {
    policy = await loadPolicy(opts.policy, opts.policyOptions);
  } catch (err) {
    process.stderr.write(`syrup-agent: ${(err as Error).message}\n`);
    return 2;
  }
  try {
    const { exitCode } = await runAgent(opts, policy, log);
    return exitCode;
  } catch (err) {
    const e = err as Error & { code?: string };
    process.stderr.write(`syrup-agent: ${e.message}${e.code ? ` [${e.code}]` : ''}\n`);
    return e instanceof InputError ? 2 : 1;
  }
}
