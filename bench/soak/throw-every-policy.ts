// throw-every-policy.ts: FIFO whose message callbacks throw on every Nth message (--policy-opt every=N), for the policy-fault soak.
import { FifoPolicy } from '../../policies/fifo.ts';
import { numberField, readOptions } from '../../policies/options.ts';
import type { Message } from '../../agent/message.ts';
import type { Task } from '../../agent/task.ts';

/*
 * The throw happens before FIFO's own handling, so with --policy-errors
 * continue the agent skips exactly that one message as far as the policy is
 * concerned: the runtime's bookkeeping (cpu ownership, task.seq) still ran.
 */
export default class ThrowEveryPolicy extends FifoPolicy {
  override readonly name = 'throw-every';
  private readonly every: number;
  private seen = 0;
  private thrown = 0;

  constructor(options: Record<string, unknown> = {}) {
    super();
    this.every = readOptions(options, 'throw-every', { every: numberField(1000, (n) => Number.isInteger(n) && n >= 1, 'a positive integer') }).every;
  }

  private maybeThrow(where: string): void {
    if (++this.seen % this.every === 0) {
      this.thrown++;
      throw new Error(`deliberate failure #${this.thrown} in ${where} (message ${this.seen})`);
    }
  }

  override taskNew(t: Task, m: Message) { this.maybeThrow('taskNew'); super.taskNew(t, m); }
  override taskRunnable(t: Task, m: Message) { this.maybeThrow('taskRunnable'); super.taskRunnable(t, m); }
  override taskBlocked(t: Task, m: Message) { this.maybeThrow('taskBlocked'); super.taskBlocked(t, m); }
  override taskPreempted(t: Task, m: Message) { this.maybeThrow('taskPreempted'); super.taskPreempted(t, m); }
  override taskYield(t: Task, m: Message) { this.maybeThrow('taskYield'); super.taskYield(t, m); }
  override taskDead(t: Task, m: Message) { this.maybeThrow('taskDead'); super.taskDead(t, m); }

  override stats(): Record<string, number> {
    return { messagesSeen: this.seen, thrown: this.thrown };
  }
}
