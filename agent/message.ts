// message.ts: the decoded form of one shim message (struct syr_msg) as policies see it.
import { MsgSrc, MsgType } from './abi.ts';

export interface Message {
  type: MsgType;
  src: MsgSrc;
  slot: number;
  tid: number;
  /** The task's barrier (seqnum) after this event. */
  seq: number;
  /** Cpu the event happened on, -1 when unknown. */
  cpu: number;
  /** Type-specific argument (TASK_PREEMPT: PreemptCause). */
  arg: number;
  /** CLOCK_MONOTONIC timestamp in ns (exact below 2^53, i.e. ~104 days of uptime). */
  tsNs: number;
}
