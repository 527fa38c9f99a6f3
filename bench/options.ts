// options.ts: the harness's options: typed, with documented defaults, parsed from the command line, validated with errors that name the field.
import { existsSync } from 'node:fs';
import { parseCpuList } from '../agent/topology.ts';

export interface BenchOptions {
  /** Offered loads in requests/s (--loads 2000,4k). Empty: fractions of the worker cpus' nominal capacity (see defaultLoads). */
  loads: number[];
  /** Measured window per load, seconds (--duration). Default 5 (quick: 2). */
  duration: number;
  /** Discarded warm-up before each window, seconds (--warmup). Default 1 (quick: 0.5). */
  warmup: number;
  /**
   * Discarded run before a configuration's first load, seconds (--prime),
   * at 4x the sweep's lowest load: the server's and the agent's code paths
   * are compiled before anything is measured, in every configuration alike.
   * Default 3 (quick: 1); 0 = none.
   */
  prime: number;
  /** Configurations, in order (--configs): linux, linux:isolated, a policy name from policies/, or a path to a policy file. Default linux,linux:isolated,fifo,shinjuku,sjf. */
  configs: string[];
  /** Worker threads in the server (--workers). 0: 25 per worker cpu, clamped to [50, 200] (quick: 16). */
  workers: number;
  /** GET p99 bound that defines saturation, microseconds (--slo-us). Default 1000 (ghOSt's). */
  sloUs: number;
  /** Short end-to-end check for CI (--quick): 2 loads, linux + fifo (+ shinjuku if present), 2 s windows, 16 workers, docs untouched. */
  quick: boolean;
  /** Results root; each run writes <out>/<timestamp>/ (--out). Default bench/results. */
  out: string;
  /** Markdown file whose rocksdb-bench section is regenerated (--docs); '' (--no-docs) leaves docs alone. Default docs/benchmarks.md. */
  docs: string;
  /** GET service time, us (--get-us). Default 10. */
  getUs: number;
  /** Mean of an exponential component added to each GET, us (--get-exp-us). Default 0. */
  getExpUs: number;
  /** RANGE service time, us (--range-us). Default 5000. */
  rangeUs: number;
  /** Fraction of requests that are RANGE (--range-frac). Default 0.005. */
  rangeFrac: number;
  /** Work between cooperative checkpoints inside a RANGE, us (--checkpoint-us). Default 30. */
  checkpointUs: number;
  /** Stop a configuration's sweep after this many consecutive loads past its capacity (GET p50 over the SLO, or > 1 % dropped); 0 runs every load (--stop-after). Default 2 (quick: 0). */
  stopAfter: number;
  /** Extra loads per configuration bisecting between its highest SLO-met load and the next missed one (--refine). Default 2 (quick: 0). */
  refine: number;
  /**
   * On a shared machine: seconds to wait for other processes to go quiet before each configuration, and
   * before re-measuring (once) a load during which they took cpu time (--quiet-wait). 0 disables both. Default 120 (quick: 0).
   */
  quietWait: number;
  /** Run the whole sweep this many times (--repeat); the docs show the last one in full and every one in a spread table. Default 1. */
  repeat: number;
  /** Agent --idle-yield (--agent-idle-yield auto|on|off): auto = when the layout shares the agent's cpu (2 cpus). Default auto. */
  agentIdleYield: 'auto' | 'on' | 'off';
  /** Agent --idle-sleep-us (--agent-sleep-us): -1 = the layout's (1000 when the agent shares its cpu, else 0). Default -1. */
  agentSleepUs: number;
  /** Agent --agent-priority (--agent-priority): -1 = the layout's (SCHED_FIFO 2, the front end's, when the agent shares its cpu, else 0); above the front end on a shared cpu is refused. Default -1. */
  agentPriority: number;
  /** Agent --fair-share-us (--agent-fair-share-us): -1 = the agent's default (30 us per 500 us when SCHED_FIFO). Default -1. */
  agentFairShareUs: number;
  /**
   * Idle polling on the worker cpus (--idle-poll-us US, 0 = off): Syrup
   * configurations run the agent with --idle-poll-us US; the Linux baselines
   * get the same cpu burn, a SCHED_IDLE spinner on each worker cpu for the
   * whole configuration, so the comparison stays fair. Default 0.
   */
  idlePollUs: number;
  /**
   * Agent --preempt-grace-us (--preempt-grace-us): how long a preemption waits for the victim's
   * checkpoint() before the signal, us. Default 40: a RANGE checkpoints every 30 us.
   */
  preemptGraceUs: number;
  /**
   * Which server (--server): model = bench/server.ts, the RocksDB-like store in TypeScript with calibrated
   * service times (--get-us, --range-us); rocksdb = bench/rocksdb/server.cc, a real RocksDB with a native
   * generator, dispatcher and workers (GET = one Get, RANGE = ~500 GETs of iterator scan, both measured). Default model.
   */
  server: 'model' | 'rocksdb';
  /** Keys in the real RocksDB (--rocksdb-keys), ~100-byte values on tmpfs. Default 1000000. */
  rocksdbKeys: number;
  /** Seed for arrivals and the store (--seed). Default 1. */
  seed: number;
  /** Progress bar on stderr (--no-progress to disable). Default: when stderr is a terminal. */
  progress: boolean;
  /** Cpus to lay the benchmark out on (--cpus 0-15). '' : every cpu this process may use. */
  cpus: string;
  /** Measure nothing: re-render an earlier run's directory (its results.json) and the docs (--rerender DIR). */
  rerender: string;
}

