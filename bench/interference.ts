// interference.ts: how much cpu time other processes took on the benchmark's cpus during a phase, from /proc (a noisy neighbour shows up here, not in our numbers).
/*
 * This VM is shared with builds and test runs, and a p99 in the milliseconds
 * is exactly what a neighbour's burst produces. So each phase records the
 * busy time of the layout's cpus (/proc/stat) minus the cpu time of the
 * benchmark's own processes (/proc/<pid>/stat: the server, the agent, this
 * orchestrator), in jiffies (10 ms). Foreign time well above zero means the
 * point was measured on a busy machine.
 */
import { readFileSync } from 'node:fs';

const HZ = 100;

export interface CpuSample {
  /** Busy jiffies per listed cpu (everything but idle and iowait). */
  busy: Map<number, number>;
  /** utime + stime jiffies per pid (children excluded). */
  own: Map<number, number>;
  atMs: number;
}

export interface Interference {
  /** Busy seconds of the listed cpus not spent by our processes, per second of wall time (1.0 = one whole cpu). */
  foreignCpus: number;
  /** Our processes' cpu use, in cpus. */
  ownCpus: number;
  /** Busy time of the listed cpus, in cpus. */
  busyCpus: number;
  /** Host steal time on the listed cpus, in cpus (0 where the hypervisor does not report it). */
  stealCpus: number;
}

function readBusy(cpus: readonly number[]): { busy: Map<number, number>; steal: number } {
  const busy = new Map<number, number>();
  let steal = 0;
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m || !cpus.includes(Number(m[1]))) continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal ...
    busy.set(Number(m[1]), f[0] + f[1] + f[2] + f[5] + f[6]);
    steal += f[7] ?? 0;
  }
  busy.set(-1, steal);
  return { busy, steal };
}

function readOwn(pids: readonly number[]): Map<number, number> {
  const own = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      own.set(pid, Number(f[11]) + Number(f[12]));
    } catch {
      own.set(pid, 0);
    }
  }
  return own;
}

export function sampleCpu(cpus: readonly number[], pids: readonly number[]): CpuSample {
  return { busy: readBusy(cpus).busy, own: readOwn(pids), atMs: Date.now() };
}

export function interference(a: CpuSample, b: CpuSample): Interference {
  const secs = Math.max(1e-3, (b.atMs - a.atMs) / 1e3);
  let busy = 0;
  for (const [cpu, v] of b.busy) if (cpu >= 0) busy += v - (a.busy.get(cpu) ?? v);
  const steal = (b.busy.get(-1) ?? 0) - (a.busy.get(-1) ?? 0);
  let own = 0;
  for (const [pid, v] of b.own) own += v - (a.own.get(pid) ?? v);
  const r = (j: number) => Math.round((j / HZ / secs) * 100) / 100;
  return { foreignCpus: r(Math.max(0, busy - own)), ownCpus: r(own), busyCpus: r(busy), stealCpus: r(steal) };
}

/**
 * Waits until other processes use less than `threshold` cpus of `cpus` over
 * a one-second window, for at most `maxS` seconds. Returns the seconds waited
 * and whether the machine was quiet in the end.
 */
export async function waitForQuiet(cpus: readonly number[], ownPids: readonly number[], threshold: number, maxS: number): Promise<{ waitedS: number; quiet: boolean; foreignCpus: number }> {
  const start = Date.now();
  let foreign = 0;
  for (;;) {
    const a = sampleCpu(cpus, ownPids);
    await new Promise((r) => setTimeout(r, 1000));
    foreign = interference(a, sampleCpu(cpus, ownPids)).foreignCpus;
    const waitedS = (Date.now() - start) / 1e3;
    if (foreign < threshold) return { waitedS, quiet: true, foreignCpus: foreign };
    if (waitedS >= maxS) return { waitedS, quiet: false, foreignCpus: foreign };
  }
}
