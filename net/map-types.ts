// map-types.ts: the kernel's BPF map type numbers Syrup cares about, and how large a value travels for each.

export const BPF_MAP_TYPE = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  REUSEPORT_SOCKARRAY: 20,
  CPUMAP: 16,
  XSKMAP: 17,
} as const;

/** What the kernel says of a map (bpf_obj_get_info_by_fd), as the addon returns it. */
export interface BpfMapInfo {
  id: number;
  name: string;
  /** Kernel map type number (BPF_MAP_TYPE_*). */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export function isPerCpu(type: number): boolean {
  return type === BPF_MAP_TYPE.PERCPU_HASH || type === BPF_MAP_TYPE.PERCPU_ARRAY || type === BPF_MAP_TYPE.LRU_PERCPU_HASH;
}

/** Bytes of one lookup/update value: per-CPU maps carry one 8-byte-aligned slot per possible cpu. */
export function valueBytes(type: number, valueSize: number, possibleCpus: number): number {
  return isPerCpu(type) ? Math.ceil(valueSize / 8) * 8 * possibleCpus : valueSize;
}

export function typeName(type: number): string {
  for (const [name, n] of Object.entries(BPF_MAP_TYPE)) if (n === type) return name;
  return `type ${type}`;
}
