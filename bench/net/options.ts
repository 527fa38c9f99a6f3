// options.ts: options of the network benchmark (`npm run bench:net`): documented defaults, flag parsing, validation naming the field.
import { parseArgs as nodeParseArgs } from 'node:util';
import { onlineCpus } from '../../agent/topology.ts';

export const POLICIES = ['hash', 'round_robin', 'least_loaded'] as const;
export type BenchPolicy = (typeof POLICIES)[number];

export interface NetBenchOptions {
  /** Configurations swept: the kernel's hash (no policy) and Syrup policies from net/policies/. Default all three. */
  policies: BenchPolicy[];
  /** Worker threads, one SO_REUSEPORT socket each. Default 6. */
  workers: number;
  /** Client flows (distinct UDP 5-tuples). Default 50. */
  flows: number;
  /** GET service time range in microseconds, before scaling. Default 10-12. */
  serviceUs: [number, number];
  /**
   * Time scale of the modelled service time. Default 8: 6 modelled cores at
   * 10-12 us absorb 545k req/s, more than this 2-vCPU VM can generate, so the
   * default run stretches the service time 8x (80-96 us) and offers
   * proportionally less load; queueing delay in units of the service time
   * depends only on utilisation, so the curves keep their shape. Use 1 on a
   * machine that can generate the full rate.
   */
  scale: number;
  /** Offered loads as fractions of the modelled cores' capacity. Default 0.2..0.95. */
  loads: number[];
  /** Per point: measured time and warm-up, ms. Default 2500 / 500. */
  durationMs: number;
  warmupMs: number;
  /** p99 SLO, in units of the mean (scaled) service time. Default 10. */
  sloServiceTimes: number;
  /** Cpu for the load generator's sender; the server and receiver take the next one. Default 0. */
  senderCpu: number;
  /** Also measure each hook's per-packet cost (needs a netns and veth). Default true. */
  hookCost: boolean;
  /**
   * Also run every configuration with the workers really serving (kv_server --real 1: they spin for each
   * service time on the cpu they share, nothing modelled), loads as fractions of that one cpu. Default true.
   */
  real: boolean;
  /** Write docs/benchmarks-net.md and its plot. Default true. */
  docs: boolean;
  /** Directory for raw JSON results and built binaries. Default bench/results/net. */
  out: string;
}

