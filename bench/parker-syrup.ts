// parker-syrup.ts: the Syrup implementation of the parker: workers are enclave tasks, the dispatcher wakes them by slot.
/*
 * Only ever imported dynamically, in Syrup mode (worker.ts, server.ts): the
 * client loads the native addon, and the Linux baseline must run (in CI)
 * where the addon is not built.
 */
import { attach, type Enclave, type SyrupTask } from '../client/index.ts';
import type { Waker, WorkerParker } from './parker.ts';
import { W_TASK_HANDLE, WORD_STRIDE } from './protocol.ts';

export class SyrupParker implements WorkerParker {
  private constructor(private readonly task: SyrupTask) {}

  /** Registers the calling thread in the enclave (blocks until first placement) and publishes its slot. */
  static create(enclaveName: string, words: Int32Array, index: number): SyrupParker {
    const task = attach(enclaveName).register({});
    Atomics.store(words, index * WORD_STRIDE + W_TASK_HANDLE, task.handle);
    return new SyrupParker(task);
  }

  park(): void {
    this.task.park();
  }

  checkpoint(): boolean {
    return this.task.checkpoint();
  }

  /** The task's commit_ns, stamped by the agent's shim when it committed the placement (or latched the hand-over). */
  placedAtUs(): number {
    return this.task.enclave.lastCommitNs(this.task.handle) / 1e3;
  }

  close(): void {
    this.task.unregister();
  }
}

export class SyrupWaker implements Waker {
  private constructor(
    private readonly enclave: Enclave,
    private readonly words: Int32Array,
  ) {}

  static create(enclaveName: string, words: Int32Array): SyrupWaker {
    return new SyrupWaker(attach(enclaveName), words);
  }

  /** The hint first: the agent reads it when it handles the wakeup (SJF orders by it). A wake before the park makes the park return at once. */
  wake(index: number, hintNs: number): void {
    const handle = Atomics.load(this.words, index * WORD_STRIDE + W_TASK_HANDLE);
    this.enclave.setHint(handle, hintNs);
    this.enclave.wake(handle);
  }

  close(): void {}
}
