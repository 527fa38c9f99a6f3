// inproc.ts: drive a real enclave by hand from a test (no policy): drain messages and commit chosen transactions.
import { MsgType, TxnResult } from '../../agent/abi.ts';
import { AgentEnclave } from '../../agent/enclave.ts';
import type { Message } from '../../agent/message.ts';
import { DEFAULTS, type AgentOptions } from '../../agent/options.ts';
import { Task } from '../../agent/task.ts';
import { AGENT_CPU, ENCLAVE_CPU } from './cpus.ts';
import { enclaveName } from './live.ts';

export class HandEnclave {
  readonly enclave: AgentEnclave;
  readonly name: string;
  readonly log: Message[] = [];
  /** until() resumes scanning here, so successive calls see successive messages. */
  private cursor = 0;

  constructor(tag: string, cpus = [ENCLAVE_CPU], agentCpu = AGENT_CPU, options: Partial<AgentOptions> = {}) {
    this.name = enclaveName(tag);
    // No option validation: a test may take every cpu, since nothing spins here.
    this.enclave = AgentEnclave.open({ ...DEFAULTS, ...options, cpus, agentCpu, name: this.name });
  }

  /**
   * Drain (yielding to the event loop between polls) until pred matches a message not seen by an earlier call; returns it.
   * The default deadline is for a condition that must come, on a loaded machine too (a thread's start-up can take seconds).
   */
  async until(pred: (m: Message) => boolean, timeoutMs = 30_000): Promise<Message> {
    const end = Date.now() + timeoutMs;
    const batch: Message[] = [];
    for (;;) {
      for (; this.cursor < this.log.length; this.cursor++) if (pred(this.log[this.cursor])) return this.log[this.cursor++];
      if (Date.now() > end) throw new Error(`no matching message within ${timeoutMs} ms; saw ${JSON.stringify(this.log.map((m) => MsgType[m.type]))}`);
      this.enclave.channel.drain(batch);
      this.enclave.channel.heartbeat();
      this.log.push(...batch.map((m) => ({ ...m }))); // the channel reuses its message objects
      await new Promise((r) => setImmediate(r));
    }
  }

  /** The latest message drained about slot (its seqnum is what a commit must name). */
  last(slot: number): Message | undefined {
    for (let i = this.log.length - 1; i >= 0; i--) if (this.log[i].slot === slot) return this.log[i];
    return undefined;
  }

  /** The task handle of slot's current registration, as the thread's own task.handle is. */
  handle(slot: number): number {
    return this.enclave.channel.handleOf(slot);
  }

  /** Keep draining for ms (the drain is also where held-back preemption signals fire). */
  async settle(ms: number): Promise<void> {
    await this.until(() => false, ms).catch(() => undefined);
  }

  /** Commit one batch of [slot, cpu, barrier, next?] placements; returns the result codes. */
  commit(txns: [slot: number, cpu: number, barrier: number, next?: boolean][]): TxnResult[] {
    const batch = txns.map(([slot, cpu, barrier, next]) => ({ task: new Task(slot, 0, 0), cpu, barrier, result: TxnResult.OK, next }));
    this.enclave.channel.commit(batch);
    return batch.map((t) => t.result);
  }

  close(): void {
    this.enclave.close();
  }
}
