// layout.ts: the shared-memory words a soak service's dispatcher and its worker threads use to hand requests over.
/*
 * Requests use the no-loss counter protocol of test/fixtures/loop-worker.ts:
 * the dispatcher bumps sent[i] and then wakes worker i; the worker serves
 * while served[i] < sent[i] and parks only when it has caught up. Whichever
 * order the bump, the wake and the park happen in, no request is missed, with
 * an agent, without one (park()/wake() become a futex handshake), and across
 * a re-registration (the worker publishes its new handle before it re-reads
 * sent[i], the dispatcher bumps sent[i] before it reads the handle).
 */
export const MAX_WORKERS = 64;

/** Int32 word indices in the control buffer. */
export const W = {
  stop: 0,
  /** Requests sent to worker i. */
  sent: (i: number) => 64 + i,
  /** Requests worker i finished. */
  served: (i: number) => 64 + MAX_WORKERS + i,
  /** Task handle of worker i's registration now (-1: not registered); its slot is handleSlot() of it. */
  handle: (i: number) => 64 + 2 * MAX_WORKERS + i,
  /** Pid of the agent whose enclave that registration belongs to. */
  agent: (i: number) => 64 + 3 * MAX_WORKERS + i,
  /** Registrations of worker i so far (1 at start, +1 per re-registration). */
  regs: (i: number) => 64 + 4 * MAX_WORKERS + i,
  /** 1 while worker i runs detached (its agent died, no new one yet). */
  detached: (i: number) => 64 + 5 * MAX_WORKERS + i,
} as const;
export const CONTROL_BYTES = 4 * (64 + 6 * MAX_WORKERS);

/** Float64 indices in the times buffer (CLOCK_MONOTONIC ns, shared by every process on the host). */
export const T = {
  /** When worker i first saw its enclave detached (0: never). */
  detachSeen: (i: number) => i,
  /** When worker i last re-registered with a new agent (0: never). */
  reregistered: (i: number) => MAX_WORKERS + i,
} as const;
export const TIMES_BYTES = 8 * 2 * MAX_WORKERS;
