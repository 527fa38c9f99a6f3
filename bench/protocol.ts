// protocol.ts: the server's shared-memory layout (control words, request records, worker slots) and its stdin/stdout messages.
import type { Calibration } from './calibrate.ts';
import type { SharedStore } from './store.ts';
import type { Summary } from './histogram.ts';

// ---- control words (Int32Array over ctl) --------------------------------------------
/** Set once at shutdown; workers exit after their next wake. */
export const C_STOP = 0;
/** Workers wait on this before registering, so the server can pin all threads first. */
export const C_GO_REGISTER = 1;
/** Workers that have registered (and warmed their JIT). */
export const C_READY = 2;
/** Workers that have loaded their code and published their tid. */
export const C_BOOTED = 3;
/** Dispatcher sleep state: what should ring the doorbell (see D_*). */
export const C_DISP_SLEEP = 4;
/** The word the dispatcher sleeps on. */
export const C_DOORBELL = 5;
/** Last phase whose arrivals the generator has all pushed (or dropped). */
export const C_GEN_DONE = 6;
/** The generator's private word for timed sleeps (never notified). */
export const C_GEN_NAP = 7;
export const CTL_WORDS = 16;

/** Dispatcher awake: nobody needs to ring. */
export const D_AWAKE = 0;
/** Asleep waiting for arrivals (ring empty). */
export const D_WANT_ARRIVAL = 1;
/** Asleep waiting for arrivals or a completion (requests wait for an idle worker). */
export const D_WANT_COMPLETION = 2;

// ---- generator counters (Float64Array over genStats), per phase --------------------
export const G_GENERATED = 0;
export const G_MEASURED = 1;
export const G_DROPPED = 2;
export const G_DROPPED_MEASURED = 3;
export const GEN_STAT_WORDS = 4;

// ---- request record in the ring (Float64Array elements) -----------------------------
export const R_INTENDED = 0; // scheduled arrival time, us (latency is measured from here)
export const R_FLAGS = 1; // KIND_RANGE | FLAG_MEASURED
export const R_KEY = 2;
export const R_WORK = 3; // service demand in us of calibrated work
export const R_PUSHED = 4; // when the generator actually pushed it, us
export const RECORD = 5;
/** Ring capacity in requests: the backlog bound past which arrivals are dropped. */
export const RING_REQUESTS = 8192;

export const KIND_RANGE = 1;
export const FLAG_MEASURED = 2;

// ---- worker slot (Float64Array, SLOT_STRIDE per worker, padded to 128 bytes) --------
export const S_INTENDED = 0;
export const S_FLAGS = 1;
export const S_KEY = 2;
export const S_WORK = 3;
export const S_PUSHED = 4;
export const S_DISPATCHED = 5;
export const S_STARTED = 6;
export const S_ENDED = 7;
export const S_CHECKSUM = 8;
/** Checkpoints that returned true (the worker was asked to give up its cpu) during this request. */
export const S_YIELDS = 9;
/**
 * Syrup only: when the agent committed the placement the worker started this
 * request on (CLOCK_MONOTONIC us, the task's commit_ns); NaN under the default
 * scheduler. Splits "wake to run" into the agent's half and the worker cpu's.
 */
export const S_PLACED = 10;
export const SLOT_STRIDE = 16;

// ---- per-worker words (Int32Array, WORD_STRIDE per worker: one cache line each) -----
export const WORD_STRIDE = 16;
export const W_STATE = 0;
/** Linux parker: 1 = go. */
export const W_GO = 1;
/** The worker thread's Linux tid. */
export const W_TID = 2;
/** Syrup task handle (task.handle from register()): what the dispatcher wakes and hints. */
export const W_TASK_HANDLE = 3;

export const ST_IDLE = 0;
export const ST_ASSIGNED = 1;
export const ST_DONE = 2;

export type ParkerKind = 'linux' | 'syrup';

/** Request mix: service demands in microseconds. */
export interface RequestMix {
  getUs: number;
  getExpUs: number;
  rangeUs: number;
  rangeFrac: number;
}

