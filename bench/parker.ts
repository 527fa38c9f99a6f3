// parker.ts: how a worker waits for a request and how the dispatcher wakes it; the Linux (futex) implementation.
/*
 * Two implementations sit behind these interfaces so the server code is the
 * same for every configuration:
 *  - LinuxParker (here): the default-scheduler baseline. A worker blocks with
 *    Atomics.wait on its own shared word (a futex); the dispatcher sets the
 *    word and Atomics.notify()s it; which runnable worker runs is up to Linux.
 *  - SyrupParker (parker-syrup.ts): workers are Syrup tasks that park in the
 *    enclave; the agent's policy decides who runs.
 */
import { W_GO, WORD_STRIDE } from './protocol.ts';

/** Worker side. */
export interface WorkerParker {
  /** Blocks until the dispatcher wakes this worker (returns at once if the wake came first). */
  park(): void;
  /** A cooperative preemption point inside long requests; true when the thread was asked to give up its cpu (and did). */
  checkpoint(): boolean;
  /** When the placement this thread runs on now was committed (CLOCK_MONOTONIC us); NaN where nothing places threads (Linux). */
  placedAtUs(): number;
  /** Leaves the scheduler (before the thread exits). */
  close(): void;
}

/** Dispatcher side. */
export interface Waker {
  /** Makes worker `index` runnable; `hintNs` is the expected service time of what it was handed. */
  wake(index: number, hintNs: number): void;
  close(): void;
}

export class LinuxParker implements WorkerParker {
  private readonly at: number;

  constructor(private readonly words: Int32Array, index: number) {
    this.at = index * WORD_STRIDE + W_GO;
  }

  park(): void {
    // The word is a one-shot token: wait while it is 0, then consume it. A
    // wake that lands before the wait leaves it at 1 and the wait returns.
    Atomics.wait(this.words, this.at, 0);
    Atomics.store(this.words, this.at, 0);
  }

  checkpoint(): boolean {
    return false;
  }

  placedAtUs(): number {
    return NaN;
  }

  close(): void {}
}

export class LinuxWaker implements Waker {
  constructor(private readonly words: Int32Array) {}

  wake(index: number, _hintNs: number): void {
    const at = index * WORD_STRIDE + W_GO;
    Atomics.store(this.words, at, 1);
    Atomics.notify(this.words, at, 1);
  }

  close(): void {}
}