export const DEFAULTS: NetBenchOptions = {
  policies: [...POLICIES],
  workers: 6,
  flows: 50,
  serviceUs: [10, 12],
  scale: 8,
  loads: [0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
  durationMs: 2500,
  warmupMs: 500,
  sloServiceTimes: 10,
  senderCpu: 0,
  hookCost: true,
  real: true,
  docs: true,
  out: 'bench/results/net',
};

export const USAGE = `Usage: npm run bench:net -- [options]

UDP key-value server, ${DEFAULTS.workers} workers on SO_REUSEPORT sockets, ${DEFAULTS.flows} client flows:
kernel hash vs Syrup socket_select policies (p99 vs load, throughput at a p99 SLO),
plus each hook's per-packet cost. Needs root (syrupd, netns).

  --policies LIST      ${POLICIES.join(',')} (default: all)
  --workers N          worker threads / sockets (default: ${DEFAULTS.workers})
  --flows N            client flows (default: ${DEFAULTS.flows})
  --service-us MIN-MAX GET service time before scaling (default: ${DEFAULTS.serviceUs.join('-')})
  --scale N            service-time scale (default: ${DEFAULTS.scale}; see docs/benchmarks-net.md)
  --loads LIST         offered load, fractions of capacity (default: ${DEFAULTS.loads.join(',')})
  --duration MS        measured time per point (default: ${DEFAULTS.durationMs})
  --warmup MS          warm-up per point (default: ${DEFAULTS.warmupMs})
  --slo N              p99 SLO in mean service times (default: ${DEFAULTS.sloServiceTimes})
  --sender-cpu N       load generator's sender cpu (default: ${DEFAULTS.senderCpu})
  --no-hook-cost       skip the per-hook cost measurement
  --no-real            skip the real-execution sweeps (workers really serving on one cpu)
  --no-docs            do not rewrite docs/benchmarks-net.md
  --out DIR            raw results (default: ${DEFAULTS.out})
  -h, --help           this text`;

export class NetBenchOptionError extends Error {}

function num(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new NetBenchOptionError(`${flag} must be a number (got ${v})`);
  return n;
}

export function parseNetBenchArgs(argv: string[]): Partial<NetBenchOptions> | 'help' {
  let values;
  try {
    ({ values } = nodeParseArgs({
      args: argv,
      options: {
        policies: { type: 'string' },
        workers: { type: 'string' },
        flows: { type: 'string' },
        'service-us': { type: 'string' },
        scale: { type: 'string' },
        loads: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        slo: { type: 'string' },
        'sender-cpu': { type: 'string' },
        'no-hook-cost': { type: 'boolean' },
        'no-real': { type: 'boolean' },
        'no-docs': { type: 'boolean' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new NetBenchOptionError((err as Error).message);
  }
  if (values.help) return 'help';
  const o: Partial<NetBenchOptions> = {};
  if (values.policies) o.policies = values.policies.split(',') as BenchPolicy[];
  if (values.workers) o.workers = num(values.workers, '--workers');
  if (values.flows) o.flows = num(values.flows, '--flows');
  if (values['service-us']) {
    const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(values['service-us']);
    if (!m) throw new NetBenchOptionError('--service-us must look like MIN-MAX (e.g. 10-12)');
    o.serviceUs = [Number(m[1]), Number(m[2])];
  }
  if (values.scale) o.scale = num(values.scale, '--scale');
  if (values.loads) o.loads = values.loads.split(',').map((x) => num(x, '--loads'));
  if (values.duration) o.durationMs = num(values.duration, '--duration');
  if (values.warmup) o.warmupMs = num(values.warmup, '--warmup');
  if (values.slo) o.sloServiceTimes = num(values.slo, '--slo');
  if (values['sender-cpu']) o.senderCpu = num(values['sender-cpu'], '--sender-cpu');
  if (values['no-hook-cost']) o.hookCost = false;
  if (values['no-real']) o.real = false;
  if (values['no-docs']) o.docs = false;
  if (values.out) o.out = values.out;
  return o;
}

/** Fill defaults and validate; errors name the option field. */
export function resolveNetBenchOptions(given: Partial<NetBenchOptions>): NetBenchOptions {
  const o: NetBenchOptions = { ...DEFAULTS, ...given };
  for (const p of o.policies)
    if (!(POLICIES as readonly string[]).includes(p)) throw new NetBenchOptionError(`options.policies: unknown policy "${p}" (${POLICIES.join(', ')})`);
  if (new Set(o.policies).size !== o.policies.length) throw new NetBenchOptionError(`options.policies names a policy twice (${o.policies.join(',')})`);
  const int = (v: number, name: string, min: number, max: number): void => {
    if (!Number.isInteger(v) || v < min || v > max) throw new NetBenchOptionError(`options.${name} must be an integer ${min}..${max} (got ${v})`);
  };
  int(o.workers, 'workers', 1, 64);
  int(o.flows, 'flows', 1, 1024);
  int(o.durationMs, 'durationMs', 200, 600_000);
  int(o.warmupMs, 'warmupMs', 0, 60_000);
  int(o.senderCpu, 'senderCpu', 0, 4095);
  // The receiver runs on the next cpu (sweep.ts, hook-cost.ts): both must exist, or pinning fails silently in loadgen.
  const online = onlineCpus();
  const receiver = (o.senderCpu + 1) % online.length;
  if (!online.includes(o.senderCpu) || !online.includes(receiver)) {
    throw new NetBenchOptionError(`options.senderCpu must be an online cpu with the next one online too (online: ${online.join(',')}; got ${o.senderCpu})`);
  }
  if (!(o.serviceUs[0] > 0 && o.serviceUs[1] >= o.serviceUs[0])) throw new NetBenchOptionError('options.serviceUs must be 0 < MIN <= MAX');
  if (!(o.scale >= 1 && o.scale <= 1000)) throw new NetBenchOptionError('options.scale must be 1..1000');
  if (o.loads.length === 0 || o.loads.some((l) => !(l > 0 && l < 1.5))) throw new NetBenchOptionError('options.loads must be fractions in (0, 1.5)');
  if (!(o.sloServiceTimes > 1)) throw new NetBenchOptionError('options.sloServiceTimes must be above 1');
  return o;
}