/** The server's configuration, passed as JSON in argv[2]. */
export interface ServerConfig {
  parker: ParkerKind;
  /** Enclave name for the syrup parker. */
  enclave: string;
  workers: number;
  workerCpus: number[];
  /** Where Node's own helper threads (GC, libuv) go: every benchmark cpu that is not a worker cpu. */
  helperCpus: number[];
  dispatcherCpu: number;
  generatorCpu: number;
  /** Threads that share a cpu block between events instead of spinning. */
  dispatcherSleeps: boolean;
  generatorSleeps: boolean;
  /** Generator and dispatcher run SCHED_FIFO (they share a cpu with the agent); see pin.ts. */
  realtimeFrontEnd: boolean;
  /** Their SCHED_FIFO priority (the agent's too on a shared cpu: neither preempts the other; see layout.ts agentPriority). */
  frontEndPriority: number;
  /** Work calibration to reuse (every configuration of a run does the same work); null: calibrate here. */
  calibration: Calibration | null;
  mix: RequestMix;
  /** Work between cooperative checkpoints in a RANGE, us. */
  checkpointUs: number;
  storeKeys: number;
  seed: number;
}

/** Everything shared between the server's threads. */
export interface SharedRegions {
  ctl: SharedArrayBuffer;
  genStats: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  slots: SharedArrayBuffer;
  words: SharedArrayBuffer;
  store: SharedStore;
}

export interface WorkerInit {
  index: number;
  config: ServerConfig;
  regions: SharedRegions;
  calibration: Calibration;
}

export interface GeneratorInit {
  config: ServerConfig;
  regions: SharedRegions;
}

/** orchestrator -> server (stdin), and server -> generator. */
export interface PhaseCommand {
  cmd: 'phase';
  phase: number;
  rate: number;
  warmupS: number;
  durationS: number;
  seed: number;
}

export interface QuitCommand {
  cmd: 'quit';
}

/** generator -> server when a phase's arrivals are done. */
export interface GeneratorReport {
  phase: number;
  startUs: number;
  measureFromUs: number;
  endUs: number;
  /** Push time minus scheduled time, measured requests. */
  lateness: Summary;
}

/** Per-stage latency split of one request type. */
export interface StageSummaries {
  /** Scheduled arrival -> pushed into the ring (generator lateness). */
  generator: Summary;
  /** Pushed -> handed to a worker (waiting in the ring for an idle worker). */
  queue: Summary;
  /** Handed to a worker (woken) -> the worker started (wake + scheduling delay). */
  wake: Summary;
  /** Started -> ended (service, including time preempted). */
  service: Summary;
  /**
   * Syrup configurations only, the two halves of `wake` for requests that
   * started on a placement committed after they were handed out:
   * handed -> placement committed (the wake() post, delivery to the agent,
   * waiting in the policy's queue, the decision and the commit) ...
   */
  placed?: Summary;
  /** ... and placement committed -> started (run-word release, futex wake, the worker cpu's switch). */
  start?: Summary;
  /** Requests that started on a placement older than their hand-out (woken before they parked: no agent round trip). */
  keptCpu?: number;
}

export interface PhaseResult {
  phase: number;
  rate: number;
  durationS: number;
  /** Arrivals scheduled in the measured window (including drops), per second. */
  offered: number;
  /** Measured requests completed, per second of the window. */
  achieved: number;
  generated: number;
  measured: number;
  dropped: number;
  droppedMeasured: number;
  completedMeasured: number;
  /** Measured requests still queued or running when the drain deadline passed. */
  incomplete: number;
  get: Summary;
  range: Summary;
  stages: { get: StageSummaries; range: StageSummaries };
  checkpointYields: number;
  /** hdr-histogram compressed encodings (values in us) for re-analysis. */
  encoded: { get: string; range: string };
}

/** Lines the server writes on stdout, each a JSON object with a "bench" tag. */
export type ServerEvent =
  | {
      bench: 'ready';
      calibration: Calibration;
      workers: number;
      pinned: Record<string, string>;
      storeKeys: number;
      /** Linux tids, to find the threads in a scheduler trace (perf sched). */
      tids: { dispatcher: number; generator: number; workers: number[] };
    }
  | { bench: 'result'; result: PhaseResult }
  | { bench: 'error'; message: string };