export const DEFAULTS: Readonly<BenchOptions> = {
  loads: [],
  duration: 5,
  warmup: 1,
  prime: 3,
  configs: ['linux', 'linux:isolated', 'fifo', 'shinjuku', 'sjf'],
  workers: 0,
  sloUs: 1000,
  quick: false,
  out: 'bench/results',
  docs: 'docs/benchmarks.md',
  getUs: 10,
  getExpUs: 0,
  rangeUs: 5000,
  rangeFrac: 0.005,
  checkpointUs: 30,
  stopAfter: 2,
  refine: 2,
  quietWait: 120,
  repeat: 1,
  agentIdleYield: 'auto',
  agentSleepUs: -1,
  agentPriority: -1,
  agentFairShareUs: -1,
  idlePollUs: 0,
  preemptGraceUs: 40,
  server: 'model',
  rocksdbKeys: 1_000_000,
  seed: 1,
  progress: process.stderr.isTTY === true,
  cpus: '',
  rerender: '',
};

/** What --quick changes, unless the same option is given explicitly. */
export function quickOverrides(policyExists: (name: string) => boolean): Partial<BenchOptions> {
  return {
    duration: 2,
    warmup: 0.5,
    prime: 1,
    configs: ['linux', 'fifo', ...(policyExists('shinjuku') ? ['shinjuku'] : [])],
    workers: 16,
    stopAfter: 0,
    refine: 0,
    quietWait: 0,
    // A smoke run's numbers are not evidence: leave docs/benchmarks.md alone unless --docs is given.
    docs: '',
  };
}

