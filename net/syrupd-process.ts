// syrupd-process.ts: start syrupd (bin/syrupd.js) as a child process with its own socket, pin root and cache, and stop it; used by tests and the benchmark.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './addon.ts';

export interface SyrupdProcess {
  socketPath: string;
  pinRoot: string;
  cacheDir: string;
  /** Private directory holding the socket and cache (removed by stop()). */
  dir: string;
  proc: ChildProcess;
  /** Everything syrupd logged so far. */
  output(): string;
  /** SIGTERM (syrupd removes every policy), wait, remove the private directory; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface SyrupdProcessOptions {
  /** Default 'debug'. */
  logLevel?: string;
  /** Give up waiting for "syrupd listening" after this long. Default 20000 ms. */
  startTimeoutMs?: number;
}

export async function startSyrupdProcess(options: SyrupdProcessOptions = {}): Promise<SyrupdProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'syrupd-'));
  // Apps running as other users must reach the socket and their compile directory.
  chmodSync(dir, 0o711);
  const pinRoot = `/sys/fs/bpf/syrup-${process.pid}-${path.basename(dir).slice(-6)}`;
  const socketPath = path.join(dir, 'syrupd.sock');
  const cacheDir = path.join(dir, 'cache');
  const proc = spawn(
    process.execPath,
    [
      path.join(repoRoot, 'bin', 'syrupd.js'),
      '--socket', socketPath,
      '--pin-root', pinRoot,
      '--cache-dir', cacheDir,
      '--log-level', options.logLevel ?? 'debug',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<number | null> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const code = await exited;
    rmSync(dir, { recursive: true, force: true });
    // A syrupd that died without cleaning up leaves pins; its programs are gone with it.
    if (existsSync(pinRoot)) rmSync(pinRoot, { recursive: true, force: true });
    return code;
  };
  try {
    // Ready once the socket exists (syrupd creates it when listening), whatever the log level.
    const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
    while (!existsSync(socketPath)) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`syrupd exited early:\n${out}`);
      if (Date.now() > deadline) throw new Error(`syrupd did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { socketPath, pinRoot, cacheDir, dir, proc, output: () => out, stop };
}
