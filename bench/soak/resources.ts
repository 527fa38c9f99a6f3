// resources.ts: what churn could leak, counted from outside: status-word slots, BPF tid-map entries, fds and memory of a process.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { countSlots } from './region.ts';

const BPFTOOL = ['/usr/sbin/bpftool', '/usr/bin/bpftool', '/sbin/bpftool'].find((p) => fs.existsSync(p)) ?? 'bpftool';

/** Entries in the enclave's pinned tid map (the registered threads BPF watches); -1 if it cannot be read. */
export function tidMapEntries(name: string): number {
  try {
    const out = execFileSync(BPFTOOL, ['-j', 'map', 'dump', 'pinned', `/sys/fs/bpf/syrup/${name}/tids`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return (JSON.parse(out) as unknown[]).length;
  } catch {
    return -1;
  }
}

export interface ProcUsage {
  fds: number;
  rssKb: number;
  threads: number;
}

export function procUsage(pid: number): ProcUsage {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? -1);
    return { fds: fs.readdirSync(`/proc/${pid}/fd`).length, rssKb: field('VmRSS'), threads: field('Threads') };
  } catch {
    return { fds: -1, rssKb: -1, threads: -1 };
  }
}

export interface ResourceSample {
  /** Seconds since the phase started. */
  atS: number;
  slots: number;
  slotsByState: Record<string, number>;
  tidMap: number;
  agent: ProcUsage;
  service: ProcUsage;
}

export function sampleResources(name: string, agentPid: number, servicePid: number, atS: number): ResourceSample {
  const s = countSlots(name);
  return {
    atS,
    slots: s?.inUse ?? -1,
    slotsByState: s?.byState ?? {},
    tidMap: tidMapEntries(name),
    agent: procUsage(agentPid),
    service: procUsage(servicePid),
  };
}
