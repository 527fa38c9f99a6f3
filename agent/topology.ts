// topology.ts: which cpus exist, and parsing/printing Linux cpulists ("0-3,8,10-11").
import fs from 'node:fs';
import { MAX_CPUS } from './abi.ts';

/** Error with a stable .code, thrown for bad user input. */
export class InputError extends Error {
  constructor(message: string, readonly code = 'BAD_INPUT') {
    super(message);
  }
}

/** Online cpus, from /sys (falls back to 0..n-1 from os.availableParallelism). */
export function onlineCpus(): number[] {
  try {
    return parseCpuList(fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim(), 'online cpus', MAX_CPUS);
  } catch {
    return [0];
  }
}

/**
 * Parse a cpulist. Every cpu must be below `limit` (the machine's cpu count
 * by default), and the list must name at least one cpu.
 */
export function parseCpuList(text: string, field = 'cpus', limit = Math.max(...onlineCpus()) + 1): number[] {
  const s = text.trim();
  if (s === '') throw new InputError(`${field} must name at least one cpu (got an empty list)`, 'BAD_CPULIST');
  const out = new Set<number>();
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new InputError(`${field}: '${part}' is not a cpu or range (expected e.g. 0-3,8)`, 'BAD_CPULIST');
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new InputError(`${field}: range '${part}' runs backwards`, 'BAD_CPULIST');
    if (hi >= limit) {
      throw new InputError(`${field}: cpu ${hi} is out of range (this machine has cpus 0-${limit - 1})`, 'BAD_CPULIST');
    }
    for (let c = lo; c <= hi; c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

export function formatCpuList(cpus: readonly number[]): string {
  const sorted = [...cpus].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
