// sched-state-publisher.ts: writes each executor's thread state into a pinned BPF map that network policies read (cross-layer).
import { PinnedMap } from '../net/maps.ts';
import { SchedState } from './sched-state.ts';
import type { Task } from './task.ts';

/**
 * Writes the state of every task that serves an executor (task.executor >= 0)
 * into a u32 -> u32 array map, only when it changes: one bpf() syscall per
 * transition, straight from the agent loop, so a network policy sees the
 * thread scheduler's view on its very next input.
 */
export class SchedStatePublisher {
  private readonly map: PinnedMap<'u32', 'u32'>;
  private readonly last = new Map<number, SchedState>();
  updates = 0;

  constructor(readonly path: string) {
    this.map = new PinnedMap(path, { key: 'u32', value: 'u32' });
  }

  publish(task: Task, state: SchedState): void {
    const e = task.executor;
    if (e < 0 || e >= this.map.maxEntries || this.last.get(e) === state) return;
    this.last.set(e, state);
    this.map.set(e, state);
    this.updates++;
  }

  close(): void {
    this.map.close();
  }
}
