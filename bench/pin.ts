// pin.ts: placement of the server's threads: cpu affinity (taskset on a tid), real-time priority (chrt) for threads that share a cpu, and reading both back.
/*
 * Node has no sched_setaffinity, and worker_threads have no tid API; but
 * /proc/thread-self names the calling thread, so a thread can learn its tid
 * and have taskset pin exactly that thread (taskset -p without -a touches one
 * tid). The addon's pinThread(cpu) (agent/native.ts) can replace the exec
 * when it lands; the exec costs a few ms, paid once per thread at start-up.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { formatCpuList } from '../agent/topology.ts';

/** The calling thread's Linux tid. */
export function currentTid(): number {
  // "/proc/thread-self" -> "<pid>/task/<tid>"
  const link = readlinkSync('/proc/thread-self');
  return Number(link.slice(link.lastIndexOf('/') + 1));
}

export { formatCpuList };

export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`bad cpu list "${list}"`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

/** Pins one thread (tid) to the given cpus. */
export function pinTid(tid: number, cpus: readonly number[]): void {
  execFileSync('taskset', ['-p', '-c', formatCpuList(cpus), String(tid)], { stdio: 'ignore' });
}

/** Pins every thread of a process (taskset -a), including Node's own helper threads. */
export function pinAllThreads(pid: number, cpus: readonly number[]): void {
  execFileSync('taskset', ['-a', '-p', '-c', formatCpuList(cpus), String(pid)], { stdio: 'ignore' });
}

/** Pins many threads with one shell (one fork per thread instead of one per thread from Node). */
export function pinTids(tids: readonly number[], cpus: readonly number[]): void {
  if (tids.length === 0) return;
  const list = formatCpuList(cpus);
  const script = `for t in ${tids.map((t) => String(Math.trunc(t))).join(' ')}; do taskset -p -c ${list} $t >/dev/null || exit 1; done`;
  execFileSync('sh', ['-c', script], { stdio: 'ignore' });
}

export function pinCurrentThread(cpus: readonly number[]): void {
  pinTid(currentTid(), cpus);
}

/**
 * SCHED_FIFO at the lowest real-time priority for the calling thread. Used
 * for the load generator and the dispatcher when they share a cpu with the
 * spinning agent (2-cpu machines): as normal threads they wait behind the
 * agent for up to a CFS slice (~3 ms measured) every time they wake, which
 * is the harness's delay, not the scheduler's. They sleep between events, so
 * they take the cpu only for the few microseconds of each event; the kernel's
 * RT throttling still bounds them. Applied the same way in the Linux baseline.
 */
export function makeCurrentThreadRealtime(priority: number): void {
  execFileSync('chrt', ['-f', '-p', String(priority), String(currentTid())], { stdio: 'ignore' });
}

/** "SCHED_FIFO 1" / "SCHED_OTHER 0" for a tid, as chrt reports it. */
export function schedPolicy(tid: number | 'self' = 'self'): string {
  const id = tid === 'self' ? currentTid() : tid;
  const out = execFileSync('chrt', ['-p', String(id)], { encoding: 'utf8' });
  const policy = /policy:\s*(\S+)/.exec(out)?.[1] ?? '?';
  const prio = /priority:\s*(\d+)/.exec(out)?.[1] ?? '?';
  return `${policy} ${prio}`;
}

/** The cpus a thread may run on, as the kernel reports it ("Cpus_allowed_list"). */
export function allowedCpus(tid: number | 'self' = 'self'): string {
  const path = tid === 'self' ? '/proc/thread-self/status' : `/proc/${tid}/status`;
  const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(path, 'utf8'));
  return m ? m[1].trim() : '?';
}
