// idle-spinner.ts: builds and runs idle-spinner.c, the SCHED_IDLE spinner each worker cpu gets in the Linux configurations under --idle-poll-us.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('./idle-spinner.c', import.meta.url));

/** Binaries this process already built, by output dir: every Linux configuration of a run asks for one. */
const built = new Map<string, string>();

/** Compile the spinner into outDir (once per process and dir); returns the binary's path. */
export function buildIdleSpinner(outDir: string): string {
  const done = built.get(outDir);
  if (done) return done;
  mkdirSync(outDir, { recursive: true });
  const bin = path.join(outDir, 'idle-spinner');
  try {
    execFileSync('cc', ['-O2', '-Wall', SOURCE, '-o', bin], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`building the idle spinner failed:\n${(e as { stderr?: Buffer }).stderr?.toString() ?? String(e)}`);
  }
  built.set(outDir, bin);
  return bin;
}

/** One spinner per cpu, running until stop(). */
export class IdleSpinners {
  private constructor(private readonly children: ChildProcess[]) {}

  /** Resolves once every spinner runs on its cpu at SCHED_IDLE; rejects with the spinner's error if one cannot. */
  static async start(bin: string, cpus: readonly number[]): Promise<IdleSpinners> {
    const children: ChildProcess[] = [];
    const spinners = new IdleSpinners(children);
    try {
      for (const cpu of cpus) {
        const child = spawn(bin, [String(cpu)], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(child);
        let err = '';
        child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        await new Promise<void>((resolve, reject) => {
          child.stdout!.once('data', () => resolve());
          child.once('error', reject);
          child.once('exit', (code) => reject(new Error(`idle spinner on cpu ${cpu} exited (${code}): ${err.trim()}`)));
        });
      }
    } catch (e) {
      spinners.stop();
      throw e;
    }
    return spinners;
  }

  /** The spinners' pids (one thread each), for a cpuset to admit. */
  get pids(): number[] {
    return this.children.map((c) => c.pid!).filter((p) => p !== undefined);
  }

  stop(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}
