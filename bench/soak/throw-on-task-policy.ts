// throw-on-task-policy.ts: FIFO whose every callback for one task (the second to register) throws, for the hand-to-Linux probe.
import { FifoPolicy } from '../../policies/fifo.ts';
import type { Message } from '../../agent/message.ts';
import type { Task } from '../../agent/task.ts';

/*
 * With --policy-errors continue the agent retries the task's runnable-making
 * message twice more, and when those throw too it hands that one thread back
 * to Linux and tells the policy it departed. The other tasks never see a
 * throw. Every throw comes before FIFO's own handling, so FIFO never queues
 * the victim and never places it.
 */
export default class ThrowOnTaskPolicy extends FifoPolicy {
  override readonly name = 'throw-on-task';
  private seen = 0;
  private victim?: Task;
  private thrown = 0;

  private maybeThrow(task: Task, where: string): void {
    if (task !== this.victim) return;
    this.thrown++;
    throw new Error(`deliberate failure #${this.thrown} in ${where} for slot ${task.slot}`);
  }

  override taskNew(t: Task, m: Message) {
    if (++this.seen === 2) this.victim = t;
    this.maybeThrow(t, 'taskNew');
    super.taskNew(t, m);
  }
  override taskRunnable(t: Task, m: Message) { this.maybeThrow(t, 'taskRunnable'); super.taskRunnable(t, m); }
  override taskPreempted(t: Task, m: Message) { this.maybeThrow(t, 'taskPreempted'); super.taskPreempted(t, m); }
  override taskYield(t: Task, m: Message) { this.maybeThrow(t, 'taskYield'); super.taskYield(t, m); }

  override stats(): Record<string, number> {
    return { thrown: this.thrown };
  }
}
