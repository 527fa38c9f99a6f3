// bad-cpu-policy.ts: FIFO that aims every Nth placement at a cpu outside the enclave (--policy-opt every=N), for the bad-input soak.
import { FifoPolicy } from '../../policies/fifo.ts';
import { numberField, readOptions } from '../../policies/options.ts';
import type { ScheduleContext } from '../../agent/policy.ts';
import type { Task } from '../../agent/task.ts';
import { TxnResult } from '../../agent/abi.ts';

/** Out-of-range targets, tried in turn: negative, the agent's own cpu, the last bit of the mask, past the mask, huge. */
export const BAD_CPUS = [-1, 1, 255, 256, 99999, 2 ** 31 - 1];

/*
 * The bad placement goes through the real ScheduleContext.place(), so it is
 * committed by the shim like any other; the shim must answer INVALID_CPU and
 * the task must not run. FIFO's txnFailed puts it back at the head, and the
 * next round places it on the real cpu.
 */
export default class BadCpuPolicy extends FifoPolicy {
  override readonly name = 'bad-cpu';
  private readonly every: number;
  private placements = 0;
  private tried = 0;
  private invalidCpu = 0;
  private otherFailures = 0;

  constructor(options: Record<string, unknown> = {}) {
    super();
    this.every = readOptions(options, 'bad-cpu', { every: numberField(50, (n) => Number.isInteger(n) && n >= 1, 'a positive integer') }).every;
  }

  override schedule(ctx: ScheduleContext): void {
    if (ctx.idleCpus().length === 0 || this.queueDepth() === 0) return;
    if (++this.placements % this.every === 0) {
      const wrapped: ScheduleContext = Object.create(ctx);
      const cpu = BAD_CPUS[this.tried++ % BAD_CPUS.length];
      wrapped.place = (t: Task) => ctx.place(t, cpu);
      super.schedule(wrapped);
      return;
    }
    super.schedule(ctx);
  }

  override txnFailed(task: Task, cpu: number, code: TxnResult): void {
    if (code === TxnResult.INVALID_CPU) this.invalidCpu++;
    else this.otherFailures++;
    super.txnFailed(task, cpu, code);
  }

  override stats(): Record<string, number> {
    return { badPlacementsTried: this.tried, invalidCpuResults: this.invalidCpu, otherTxnFailures: this.otherFailures };
  }
}