export class BenchOptionError extends Error {
  readonly code = 'BENCH_OPTION';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export const USAGE = `usage: npm run bench -- [options]
  --loads LIST        offered loads in req/s, e.g. 2000,4k,8k (default: fractions of nominal capacity)
  --duration S        measured seconds per load (5; quick 2)
  --warmup S          discarded seconds before each window (1; quick 0.5)
  --prime S           discarded seconds at 4x the lowest load before a configuration's first load (3; quick 1; 0 = none)
  --configs LIST      linux,linux:isolated,fifo,shinjuku,sjf or policy names/paths (./my-policy.ts);
                      linux:isolated = the Linux baseline on worker cpus isolated as an enclave
  --workers N         server worker threads (auto: 25 per worker cpu in [50,200]; quick 16)
  --slo-us US         GET p99 bound for saturation (1000)
  --quick             CI mode: 2 loads, linux+fifo(+shinjuku), short windows
  --out DIR           results root (bench/results)
  --docs FILE | --no-docs   regenerate this markdown section (docs/benchmarks.md)
  --get-us US --get-exp-us US --range-us US --range-frac F --checkpoint-us US
  --stop-after N      stop a sweep after N consecutive loads past capacity (GET p50 > SLO or drops) (2; 0 = never)
  --refine N          extra loads bisecting each saturation point (2; quick 0)
  --quiet-wait S      wait up to S s for other processes to go quiet; re-measure a disturbed load once (120; quick 0)
  --repeat N          run the whole sweep N times; the docs add a table of every sweep's ratios (1)
  --agent-idle-yield auto|on|off   agent --idle-yield (auto: when the agent shares its cpu)
  --agent-sleep-us US  agent --idle-sleep-us (-1: the layout's, 1000 when the agent shares its cpu)
  --agent-priority N   agent --agent-priority, SCHED_FIFO (-1: the layout's, 1 when the agent shares its cpu)
  --agent-fair-share-us US   agent --fair-share-us (-1: the agent's default, 30 us per 500 us at SCHED_FIFO)
  --idle-poll-us US   idle pollers on the worker cpus: the agent's --idle-poll-us US for Syrup, a
                      SCHED_IDLE spinner per worker cpu for the Linux baselines (0: none)
  --preempt-grace-us US   agent --preempt-grace-us: signal a preemption only if checkpoint() has not answered (40)
  --server model|rocksdb   model: the RocksDB-like store in TypeScript (default); rocksdb: a real RocksDB
                      (librocksdb-dev) behind a native generator, dispatcher and workers
  --rocksdb-keys N    keys in the real RocksDB (1000000)
  --rerender DIR      measure nothing: re-render DIR/results.json (tables, plot, docs section)
  --seed N  --cpus LIST  --no-progress  --help`;

type Kind = 'number' | 'int' | 'list' | 'loads' | 'string' | 'flag' | 'off';
const FLAGS: Record<string, [keyof BenchOptions, Kind]> = {
  '--loads': ['loads', 'loads'],
  '--duration': ['duration', 'number'],
  '--warmup': ['warmup', 'number'],
  '--prime': ['prime', 'number'],
  '--configs': ['configs', 'list'],
  '--workers': ['workers', 'int'],
  '--slo-us': ['sloUs', 'number'],
  '--quick': ['quick', 'flag'],
  '--out': ['out', 'string'],
  '--docs': ['docs', 'string'],
  '--no-docs': ['docs', 'off'],
  '--get-us': ['getUs', 'number'],
  '--get-exp-us': ['getExpUs', 'number'],
  '--range-us': ['rangeUs', 'number'],
  '--range-frac': ['rangeFrac', 'number'],
  '--checkpoint-us': ['checkpointUs', 'number'],
  '--stop-after': ['stopAfter', 'int'],
  '--refine': ['refine', 'int'],
  '--quiet-wait': ['quietWait', 'number'],
  '--repeat': ['repeat', 'int'],
  '--agent-idle-yield': ['agentIdleYield', 'string'],
  '--agent-sleep-us': ['agentSleepUs', 'int'],
  '--agent-priority': ['agentPriority', 'int'],
  '--agent-fair-share-us': ['agentFairShareUs', 'int'],
  '--idle-poll-us': ['idlePollUs', 'int'],
  '--preempt-grace-us': ['preemptGraceUs', 'number'],
  '--server': ['server', 'string'],
  '--rocksdb-keys': ['rocksdbKeys', 'int'],
  '--seed': ['seed', 'int'],
  '--progress': ['progress', 'flag'],
  '--no-progress': ['progress', 'off'],
  '--cpus': ['cpus', 'string'],
  '--rerender': ['rerender', 'string'],
};

/** "4k" -> 4000, "1.5k" -> 1500, "12000" -> 12000. */
function parseRate(flag: string, s: string): number {
  const m = /^(\d+(?:\.\d+)?)(k?)$/i.exec(s.trim());
  if (!m) throw new BenchOptionError(flag, `expected a rate like 2000 or 4k, got "${s}"`);
  return Number(m[1]) * (m[2] ? 1000 : 1);
}

/** Parses argv (without node and script) into the options given explicitly. */
export function parseArgs(argv: readonly string[]): Partial<BenchOptions> & { help?: boolean } {
  const out: Partial<BenchOptions> & { help?: boolean } = {};
  const set = out as Record<string, unknown>;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg === '--help' || arg === '-h') {
      out.help = true;
      continue;
    }
    const spec = FLAGS[arg];
    if (!spec) throw new BenchOptionError(arg, `unknown option (see --help)`);
    const [field, kind] = spec;
    if ((kind === 'flag' || kind === 'off') && inline !== undefined) throw new BenchOptionError(arg, `takes no value (got "${inline}")`);
    if (kind === 'flag') {
      set[field] = true;
      continue;
    }
    if (kind === 'off') {
      set[field] = field === 'docs' ? '' : false;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new BenchOptionError(arg, 'missing value');
    switch (kind) {
      case 'number':
      case 'int': {
        const n = Number(value);
        if (value.trim() === '' || !Number.isFinite(n)) throw new BenchOptionError(arg, `expected a number, got "${value}"`);
        set[field] = n;
        break;
      }
      case 'loads':
        set[field] = value.split(',').filter((s) => s.trim() !== '').map((s) => parseRate(arg, s));
        break;
      case 'list':
        set[field] = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
        break;
      case 'string':
        set[field] = value;
        break;
    }
  }
  return out;
}

