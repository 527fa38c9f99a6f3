// scripted-process.ts: the test's handle on a scripted-worker running in a child process (see fixtures/scripted-process-main.ts for why).
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import readline from 'node:readline';
import { Ctl } from '../fixtures/scripted-ctl.ts';
import { ROOT } from './live.ts';

export { Ctl };

/** Emits 'message' (the worker's replies), 'error' and 'exit', like a Worker. */
export class ScriptedProcess extends EventEmitter {
  private readonly proc: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(enclave: string) {
    super();
    this.proc = spawn(process.execPath, ['--import=tsx', path.join(ROOT, 'test/fixtures/scripted-process-main.ts'), enclave], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    readline.createInterface({ input: this.proc.stdout! }).on('line', (line) => this.emit('message', JSON.parse(line)));
    this.proc.on('error', (e) => this.emit('error', e));
    this.exited = new Promise((resolve) =>
      this.proc.on('exit', (code, signal) => {
        this.emit('exit', code ?? signal);
        resolve();
      }),
    );
  }

  private get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get threadId(): number {
    return this.proc.pid ?? -1;
  }

  /** One scripted-worker step ({ op, ... }). */
  postMessage(step: Record<string, unknown>): void {
    // A step for a process that is gone would be an EPIPE on stdin, reported
    // later and far from here; say which step could not be sent instead.
    if (!this.alive) throw new Error(`scripted process ${this.threadId} has exited; step ${JSON.stringify(step)} not sent`);
    this.proc.stdin!.write(`${JSON.stringify({ step })}\n`);
  }

  /** Raise a ctl word (and wake a thread waiting on it). */
  set(word: Ctl): void {
    if (this.alive) this.proc.stdin!.write(`${JSON.stringify({ ctl: word })}\n`);
  }

  async terminate(): Promise<void> {
    if (this.alive) this.proc.kill('SIGKILL');
    await this.exited;
  }
}
