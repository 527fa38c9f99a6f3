// policy-harness.ts: a FakeChannel and Agent for policy unit tests, with every commit checked against double placement.
import { MsgSrc, MsgType, PreemptCause, TxnResult } from '../../agent/abi.ts';
import { Agent } from '../../agent/agent.ts';
import type { ParkKind } from '../../agent/channel.ts';
import { FakeChannel } from '../../agent/fake-channel.ts';
import type { Policy } from '../../agent/policy.ts';
import type { Task, TaskHints } from '../../agent/task.ts';
import type { Txn } from '../../agent/txn.ts';

export interface Placed {
  slot: number;
  cpu: number;
  result: TxnResult;
}

/** A committed placement, as step() reports it. */
export const ok = (slot: number, cpu: number): Placed => ({ slot, cpu, result: TxnResult.OK });
export const failed = (slot: number, cpu: number, result: TxnResult): Placed => ({ slot, cpu, result });

/**
 * The fake kernel side, plus the checks every policy must pass on every
 * commit: no task and no cpu twice in one batch; never place a task that
 * holds a cpu, or one that was preempted and has not yet posted the message
 * saying it left (it is still running on its old cpu).
 */
export class CheckedChannel extends FakeChannel {
  agent?: Agent;
  /** Slots asked to leave their cpu (committed over, or parked) that have not posted why yet. */
  readonly leaving = new Set<number>();

  override commit(txns: Txn[]): void {
    const slots = new Set<number>();
    const cpus = new Set<number>();
    for (const t of txns) {
      if (slots.has(t.task.slot)) throw new Error(`task ${t.task.slot} placed twice in one commit`);
      if (cpus.has(t.cpu)) throw new Error(`cpu ${t.cpu} placed twice in one commit`);
      if (t.task.cpu >= 0) throw new Error(`task ${t.task.slot} placed on cpu ${t.cpu} while it holds cpu ${t.task.cpu}`);
      if (this.leaving.has(t.task.slot)) throw new Error(`task ${t.task.slot} placed before its preemption message arrived`);
      slots.add(t.task.slot);
      cpus.add(t.cpu);
    }
    const victims = txns.map((t) => this.agent?.taskOn(t.cpu));
    super.commit(txns);
    txns.forEach((t, i) => {
      const v = victims[i];
      // A latch (placeNext) waits for the holder; it does not preempt it.
      if (t.result === TxnResult.OK && v && v !== t.task && !t.next) this.leaving.add(v.slot);
    });
  }

  override requestPark(task: Task, kind: ParkKind): void {
    if (kind === 'preempt') this.leaving.add(task.slot);
    super.requestPark(task, kind);
  }

  override post(type: MsgType, slot: number, fields: Parameters<FakeChannel['post']>[2] = {}) {
    if (type !== MsgType.TASK_NEW && type !== MsgType.TASK_WAKEUP) this.leaving.delete(slot);
    return super.post(type, slot, fields);
  }
}

/** One policy under test: script messages, step the agent, look at what it committed. */
export class PolicyHarness {
  readonly fake: CheckedChannel;
  readonly agent: Agent;

  constructor(
    readonly policy: Policy,
    cpus: readonly number[] = [0],
  ) {
    this.fake = new CheckedChannel(cpus);
    this.agent = new Agent(this.fake, policy, { name: 't', statsIntervalMs: 0, yieldEveryMs: 1 });
    this.fake.agent = this.agent;
  }

  /** One agent iteration; every txn it committed (any result), in batch order. */
  step(): Placed[] {
    const before = this.fake.commits.length;
    this.agent.step();
    return this.fake.commits.slice(before).flatMap((c) => c.txns.map(({ slot, cpu, result }) => ({ slot, cpu, result })));
  }

  /** Parks requested since the last call, as [slot, kind]. */
  parks(): [number, ParkKind][] {
    const out = this.fake.parks.slice(this.parksSeen).map((p): [number, ParkKind] => [p.slot, p.kind]);
    this.parksSeen = this.fake.parks.length;
    return out;
  }
  private parksSeen = 0;

  advanceUs(us: number): void {
    this.fake.advance(us * 1000);
  }

  /** A thread registers (TASK_NEW, from the client) with these hints. */
  newTask(slot: number, hints: Partial<TaskHints> = {}): void {
    this.fake.setHints(slot, hints);
    this.fake.post(MsgType.TASK_NEW, slot);
  }

  /** The service wakes a parked thread (client TASK_WAKEUP), after setting its hints. */
  wake(slot: number, hints: Partial<TaskHints> = {}): void {
    this.fake.setHints(slot, hints);
    this.fake.post(MsgType.TASK_WAKEUP, slot, { src: MsgSrc.CLIENT });
  }

  block(slot: number): void {
    this.fake.post(MsgType.TASK_BLOCKED, slot);
  }

  /** The victim of an agent preemption parked and says so. */
  preempted(slot: number, cause: PreemptCause = PreemptCause.AGENT): void {
    this.fake.post(MsgType.TASK_PREEMPT, slot, { src: MsgSrc.CLIENT, arg: cause });
  }

  /** Linux ran something else on the task's cpu. */
  kernelPreempted(slot: number): void {
    this.fake.post(MsgType.TASK_PREEMPT, slot, { src: MsgSrc.KERNEL, arg: PreemptCause.KERNEL });
  }

  yield(slot: number, hints: Partial<TaskHints> = {}): void {
    this.fake.setHints(slot, hints);
    this.fake.post(MsgType.TASK_YIELD, slot);
  }

  dead(slot: number): void {
    this.fake.post(MsgType.TASK_DEAD, slot);
  }

  /** Slot of the task the runtime has on cpu, or undefined. */
  on(cpu: number): number | undefined {
    return this.agent.taskOn(cpu)?.slot;
  }
}
