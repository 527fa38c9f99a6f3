// run-cli.ts: the syrup-run command line: start an unmodified program with every thread registered with an enclave.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { attach } from './index.ts';

export const USAGE = `Usage: syrup-run --enclave NAME [--qos N] -- PROGRAM [ARGS...]

Runs PROGRAM (unmodified, dynamically linked) with every thread registered with
the enclave NAME: the main thread before main() runs, and every thread it
creates later. Threads run only when and where the enclave's policy places
them; if the agent dies they go on under Linux. Output and exit status are
the program's own.

  --enclave NAME   the agent's --name (required)
  --qos N          QoS class of every thread (default 0 = highest)

Exit codes before the program starts: 2 usage, 3 the enclave cannot be used
(no such enclave, no live agent, no permission), 4 static binary (nothing can
be preloaded into it), 126 not executable, 127 not found, 1 Syrup not built.`;

/** Where npm install put the preload (client/Makefile). */
export const PRELOAD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'build/libsyrup-run.so');

export const EXIT = { usage: 2, enclave: 3, staticBinary: 4, notExecutable: 126, notFound: 127, notBuilt: 1 } as const;

class RunError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

interface RunArgs {
  enclave: string;
  qos: number;
  program: string;
  args: string[];
}

/** syrup-run's own flags end at `--` (or at the first word that is not one of them). */
export function parseRunArgs(argv: string[]): RunArgs {
  let enclave: string | undefined;
  let qos = 0;
  let i = 0;
  const value = (flag: string): string => {
    const v = argv[++i];
    if (v === undefined) throw new RunError(`${flag} needs a value`, EXIT.usage);
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (a === '--enclave') enclave = value(a);
    else if (a.startsWith('--enclave=')) enclave = a.slice('--enclave='.length);
    else if (a === '--qos' || a.startsWith('--qos=')) {
      const v = a === '--qos' ? value(a) : a.slice('--qos='.length);
      if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) throw new RunError(`--qos must be an integer 0-4294967295 (got ${JSON.stringify(v)})`, EXIT.usage);
      qos = Number(v);
    } else if (a === '-h' || a === '--help') throw new RunError(USAGE, 0);
    else if (a.startsWith('-')) throw new RunError(`unknown option ${a}`, EXIT.usage);
    else break;
  }
  if (enclave === undefined) throw new RunError('--enclave NAME is required', EXIT.usage);
  if (i >= argv.length) throw new RunError('no program given (syrup-run --enclave NAME -- PROGRAM ARGS...)', EXIT.usage);
  return { enclave, qos, program: argv[i], args: argv.slice(i + 1) };
}

/** The program's path as execvp would find it. */
export function resolveProgram(program: string, envPath = process.env.PATH ?? ''): string {
  const candidates = program.includes('/') ? [program] : envPath.split(':').map((d) => path.join(d || '.', program));
  let found: string | undefined;
  for (const c of candidates) {
    let st: fs.Stats;
    try {
      st = fs.statSync(c);
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    found ??= c;
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return path.resolve(c);
    } catch {
      /* not executable: keep looking along PATH, as execvp does */
    }
  }
  if (found) throw new RunError(`${program}: not executable`, EXIT.notExecutable);
  throw new RunError(`${program}: not found`, EXIT.notFound);
}

/**
 * A static ELF binary has no PT_INTERP, so no dynamic loader runs in it and
 * LD_PRELOAD cannot register its threads. Scripts (#!) are let through: the
 * interpreter they name is what gets preloaded.
 */
export function isStaticElf(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const h = Buffer.alloc(64);
    if (fs.readSync(fd, h, 0, 64, 0) < 64 || h.readUInt32BE(0) !== 0x7f454c46) return false;
    if (h[4] !== 2 || h[5] !== 1) return false; // only 64-bit little-endian ELF is inspected
    const type = h.readUInt16LE(16);
    if (type !== 2 && type !== 3) return false; // EXEC or DYN
    const phoff = Number(h.readBigUInt64LE(32));
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    const ph = Buffer.alloc(phentsize * phnum);
    fs.readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return false;
    return true;
  } finally {
    fs.closeSync(fd);
  }
}

/** The enclave must exist and have a live agent now; the preload checks again as the program starts. */
function checkEnclave(name: string): void {
  try {
    const enc = attach(name);
    if (enc.detached) throw Object.assign(new Error('the enclave has no live agent'), { code: 'NO_AGENT' });
  } catch (e) {
    const err = e as Error & { code?: string };
    throw new RunError(`enclave '${name}': ${err.message}${err.code ? ` (${err.code})` : ''}`, EXIT.enclave);
  }
}

export async function main(argv: string[]): Promise<number> {
  let run: RunArgs;
  let program: string;
  try {
    run = parseRunArgs(argv);
    program = resolveProgram(run.program);
    if (isStaticElf(program)) throw new RunError(`${run.program}: static binary: nothing can be preloaded into it, so its threads cannot be registered`, EXIT.staticBinary);
    if (!fs.existsSync(PRELOAD)) throw new RunError(`${PRELOAD} is missing: run npm install (it builds the client library)`, EXIT.notBuilt);
    checkEnclave(run.enclave);
  } catch (e) {
    if (!(e instanceof RunError)) throw e;
    (e.exitCode === 0 ? process.stdout : process.stderr).write(e.exitCode === 0 ? `${e.message}\n` : `syrup-run: ${e.message}\n`);
    return e.exitCode;
  }
  const env = {
    ...process.env,
    LD_PRELOAD: [PRELOAD, process.env.LD_PRELOAD].filter(Boolean).join(':'),
    SYRUP_ENCLAVE: run.enclave,
    SYRUP_QOS: String(run.qos),
  };
  const child = spawn(program, run.args, { stdio: 'inherit', env, argv0: run.program });
  // The terminal's signals reach the child too (same process group); these are for a kill aimed at syrup-run.
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, forward(sig));
  return new Promise((resolve) => {
    child.on('error', (e) => {
      process.stderr.write(`syrup-run: ${run.program}: ${e.message}\n`);
      resolve(EXIT.notExecutable);
    });
    child.on('exit', (code, signal) => {
      if (signal) {
        resolve(128 + (os.constants.signals[signal] ?? 0));
      } else resolve(code ?? 1);
    });
  });
}
