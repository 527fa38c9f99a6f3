// compiler.ts: compiles a policy's C source inside its hook's wrapper with clang, cached by content hash.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './addon.ts';
import { SyrupError } from './errors.ts';
import { HOOKS, type HookName } from './hooks.ts';

const includeDir = path.join(repoRoot, 'net', 'include');
const bpfDir = path.join(repoRoot, 'net', 'bpf');

function multiarchInclude(): string[] {
  // The BPF target lacks the host's multiarch include dir, where asm/types.h lives.
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
  return [`-I/usr/include/${arch}-linux-gnu`];
}

/** -mcpu=v3: clang 14 aborts on atomics whose result is used (round robin counters) without it. */
const CFLAGS = ['-g', '-O2', '-target', 'bpf', '-mcpu=v3', '-Wall', '-Wno-unused-function', '-I', includeDir, '-I', bpfDir];

export interface CompileResult {
  objectPath: string;
  cached: boolean;
}

export interface CompilerOptions {
  /** Directory for sources and objects; created 0700. */
  cacheDir: string;
  /** clang binary. */
  clang: string;
  /** Kill a compile that runs longer than this. */
  timeoutMs: number;
}

/** Files whose contents change what a wrapper compiles to, hashed into the cache key. */
function toolchainFingerprint(wrapper: string): string {
  const h = createHash('sha256');
  for (const f of [path.join(bpfDir, wrapper), path.join(bpfDir, 'wrap_counters.h'), path.join(includeDir, 'syrup.h')])
    h.update(readFileSync(f));
  h.update(CFLAGS.join(' '));
  return h.digest('hex');
}

export class PolicyCompiler {
  private readonly fingerprints = new Map<string, string>();

  constructor(private readonly options: CompilerOptions) {}

  /**
   * Compile `source` (named `file` in diagnostics) for `hook`. Throws
   * SyrupError ECOMPILE whose details are clang's diagnostics, with paths
   * rewritten to the user's file name. clang runs as the caller's uid/gid, so
   * an `#include` can only read what the app itself could read.
   */
  async compile(
    hook: HookName,
    file: string,
    source: string,
    caller: { uid: number; gid: number },
  ): Promise<CompileResult> {
    const spec = HOOKS[hook];
    let fp = this.fingerprints.get(spec.wrapper);
    if (!fp) {
      fp = toolchainFingerprint(spec.wrapper);
      this.fingerprints.set(spec.wrapper, fp);
    }
    // What is compiled is the wrapper around the source: hooks that share a wrapper (xdp_skb, xdp_drv) share the object.
    const key = createHash('sha256').update(fp).update('\0').update(spec.wrapper).update('\0').update(source).digest('hex');
    const objectPath = path.join(this.options.cacheDir, `${key}.o`);
    try {
      await fs.access(objectPath);
      return { objectPath, cached: true };
    } catch {
      // not cached yet
    }
    // 0711: the caller's clang must traverse into its own work directory.
    await fs.mkdir(this.options.cacheDir, { recursive: true, mode: 0o711 });
    const base = path.basename(file).replace(/[^A-Za-z0-9_.-]/g, '_') || 'policy.c';
    const srcDir = await fs.mkdtemp(path.join(this.options.cacheDir, 'src-'));
    const srcPath = path.join(srcDir, base);
    const tmpObject = path.join(srcDir, 'policy.o');
    try {
      await fs.writeFile(srcPath, source);
      await fs.chown(srcDir, caller.uid, caller.gid);
      await fs.chmod(srcDir, 0o700);
      const args = [
        ...CFLAGS,
        ...multiarchInclude(),
        `-DSYR_POLICY_FILE="${srcPath}"`,
        '-c',
        path.join(bpfDir, spec.wrapper),
        '-o',
        tmpObject,
      ];
      const { code, stderr } = await run(this.options.clang, args, this.options.timeoutMs, caller);
      const diagnostics = stderr.split(srcDir + '/').join('').split(bpfDir + '/').join('');
      if (code !== 0) {
        throw new SyrupError('ECOMPILE', `${file} does not compile for hook ${hook}`, diagnostics.trim());
      }
      await fs.rename(tmpObject, objectPath);
      return { objectPath, cached: false };
    } finally {
      await fs.rm(srcDir, { recursive: true, force: true });
    }
  }
}

function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
  caller: { uid: number; gid: number },
): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const opts = { timeout: timeoutMs, maxBuffer: 4 << 20, uid: caller.uid, gid: caller.gid, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } };
    execFile(cmd, args, opts, (err, _stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new SyrupError('EINTERNAL', `cannot run ${cmd}: not installed (apt-get install clang)`));
        return;
      }
      if (err && err.killed) {
        resolve({ code: 1, stderr: `${stderr}\ncompilation killed after ${timeoutMs} ms` });
        return;
      }
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stderr: String(stderr) });
    });
  });
}
