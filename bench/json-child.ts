// json-child.ts: a benchmark server child process spoken to in JSON lines: one request on stdin, one tagged event back on stdout.
import type { ChildProcess } from 'node:child_process';
import { LineTail, readJsonLines, tailLines } from './lines.ts';

/**
 * The plumbing the model server (server-process.ts) and the native RocksDB
 * server (rocksdb/native-server.ts) share: lines tagged "bench" are events,
 * one awaited at a time; "error" rejects; the child's exit rejects whatever
 * is awaited, and every later wait, with its last output.
 */
export class JsonLineChild<E extends { bench: string }> {
  readonly tail = new LineTail(40);
  private waiting: { resolve: (ev: E) => void; reject: (err: Error) => void } | null = null;
  private dead: Error | null = null;
  private readonly exited: Promise<void>;

  constructor(
    protected readonly child: ChildProcess,
    private readonly what: string,
  ) {
    readJsonLines(child.stdout!, this.tail, (obj) => {
      if (typeof obj.bench !== 'string') return;
      const w = this.waiting;
      this.waiting = null;
      if (obj.bench === 'error') w?.reject(new Error(`${what}: ${String(obj.message)}`));
      else w?.resolve(obj as unknown as E);
    });
    tailLines(child.stderr!, this.tail);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.dead = new Error(`${what} exited (code ${code}, signal ${signal}):\n${this.tail.text()}`);
        this.waiting?.reject(this.dead);
        this.waiting = null;
        resolve();
      }),
    );
  }

  /** The next event (wait for it before sending what it answers, so the reply cannot be missed). */
  protected next(): Promise<E> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  /** Send one command and wait for the event that answers it. */
  protected async ask(cmd: unknown): Promise<E> {
    const reply = this.next();
    this.child.stdin!.write(JSON.stringify(cmd) + '\n');
    return reply;
  }

  /** The first event must be "ready" within limitMs, or the child is killed. */
  protected async ready(limitMs: number): Promise<E> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), limitMs);
    try {
      const ev = await this.next();
      if (ev.bench !== 'ready') throw new Error(`${this.what} sent ${ev.bench} before ready`);
      return ev;
    } catch (err) {
      this.child.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async quit(): Promise<void> {
    if (!this.dead) {
      this.child.stdin!.write(JSON.stringify({ cmd: 'quit' }) + '\n');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
