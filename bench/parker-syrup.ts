// parker-syrup.ts: the Syrup implementation of the parker: workers are enclave tasks, the dispatcher wakes them by slot.
/*
 * The client (client/index.ts) is imported dynamically and only in Syrup
 * mode: a static import would load the native addon into every Linux-baseline
 * run too, and the baseline must run (in CI) where the addon is not built.
 * The types still come from the client itself.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Waker, WorkerParker } from './parker.ts';
import { W_TASK_SLOT, WORD_STRIDE } from './protocol.ts';
import type { Enclave, SyrupTask } from '../client/index.ts';

type ClientModule = typeof import('../client/index.ts');

export const CLIENT_URL = new URL('../client/index.ts', import.meta.url);

export function clientAvailable(): boolean {
  return existsSync(fileURLToPath(CLIENT_URL));
}

export async function loadClient(): Promise<ClientModule> {
  if (!clientAvailable()) throw new Error(`syrup client not found at ${fileURLToPath(CLIENT_URL)}`);
  const href: string = CLIENT_URL.href;
  const mod = (await import(href)) as Partial<ClientModule>;
  if (typeof mod.attach !== 'function') throw new Error('client/index.ts does not export attach()');
  return mod as ClientModule;
}

export class SyrupParker implements WorkerParker {
  private constructor(private readonly task: SyrupTask) {}

  /** Registers the calling thread in the enclave (blocks until first placement) and publishes its slot. */
  static async create(enclaveName: string, words: Int32Array, index: number): Promise<SyrupParker> {
    const client = await loadClient();
    const task = client.attach(enclaveName).register({});
    Atomics.store(words, index * WORD_STRIDE + W_TASK_SLOT, task.slot);
    return new SyrupParker(task);
  }

  park(): void {
    this.task.park();
  }

  checkpoint(): boolean {
    return this.task.checkpoint();
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

  static async create(enclaveName: string, words: Int32Array): Promise<SyrupWaker> {
    const client = await loadClient();
    return new SyrupWaker(client.attach(enclaveName), words);
  }

  wake(index: number, hintNs: number): void {
    const slot = Atomics.load(this.words, index * WORD_STRIDE + W_TASK_SLOT);
    this.enclave.setHint(slot, hintNs);
    this.enclave.wake(slot);
  }

  close(): void {}
}
