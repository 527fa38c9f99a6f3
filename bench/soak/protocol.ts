// protocol.ts: the messages between the soak orchestrator and a service process (config in, stats and a final tally out).
import type { LatencySummary } from './latency.ts';

export interface ServiceConfig {
  enclave: string;
  /** Cpus of the enclave: the service keeps its unregistered threads off them. */
  enclaveCpus: number[];
  /** Request-serving threads (registered). */
  workers: number;
  /** Cpu time one request takes, ms. */
  workMs: number;
  /** Offered load, requests per second (open loop: sent on schedule whether or not earlier ones finished). */
  rate: number;
  /** Thread churn: this many short-lived registered threads alive at a time, each registering `cycles` times. */
  churn?: { threads: number; cycles: number; spinMs: number; reregister: 'slotFreed' | 'immediately' };
}

export interface WorkerStat {
  sent: number;
  served: number;
  regs: number;
  detached: boolean;
  slot: number;
  agent: number;
}

export interface ChurnStats {
  /** Churner threads started / exited. */
  started: number;
  exited: number;
  /** register() calls that returned. */
  registrations: number;
  /** Threads that ended while registered (their slots come back through TASK_DEAD). */
  exitedRegistered: number;
  /** Churner threads alive now. */
  active: number;
  /** Failures by error code (a churner whose register() threw, or that crashed). */
  failures: Record<string, number>;
}

export interface ServiceStats {
  kind: 'stats';
  nowNs: number;
  sent: number;
  served: number;
  workers: WorkerStat[];
  /** Longest request latency that completed since the previous stats message, us. */
  windowMaxUs: number;
  churn: ChurnStats;
}

export interface WorkerFinal extends WorkerStat {
  /** CLOCK_MONOTONIC ns when the worker saw its enclave detach (0: never). */
  detachSeenNs: number;
  /** CLOCK_MONOTONIC ns of its latest re-registration with a new agent (0: never). */
  reregisteredNs: number;
}

export interface ServiceFinal {
  kind: 'final';
  sent: number;
  served: number;
  /** sent - served once the drain gave up (0 when every request was answered). */
  unanswered: number;
  /** Seconds the load ran. */
  loadS: number;
  latency: LatencySummary;
  workers: WorkerFinal[];
  churn: ChurnStats;
  /** wake() calls that threw, by code (a wake aimed at a slot its worker just left; the counter protocol covers it). */
  wakeErrors: Record<string, number>;
  /** Workers that did not exit when told to (stuck waiting for a placement). */
  stuckWorkers: number[];
}

export type FromService =
  | { kind: 'ready'; pid: number; slots: number[] }
  | ServiceStats
  | ServiceFinal
  | { kind: 'error'; message: string };

export type ToService = { cmd: 'churn'; on: boolean } | { cmd: 'stop'; drainMs: number };
