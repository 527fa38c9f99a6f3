// server-process.ts: runs bench/server.ts as a child process and talks to it: wait for ready, run a phase, quit.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from './configs.ts';
import { JsonLineChild } from './json-child.ts';
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

export class ServerProcess extends JsonLineChild<ServerEvent> {
  static async start(config: ServerConfig): Promise<{ server: ServerProcess; ready: Ready }> {
    const child = spawn(process.execPath, [...SERVER_V8_FLAGS, '--import', 'tsx', SERVER, JSON.stringify(config)], {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const server = new ServerProcess(child, 'server');
    return { server, ready: (await server.ready(STARTUP_LIMIT_MS)) as Ready };
  }

  async runPhase(cmd: PhaseCommand): Promise<PhaseResult> {
    const ev = await this.ask(cmd);
    if (ev.bench !== 'result') throw new Error(`server sent ${ev.bench}, expected a result`);
    return ev.result;
  }
}