/** Checks every field; throws BenchOptionError naming the first bad one. */
export function validate(o: BenchOptions): BenchOptions {
  const positive = (flag: string, v: number, what: string) => {
    if (!Number.isFinite(v) || v <= 0) throw new BenchOptionError(flag, `must be a positive number of ${what}, got ${v}`);
  };
  const nonNegInt = (flag: string, v: number) => {
    if (!Number.isInteger(v) || v < 0) throw new BenchOptionError(flag, `must be a whole number >= 0, got ${v}`);
  };
  if (!Array.isArray(o.loads)) throw new BenchOptionError('--loads', 'must be a list of rates');
  for (const l of o.loads) positive('--loads', l, 'requests per second');
  positive('--duration', o.duration, 'seconds');
  if (!Number.isFinite(o.warmup) || o.warmup < 0) throw new BenchOptionError('--warmup', `must be >= 0 seconds, got ${o.warmup}`);
  if (!Number.isFinite(o.prime) || o.prime < 0) throw new BenchOptionError('--prime', `must be >= 0 seconds, got ${o.prime}`);
  if (o.configs.length === 0) throw new BenchOptionError('--configs', 'needs at least one configuration');
  if (new Set(o.configs).size !== o.configs.length) throw new BenchOptionError('--configs', `lists a configuration twice: ${o.configs.join(',')}`);
  nonNegInt('--workers', o.workers);
  if (o.workers > 4000) throw new BenchOptionError('--workers', `at most 4000 (the shim's task table), got ${o.workers}`);
  positive('--slo-us', o.sloUs, 'microseconds');
  if (o.out.trim() === '') throw new BenchOptionError('--out', 'must name a directory');
  positive('--get-us', o.getUs, 'microseconds');
  if (!Number.isFinite(o.getExpUs) || o.getExpUs < 0) throw new BenchOptionError('--get-exp-us', `must be >= 0, got ${o.getExpUs}`);
  positive('--range-us', o.rangeUs, 'microseconds');
  if (!(o.rangeFrac >= 0 && o.rangeFrac < 1)) throw new BenchOptionError('--range-frac', `must be in [0, 1), got ${o.rangeFrac}`);
  positive('--checkpoint-us', o.checkpointUs, 'microseconds');
  nonNegInt('--stop-after', o.stopAfter);
  nonNegInt('--refine', o.refine);
  if (!Number.isFinite(o.quietWait) || o.quietWait < 0) throw new BenchOptionError('--quiet-wait', `must be >= 0 seconds, got ${o.quietWait}`);
  if (!Number.isInteger(o.repeat) || o.repeat < 1 || o.repeat > 20) throw new BenchOptionError('--repeat', `must be an integer 1..20, got ${o.repeat}`);
  nonNegInt('--seed', o.seed);
  if (!Number.isInteger(o.preemptGraceUs) || o.preemptGraceUs < 0) throw new BenchOptionError('--preempt-grace-us', `must be a non-negative integer, got ${o.preemptGraceUs}`);
  if (!Number.isInteger(o.agentSleepUs) || o.agentSleepUs < -1 || o.agentSleepUs > 1_000_000) throw new BenchOptionError('--agent-sleep-us', `must be -1 (layout) or 0..1000000, got ${o.agentSleepUs}`);
  if (!Number.isInteger(o.agentPriority) || o.agentPriority < -1 || o.agentPriority > 98) throw new BenchOptionError('--agent-priority', `must be -1 (layout) or 0..98, got ${o.agentPriority}`);
  if (!Number.isInteger(o.agentFairShareUs) || o.agentFairShareUs < -1 || o.agentFairShareUs > 400) throw new BenchOptionError('--agent-fair-share-us', `must be -1 (agent default) or 0..400, got ${o.agentFairShareUs}`);
  if (!Number.isInteger(o.idlePollUs) || o.idlePollUs < 0 || o.idlePollUs > 60_000_000) throw new BenchOptionError('--idle-poll-us', `must be 0 (none) or a spin window of 1..60000000 us, got ${o.idlePollUs}`);
  if (o.server !== 'model' && o.server !== 'rocksdb') throw new BenchOptionError('--server', `must be model or rocksdb, got "${o.server}"`);
  if (!Number.isInteger(o.rocksdbKeys) || o.rocksdbKeys < 1000) throw new BenchOptionError('--rocksdb-keys', `must be an integer >= 1000, got ${o.rocksdbKeys}`);
  if (!['auto', 'on', 'off'].includes(o.agentIdleYield)) throw new BenchOptionError('--agent-idle-yield', `must be auto, on or off, got "${o.agentIdleYield}"`);
  if (o.cpus !== '') {
    // The agent's own cpulist check (backwards ranges, cpus this machine lacks); the layout keeps the given order.
    try {
      parseCpuList(o.cpus, '--cpus');
    } catch (err) {
      throw new BenchOptionError('--cpus', (err as Error).message.replace(/^--cpus:? ?/, ''));
    }
  }
  return o;
}

/** Defaults, then --quick's overrides, then what was given explicitly; validated. */
export function resolveOptions(given: Partial<BenchOptions>, policyExists: (name: string) => boolean = defaultPolicyExists): BenchOptions {
  const quick = given.quick === true ? quickOverrides(policyExists) : {};
  const merged: BenchOptions = { ...DEFAULTS, ...quick, ...given, configs: [...(given.configs ?? quick.configs ?? DEFAULTS.configs)], loads: [...(given.loads ?? [])] };
  return validate(merged);
}

function defaultPolicyExists(name: string): boolean {
  return existsSync(new URL(`../policies/${name}.ts`, import.meta.url));
}
