// attach.ts: deploying onto a process syrupd did not hear from: may the requester act on it, and which of its sockets form the group.
import fs from 'node:fs';
import { netAddon } from './addon.ts';
import { SyrupError } from './errors.ts';
import type { Caller } from './deployment.ts';
import type { Protocol } from './protocol.ts';

/** The process whose fds a deployment takes: the app itself, or the target it was deployed onto. */
export interface FdSource {
  pid: number;
  pidfd: number;
}

/** Real, effective and saved uid of `pid` (/proc/PID/status), or null if there is no such process. */
function uidsOf(pid: number): number[] | null {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const m = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** The pid a pidfd refers to, or -1 once that process has exited (/proc/self/fdinfo). */
export function pidfdPid(pidfd: number): number {
  try {
    const m = /^Pid:\s+(-?\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${pidfd}`, 'utf8'));
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}

/**
 * The rule ptrace uses for "same user", without the capability: root may act
 * on any process; anyone else only on a process whose real, effective and
 * saved uids are all theirs (a setuid program someone else started is not).
 * The pidfd is opened first and checked to be the same live process after
 * /proc was read, so a pid reused in between cannot slip through.
 */
export function authorizeTarget(requester: Caller, pid: number): FdSource {
  let pidfd: number;
  try {
    pidfd = netAddon.pidfdOpen(pid);
  } catch {
    throw new SyrupError('ENOTARGET', `no process ${pid}`);
  }
  const uids = uidsOf(pid);
  let refusal: SyrupError | null = null;
  if (uids === null || pidfdPid(pidfd) !== pid) refusal = new SyrupError('ENOTARGET', `no process ${pid}`);
  else if (requester.uid !== 0 && uids.some((u) => u !== requester.uid))
    refusal = new SyrupError('EPERM', `uid ${requester.uid} may not act on pid ${pid} (uid ${uids[0]}): only its own user or root may deploy onto it`);
  if (refusal) {
    netAddon.closeFd(pidfd);
    throw refusal;
  }
  return { pid, pidfd };
}

/**
 * The target's sockets of the SO_REUSEPORT group on `port`: every fd of it
 * that is a UDP socket, or a listening TCP one, bound to the port, each
 * socket once (a server that forked its workers holds each listener in every
 * process, under several fd numbers), in fd order. That order is the
 * executor index (nginx: listener i is worker i's).
 */
export function discoverGroup(source: FdSource, protocol: Protocol, port: number): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(`/proc/${source.pid}/fd`);
  } catch (err) {
    throw new SyrupError('ENOTARGET', `cannot list the fds of pid ${source.pid}: ${(err as Error).message}`);
  }
  const seen = new Set<number>();
  const found: number[] = [];
  for (const name of entries.map(Number).sort((a, b) => a - b)) {
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/${source.pid}/fd/${name}`);
    } catch {
      continue; // closed meanwhile
    }
    if (!link.startsWith('socket:')) continue;
    let dup: number;
    try {
      dup = netAddon.pidfdGetfd(source.pidfd, name);
    } catch {
      continue;
    }
    try {
      const info = netAddon.socketInfo(dup);
      if (info.protocol !== protocol || info.port !== port || (protocol === 'tcp' && !info.listening) || seen.has(info.inode)) continue;
      seen.add(info.inode);
      found.push(name);
    } catch {
      // not an inet socket
    } finally {
      netAddon.closeFd(dup);
    }
  }
  if (found.length === 0) throw new SyrupError('EEXECUTOR', `pid ${source.pid} holds no ${protocol === 'tcp' ? 'listening TCP' : 'UDP'} socket bound to port ${port}`);
  return found;
}
