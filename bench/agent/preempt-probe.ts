// preempt-probe.ts: a two-task policy for bench:agent that places a victim on one cpu, lets it run, preempts it with a successor through place(), and stamps each preemption.
import { PreemptCause } from '../../agent/abi.ts';
import type { Message } from '../../agent/message.ts';
import { native } from '../../agent/native.ts';
import { Policy, type ScheduleContext } from '../../agent/policy.ts';
import type { Task } from '../../agent/task.ts';
import { emptySample, type PreemptSample } from './preempt-samples.ts';

/** qos tags the bench's threads register with, so the policy knows which is which. */
export const VICTIM_QOS = 0;
export const SUCCESSOR_QOS = 1;

/*
 * One cycle: the victim is placed on the idle cpu and runs its loop for a
 * dwell time; the policy then places the successor over it, exactly as
 * Shinjuku's pass 2 preempts (a place() on a held cpu is the preemption).
 * The victim leaves (checkpoint() or signal handler) and hands the cpu to the
 * successor, which stamps and yields at once; the cpu is idle again and the
 * victim goes back on it. Each cycle's stamps come from three places: the
 * policy (request, commit), the threads' own loops (shared memory), and the
 * kernel (the successor's switch-in time, read once it has yielded).
 */
export class PreemptProbePolicy extends Policy {
  readonly name = 'preempt-probe';
  readonly samples: PreemptSample[] = [];
  /** Placements that failed (each leaves its cycle's sample incomplete). */
  failures = 0;
  /** TASK_PREEMPTs of cause KERNEL for the victim: Linux switched it out while runnable (another thread wanted the cpu). */
  kernelPreempts = 0;
  /** Set by the bench at the end: no more preemptions, and place whoever waits so both threads can exit. */
  quitting = false;
  private victim?: Task;
  private successor?: Task;
  private victimQueued = false;
  private successorQueued = false;
  private current?: PreemptSample;
  /** The successor yielded: read its switch-in time in the next schedule(). */
  private readSwitchIn = false;
  private dwellNs = 0;

  /**
   * victimLast / successorFirst: one-element views the threads write their
   * stamps into. The dwell is drawn per cycle from [dwellUs, 1.5 dwellUs) so
   * the requests do not lock into phase with the host's timer ticks.
   */
  constructor(
    private readonly cpu: number,
    private readonly victimLast: Float64Array,
    private readonly successorFirst: Float64Array,
    private readonly dwellUs = 200,
  ) {
    super();
    this.nextDwell();
  }

  override taskNew(task: Task): void {
    if (task.qos === VICTIM_QOS) {
      this.victim = task;
      this.victimQueued = true;
    } else if (task.qos === SUCCESSOR_QOS) {
      this.successor = task;
      this.successorQueued = true;
    }
  }

  override taskPreempted(task: Task, msg: Message): void {
    if (task === this.victim) {
      this.victimQueued = true;
      const s = this.current;
      if (msg.arg === PreemptCause.KERNEL) {
        this.kernelPreempts++;
        // Linux ran something else on the cpu while this cycle was in flight: its spans are not the preemption's alone.
        if (s && (!s.preemptMsgNs || !s.successorRunNs)) s.kernelPreempted = true;
      } else if (s && !s.preemptMsgNs) {
        s.preemptMsgNs = msg.tsNs;
        s.cause = msg.arg;
        // It is parked now: its last stamp is final.
        s.victimLastNs = this.victimLast[0];
      }
    } else if (task === this.successor) {
      this.successorQueued = true;
    }
  }

  override taskYield(task: Task): void {
    if (task === this.victim) this.victimQueued = true;
    if (task !== this.successor) return;
    this.successorQueued = true;
    const s = this.current;
    if (s && !s.successorRunNs) {
      s.successorRunNs = this.successorFirst[0];
      this.readSwitchIn = true;
    }
  }

  override taskRunnable(task: Task): void {
    if (task === this.victim) this.victimQueued = true;
    if (task === this.successor) this.successorQueued = true;
  }

  override taskBlocked(task: Task): void {
    this.forgetQueued(task);
  }

  override taskDead(task: Task): void {
    this.forgetQueued(task);
    if (task === this.victim) this.victim = undefined;
    if (task === this.successor) this.successor = undefined;
  }

  override taskDeparted(task: Task): void {
    this.taskDead(task);
  }

  override txnCommitted(task: Task): void {
    if (task === this.successor && this.current && !this.current.committedNs) this.current.committedNs = native.nowNs();
  }

  override txnFailed(task: Task): void {
    this.failures++;
    if (task === this.victim) this.victimQueued = true;
    if (task === this.successor) this.successorQueued = true;
  }

  schedule(ctx: ScheduleContext): void {
    const cpu = this.cpu;
    if (this.readSwitchIn && this.current && this.successor) {
      this.current.successorInNs = ctx.switchInNs(this.successor);
      this.readSwitchIn = false;
    }
    // idleCpus() leaves out a cpu whose preemption is still handing over.
    if (ctx.idleCpus().includes(cpu)) {
      if (this.victim && this.victimQueued) {
        this.victimQueued = false;
        ctx.place(this.victim, cpu);
      } else if (this.quitting && this.successor && this.successorQueued) {
        this.successorQueued = false;
        ctx.place(this.successor, cpu);
      }
      return;
    }
    const v = this.victim;
    const s = this.successor;
    if (this.quitting || !v || !s || !this.successorQueued) return;
    if (ctx.taskOn(cpu) !== v || ctx.cpuLatched(cpu)) return;
    // Not before the victim is back in its own loop (a stamp newer than its placement), and has run its dwell.
    if (this.victimLast[0] <= v.placedAtNs || ctx.nowNs - v.placedAtNs < this.dwellNs) return;
    this.current = emptySample(native.nowNs());
    this.samples.push(this.current);
    this.successorQueued = false;
    ctx.place(s, cpu);
    this.nextDwell();
  }

  private forgetQueued(task: Task): void {
    if (task === this.victim) this.victimQueued = false;
    if (task === this.successor) this.successorQueued = false;
  }

  private nextDwell(): void {
    this.dwellNs = this.dwellUs * 1000 * (1 + Math.random() / 2);
  }
}
