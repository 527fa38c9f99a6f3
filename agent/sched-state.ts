// sched-state.ts: the scheduling state of a registered thread as other layers see it (cross-layer publishing).

/** What a network policy can read about the thread behind an executor. */
export enum SchedState {
  /** Blocked: waiting for work (parked) or asleep in the kernel; a new request wakes it promptly. */
  IDLE = 0,
  /** Placed on a cpu by the policy. */
  RUNNING = 1,
  /** Runnable, waiting for a cpu: a request sent to it waits behind the queue. */
  QUEUED = 2,
  /** Runnable but lost its cpu (preempted): it has unfinished work. */
  PREEMPTED = 3,
}
