// pins.ts: the BPF filesystem layout syrupd keeps: mounting bpffs, one directory per app user (0700, owned by it), one per policy.
import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { netAddon } from './addon.ts';

/** Mount bpffs at /sys/fs/bpf if nothing is mounted there (fresh VMs). */
export function ensureBpffs(pinRoot: string): void {
  if (!pinRoot.startsWith('/sys/fs/bpf/')) return;
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  if (mounts.split('\n').some((l) => l.split(' ')[1] === '/sys/fs/bpf' && l.split(' ')[2] === 'bpf')) return;
  execFileSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
}

/**
 * <pinRoot>/<uid>/<policy>/<map>. The root directory is root-owned 0755 so
 * each user can reach its own 0700 directory and nothing else; pinned map
 * files are 0600 and owned by the app's user, so only that user (and root)
 * can open them with BPF_OBJ_GET.
 */
export class PinTree {
  constructor(readonly root: string) {}

  async init(): Promise<void> {
    ensureBpffs(this.root);
    await fs.mkdir(this.root, { recursive: true, mode: 0o755 });
    await fs.chmod(this.root, 0o755);
  }

  /** Remove pins a previous syrupd left behind (their programs are long gone). */
  async clearStale(): Promise<string[]> {
    const entries = await fs.readdir(this.root).catch(() => [] as string[]);
    for (const e of entries) await fs.rm(path.join(this.root, e), { recursive: true, force: true });
    return entries;
  }

  /** Create the policy's directory; returns its path. */
  async policyDir(uid: number, gid: number, policyName: string): Promise<string> {
    const userDir = path.join(this.root, String(uid));
    await fs.mkdir(userDir, { recursive: true, mode: 0o700 });
    await fs.chown(userDir, uid, gid);
    await fs.chmod(userDir, 0o700);
    const dir = path.join(userDir, policyName);
    await fs.mkdir(dir, { mode: 0o700 });
    await fs.chown(dir, uid, gid);
    return dir;
  }

  async pinMap(fd: number, dir: string, name: string, uid: number, gid: number): Promise<string> {
    const p = path.join(dir, name);
    netAddon.objPin(fd, p);
    await fs.chown(p, uid, gid);
    await fs.chmod(p, 0o600);
    return p;
  }

  /** Unpin everything of one policy, and the user's directory once it is empty. */
  async removePolicyDir(dir: string): Promise<void> {
    await fs.rm(dir, { recursive: true, force: true });
    const userDir = path.dirname(dir);
    const left = await fs.readdir(userDir).catch(() => null);
    if (left && left.length === 0) await fs.rmdir(userDir).catch(() => undefined);
  }
}
