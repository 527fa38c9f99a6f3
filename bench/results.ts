// results.ts: the shape of a benchmark run's results (results.json), shared by the harness, the evaluation and the reports.
import type { IsolationReport } from '../agent/isolation.ts';
import type { AgentOutcome } from './agent-process.ts';
import type { Interference } from './interference.ts';
import type { Calibration } from './calibrate.ts';
import type { Layout } from './layout.ts';
import type { BenchOptions } from './options.ts';
import type { PhaseResult } from './protocol.ts';
import type { RoleTids, RunDelay } from './run-delay.ts';

export const SCHEMA = 'syrup-bench-rocksdb/1';

export interface PointResult extends PhaseResult {
  /** GET p99 under the SLO and under 1 % of the window's requests dropped. */
  sloMet: boolean;
  /** This load was added to compare every configuration at half the Linux saturation load. */
  halfLinux: boolean;
  /** Cpu time other processes took on the benchmark's cpus during this load (warm-up included). */
  interference: Interference;
  /** Measured a second time because other processes disturbed the first measurement (which is discarded). */
  remeasured?: boolean;
  /** How long the agent, dispatcher, generator and workers waited runnable for a cpu during this load (warm-up included). */
  runDelay?: RunDelay;
  /** Syrup: the agent's stats lines (per-second message, transaction, preemption counts) logged during this load. */
  agentStats?: unknown[];
}

export interface Saturation {
  /** The target rate of the highest load that met the SLO, req/s. */
  rate: number;
  /** Achieved throughput at that load, req/s: the saturation throughput. */
  achieved: number;
  getP99: number;
  /** The lowest load that missed the SLO, if any was run. */
  firstMissRate: number | null;
}

export interface HalfLinuxComparison {
  rate: number;
  getP99: number;
  /** Linux's GET p99 at this load divided by this configuration's (how many times lower). */
  p99LowerBy: number | null;
}

export interface ConfigResult {
  name: string;
  kind: 'linux' | 'syrup' | 'skipped';
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  /** The agent's --policy argument. */
  policy?: string;
  agent?: AgentOutcome & { args: string[] };
  calibration?: Calibration;
  pinned?: Record<string, string>;
  /** Server thread ids (and the agent's pid), to line results up with a perf sched trace. */
  tids?: RoleTids;
  workers?: number;
  startupS?: number;
  /** The rate of the discarded priming run before the first load (--prime), if there was one. */
  primeRate?: number;
  /** linux:isolated: what the harness's isolation of the worker cpus did (Syrup configurations: in the agent's ready line). */
  isolation?: IsolationReport;
  points: PointResult[];
  saturation: Saturation | null;
  /** Saturation throughput divided by Linux's from the same run. */
  satRatioToLinux: number | null;
  halfLinux: HalfLinuxComparison | null;
  /** Capacity knee: the highest throughput achieved at a load that had not collapsed (evaluate.ts: collapsed()). */
  knee?: number | null;
  /** knee divided by Linux's from the same run. */
  kneeRatioToLinux?: number | null;
  belowLinux?: BelowLinux | null;
}

/** GET p99 against Linux's at each load Linux ran up to its knee: how many of those loads a configuration beat, and where it did worst. */
export interface BelowLinux {
  loads: number;
  below: number;
  worst: { rate: number; p99: number; linuxP99: number } | null;
}

export interface TargetCheck {
  config: string;
  satRatio: number | null;
  satRatioTarget: number;
  p99LowerBy: number | null;
  p99LowerByTarget: number;
  kneeRatio: number | null;
  kneeRatioTarget: number;
  /** GET p99 below Linux's at every load up to Linux's knee. */
  belowLinuxToKnee: boolean | null;
  met: boolean;
}

/** One sweep of a repeated run (--repeat), kept so the docs can show the spread. */
export interface RepeatSummary {
  startedAt: string;
  dir: string;
  configs: { name: string; saturation: number | null; satRatio: number | null; halfP99: number | null; p99LowerBy: number | null; knee: number | null; kneeRatio: number | null; belowLinux: BelowLinux | null }[];
}

export interface BenchReport {
  schema: typeof SCHEMA;
  startedAt: string;
  finishedAt: string;
  /** The command line that produced this run. */
  command: string;
  host: { hostname: string; cpus: number; cpuModel: string; kernel: string; node: string };
  /** V8 flags the server ran with (server-process.ts says why). */
  serverV8Flags: string[];
  options: BenchOptions;
  layout: Layout;
  layoutText: string[];
  workers: number;
  /** Worker cpus x 1e6 / mean service time: the rate a perfect scheduler could serve. */
  nominalCapacity: number;
  loads: number[];
  configs: ConfigResult[];
  evaluation: {
    linuxSaturation: Saturation | null;
    halfLinuxRate: number | null;
    targets: TargetCheck[];
    notes: string[];
  };
  /** --repeat N: every sweep's summary, this one last. */
  repeats?: RepeatSummary[];
}
