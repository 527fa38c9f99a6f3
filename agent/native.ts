// native.ts: loads the syrup_shim addon and gives it a typed surface.
import { loadAddon } from '../addon/load.ts';

declare const agentBrand: unique symbol;
declare const clientBrand: unique symbol;
export type AgentHandle = { readonly [agentBrand]: true };
export type ClientHandle = { readonly [clientBrand]: true };

export interface NativeAgentOptions {
  name: string;
  cpus: number[];
  agentCpu: number;
  preemptSigno: number;
  maxTasks: number;
  regionMode: number;
  latchTimeoutNs: number;
  reorderTimeoutNs: number;
  upgrade: boolean;
  handoverTimeoutNs: number;
  preemptGraceNs: number;
  /** 0 = no idle pollers. */
  idlePollNs: number;
}

export interface ShimCounters {
  kernelMsgs: number;
  clientMsgs: number;
  badMsgs: number;
  reordered: number;
  seqGaps: number;
  dupMsgs: number;
  lateMsgs: number;
  kernelDrops: number;
  clientDrops: number;
  latchTimeouts: number;
  signals: number;
  affinityCalls: number;
  upgradeGapNs: number;
  rediscovered: number;
  /** Client-ring cells skipped because their producer died between claim and publish. */
  cringReclaimed: number;
  /** Preemptions answered at a checkpoint() within the grace period, without a signal. */
  coopPreempts: number;
  /** Idle waits (--idle-sleep-us), the time spent in them, and how many a client post ended. */
  sleeps: number;
  sleepNs: number;
  sleepWakeups: number;
  /** Tasks handed back to Linux while the enclave lives, and their messages kept from the loop since. */
  evicted: number;
  evictedMsgs: number;
  /** Idle pollers (--idle-poll-us): wakes handed to them, made by them, taken back after the grace; their sleeps. */
  pollDelegated: number;
  pollWakes: number;
  pollReclaimed: number;
  pollSleeps: number;
}

export interface Views {
  region: ArrayBuffer;
  kstat: ArrayBuffer;
}

export interface NativeShim {
  pinThread(cpu: number): void;
  setAffinity(tid: number, cpus: number[]): void;
  nowNs(): number;
  /** Bind the Float64Array that clockTick() writes CLOCK_MONOTONIC ns into (one per process). */
  clockBind(cell: Float64Array): void;
  /** nowNs() into the bound cell: the agent loop's clock, allocation-free (a returned double is a heap number). */
  clockTick(): void;
  schedYield(): void;
  /** Sleep ns (a plain nanosleep, not cut short by anything); returns the ns it took. */
  nap(ns: number): number;
  /** SCHED_FIFO at prio for the calling thread (0: back to SCHED_OTHER). */
  setFifo(prio: number): void;
  agentSleep(a: AgentHandle, maxNs: number): number;
  gettid(): number;
  regionLayout(): Record<string, number>;
  agentOpen(o: NativeAgentOptions): AgentHandle;
  agentDrain(a: AgentHandle, buf: Uint8Array): number;
  agentCommit(a: AgentHandle, txns: Int32Array, n: number): void;
  agentRequestPark(a: AgentHandle, slot: number, kind: number): number;
  agentReleaseSlot(a: AgentHandle, slot: number): void;
  agentEvict(a: AgentHandle, slot: number): void;
  /** Publish the agent's liveness (the shim's clock, now); true when a new agent asked for the enclave. */
  agentHeartbeat(a: AgentHandle): boolean;
  agentHandover(a: AgentHandle): void;
  agentRegion(a: AgentHandle): Views;
  agentCounters(a: AgentHandle): ShimCounters;
  agentClose(a: AgentHandle): void;
  clientAttach(name: string): ClientHandle;
  clientRegion(c: ClientHandle): Views;
  clientRegister(c: ClientHandle, qos: number, group: number, userData: number): number;
  clientPark(c: ClientHandle): number;
  clientYield(c: ClientHandle): number;
  clientWake(c: ClientHandle, handle: number): void;
  clientUnregister(c: ClientHandle): number;
  clientCheckpoint(c: ClientHandle): number;
  clientDetached(c: ClientHandle): boolean;
  clientMySlot(): number;
}

export const native: NativeShim = loadAddon<NativeShim>('syrup_shim');

/** Pin the calling thread to one cpu. */
export function pinThread(cpu: number): void {
  native.pinThread(cpu);
}
