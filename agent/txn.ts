// txn.ts: a transaction (place task on cpu, guarded by the barrier the agent saw) and its result.
import { TxnResult, TXN_RESULT_NAMES } from './abi.ts';
import type { Task } from './task.ts';

export interface Txn {
  task: Task;
  cpu: number;
  /** The task's seqnum when the policy decided; a newer message makes the commit fail as TARGET_STALE. */
  barrier: number;
  /** Written by the commit. */
  result: TxnResult;
  /**
   * Latch instead of preempt: if the cpu is held, the task runs the moment the
   * holder leaves, handed the cpu by the holder itself (ScheduleContext.placeNext).
   */
  next?: boolean;
}

export function txnResultName(code: number): string {
  return TXN_RESULT_NAMES[code] ?? `UNKNOWN_${code}`;
}
