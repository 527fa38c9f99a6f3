// region.ts: read an enclave's shared region from outside (header, slot states, cpu occupancy) without attaching to it.
import fs from 'node:fs';
import { CPU, EnclaveState, HDR, MAGIC, MAX_TASKS, REGION, SlotState, TASK } from '../../agent/abi.ts';

export const regionPath = (name: string) => `/dev/shm/syrup.${name}`;

export interface Header {
  magic: number;
  agentPid: number;
  state: EnclaveState;
}

function readAt(name: string, offset: number, length: number): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(regionPath(name), 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(length);
    const n = fs.readSync(fd, buf, 0, length, offset);
    return n === length ? buf : undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** The header of the region now named NAME (a restarted agent replaces the file, so this is always the newest). */
export function readHeader(name: string): Header | undefined {
  const b = readAt(name, REGION.fields.hdr, HDR.size);
  if (!b) return undefined;
  return {
    magic: b.readUInt32LE(HDR.fields.magic),
    agentPid: b.readUInt32LE(HDR.fields.agent_pid),
    state: b.readUInt32LE(HDR.fields.enclave_state),
  };
}

/** Is there an enclave NAME whose agent is live and is not `notPid` (used to wait for a restarted agent)? */
export function liveAgent(name: string, notPid = 0): number {
  const h = readHeader(name);
  if (!h || h.magic !== MAGIC || h.state !== EnclaveState.ACTIVE || h.agentPid === notPid) return 0;
  return fs.existsSync(`/proc/${h.agentPid}`) ? h.agentPid : 0;
}

export interface SlotCount {
  /** Slots whose state is not FREE: the status words in use. */
  inUse: number;
  byState: Record<string, number>;
  /** pid of the owning process -> slots it holds. */
  byPid: Record<number, number>;
}

/** Count the task slots in use, by state and by owning process. */
export function countSlots(name: string): SlotCount | undefined {
  const b = readAt(name, REGION.fields.tasks, MAX_TASKS * TASK.size);
  if (!b) return undefined;
  const out: SlotCount = { inUse: 0, byState: {}, byPid: {} };
  for (let s = 0; s < MAX_TASKS; s++) {
    const st = b.readUInt32LE(s * TASK.size + TASK.fields.state);
    if (st === SlotState.FREE) continue;
    out.inUse++;
    const key = SlotState[st] ?? `state${st}`;
    out.byState[key] = (out.byState[key] ?? 0) + 1;
    const pid = b.readUInt32LE(s * TASK.size + TASK.fields.pid);
    out.byPid[pid] = (out.byPid[pid] ?? 0) + 1;
  }
  return out;
}

/** The slot placed on cpu now (-1: none) and the pid of its process. */
export function cpuHolder(name: string, cpu: number): { slot: number; pid: number } {
  const c = readAt(name, REGION.fields.cpus + cpu * CPU.size, CPU.size);
  if (!c) return { slot: -1, pid: 0 };
  const cur = c.readUInt32LE(CPU.fields.cur);
  if (cur === 0) return { slot: -1, pid: 0 };
  const t = readAt(name, REGION.fields.tasks + (cur - 1) * TASK.size, TASK.size);
  return { slot: cur - 1, pid: t ? t.readUInt32LE(TASK.fields.pid) : 0 };
}
