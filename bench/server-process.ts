// server-process.ts: runs bench/server.ts as a child process and talks to it: wait for ready, run a phase, quit.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from './configs.ts';
import { LineTail, readJsonLines, tailLines } from './lines.ts';
import type { PhaseCommand, PhaseResult, ServerConfig, ServerEvent } from './protocol.ts';

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));
const STARTUP_LIMIT_MS = 240_000;
/**
 * V8 flags for the server, the same for every configuration. perf traces of
 * 2-cpu Shinjuku runs showed the server's own background work taking the
 * agent's cpu in bursts (agent off its cpu 3-4 ms at p99):
 *  --single-threaded: no V8 background tasks. Without it, V8's shared helper
 *    threads kept compiling (TurboFan) for the 50 worker isolates half a
 *    minute into the run, and collecting garbage; now that work runs on the
 *    thread that needs it (and worker.ts warms its request path up front).
 *  --no-memory-reducer: no idle-time major GCs 8 s after start-up. Each
 *    worker_thread carries a tsx loader-hooks thread with its own heap (Node
 *    20 runs module.register() hooks off-thread), and perf showed those 50
 *    idle isolates doing incremental marking on the helper cpu.
 * SYRUP_BENCH_V8_FLAGS overrides them (to measure what they change).
 */
export const SERVER_V8_FLAGS = (process.env.SYRUP_BENCH_V8_FLAGS ?? '--single-threaded --no-memory-reducer').split(' ').filter((f) => f !== '');

type Ready = Extract<ServerEvent, { bench: 'ready' }>;

export class ServerProcess {
  readonly tail = new LineTail(40);
  private waiting: { resolve: (ev: ServerEvent) => void; reject: (err: Error) => void } | null = null;
  private dead: Error | null = null;
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    readJsonLines(child.stdout!, this.tail, (obj) => {
      if (typeof obj.bench !== 'string') return;
      const ev = obj as unknown as ServerEvent;
      const w = this.waiting;
      this.waiting = null;
      if (ev.bench === 'error') w?.reject(new Error(`server: ${ev.message}`));
      else w?.resolve(ev);
    });
    tailLines(child.stderr!, this.tail);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.dead = new Error(`server exited (code ${code}, signal ${signal}):\n${this.tail.text()}`);
        this.waiting?.reject(this.dead);
        this.waiting = null;
        resolve();
      }),
    );
  }

  static async start(config: ServerConfig): Promise<{ server: ServerProcess; ready: Ready }> {
    const child = spawn(process.execPath, [...SERVER_V8_FLAGS, '--import', 'tsx', SERVER, JSON.stringify(config)], {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const server = new ServerProcess(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), STARTUP_LIMIT_MS);
    try {
      const ev = await server.next();
      if (ev.bench !== 'ready') throw new Error(`server sent ${ev.bench} before ready`);
      return { server, ready: ev };
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private next(): Promise<ServerEvent> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  async runPhase(cmd: PhaseCommand): Promise<PhaseResult> {
    const reply = this.next();
    this.child.stdin!.write(JSON.stringify(cmd) + '\n');
    const ev = await reply;
    if (ev.bench !== 'result') throw new Error(`server sent ${ev.bench}, expected a result`);
    return ev.result;
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
