// service-proc.ts: the orchestrator's handle on a soak service process: fork it, follow its stats, stop it, collect its tally.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromService, ServiceConfig, ServiceFinal, ServiceStats, ToService } from './protocol.ts';

const ENTRY = fileURLToPath(new URL('./service.ts', import.meta.url));

export class ServiceProc {
  readonly proc: ChildProcess;
  readonly pid: number;
  slots: number[] = [];
  last: ServiceStats | undefined;
  /** Every stats message, for latency over time (the orchestrator reads windows of it). */
  readonly history: ServiceStats[] = [];
  readonly errors: string[] = [];
  private final: Promise<ServiceFinal>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly cfg: ServiceConfig) {
    this.proc = fork(ENTRY, [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, SOAK_SERVICE: JSON.stringify(cfg) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.pid = this.proc.pid!;
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    this.final = new Promise((resolve, reject) => {
      this.proc.on('message', (m: FromService) => {
        if (m.kind === 'stats') {
          this.last = m;
          this.history.push(m);
        } else if (m.kind === 'final') {
          // Its stats stop here: leave the final counts as the last word for anyone still watching.
          if (this.last) this.last = { ...this.last, sent: m.sent, served: m.served, workers: m.workers, windowMaxUs: 0, churn: m.churn };
          resolve(m);
        }
        else if (m.kind === 'error') this.errors.push(m.message);
      });
      this.exited.then(({ code, signal }) => reject(new Error(`service ${this.pid} exited (code ${code}, signal ${signal}) before its final tally: ${this.errors.join('; ')}`)));
    });
    this.final.catch(() => undefined); // a killed service never reports; callers that care await it
  }

  /** Fork a service and wait until every worker registered and the load started. */
  static async start(cfg: ServiceConfig, timeoutMs = 60000): Promise<ServiceProc> {
    const s = new ServiceProc(cfg);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        s.kill(); // e.g. its workers never got placed: do not leave it behind
        reject(new Error(`service did not become ready in ${timeoutMs} ms${s.errors.length ? `: ${s.errors.join('; ')}` : ''}`));
      }, timeoutMs);
      s.proc.on('message', (m: FromService) => {
        if (m.kind === 'ready') {
          clearTimeout(timer);
          s.slots = m.slots;
          resolve();
        }
      });
      s.exited.then(({ code }) => {
        clearTimeout(timer);
        reject(new Error(`service exited (code ${code}) before it was ready: ${s.errors.join('; ')}`));
      });
    });
    return s;
  }

  tell(m: ToService): void {
    this.proc.send(m);
  }

  /** Stop the load, let outstanding requests drain (up to drainMs), and return the service's tally. */
  async stop(drainMs = 20000): Promise<ServiceFinal> {
    this.tell({ cmd: 'stop', drainMs });
    const f = await this.final;
    await this.exited;
    return f;
  }

  /** Largest request latency the service saw between two CLOCK_MONOTONIC instants, us. */
  maxLatencyUs(fromNs: number, toNs = Infinity): number {
    let m = 0;
    for (const s of this.history) if (s.nowNs >= fromNs && s.nowNs <= toNs + 200e6) m = Math.max(m, s.windowMaxUs);
    return m;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.proc.kill(signal);
  }
}
