// policy-object.ts: opens and loads a compiled policy with libbpf (rodata set first), turning load failures into SyrupErrors with the verifier's words.
import { netAddon, type AddonError, type MapEntry, type NativeBpfObject, type ProgramEntry } from './addon.ts';
import { SyrupError } from './errors.ts';
import type { ProgramStats } from './protocol.ts';

/** Lines of the verifier log returned to the app: the rejection is at the end. */
const VERIFIER_TAIL_LINES = 30;

export interface LoadedPolicy {
  object: NativeBpfObject;
  program: ProgramEntry;
  /** Maps the policy declared (SYR_MAP) plus the wrapper's syr_* maps, without .rodata/.bss. */
  maps: MapEntry[];
}

export interface LoadOptions {
  /** Program the hook's wrapper defines. */
  program: string;
  /** const volatile globals to set before load, as raw little-endian bytes. */
  rodata: Record<string, Buffer>;
  /** Device-bound load (NIC offload). */
  offloadIfindex?: number;
}

/** The verifier's conclusion: the last lines, plus its instruction count summary if it printed one. */
export function verifierExcerpt(log: string): string {
  const lines = log.trimEnd().split('\n');
  if (lines.length <= VERIFIER_TAIL_LINES) return lines.join('\n');
  return [`... (${lines.length - VERIFIER_TAIL_LINES} earlier lines of the verifier log omitted)`, ...lines.slice(-VERIFIER_TAIL_LINES)].join('\n');
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

/** The u64 values of one map entry, one per slot of `n` (n = possible cpus for a per-cpu map, 1 otherwise); zeros if absent. */
export function u64Values(fd: number, key: number, n: number): number[] {
  const v = netAddon.mapLookup(fd, u32(key), 8 * n);
  return Array.from({ length: n }, (_, i) => (v ? Number(v.readBigUInt64LE(8 * i)) : 0));
}

/** Run-time statistics of a loaded program; zeros for a closed one. */
export function programStats(fd: number): ProgramStats {
  if (fd < 0) return { id: 0, runTimeNs: 0, runCount: 0 };
  const i = netAddon.progInfo(fd);
  return { id: i.id, runTimeNs: i.runTimeNs, runCount: i.runCount };
}

export function loadPolicyObject(objectPath: string, options: LoadOptions): LoadedPolicy {
  let object: NativeBpfObject;
  try {
    object = netAddon.BpfObject.openFile(objectPath);
  } catch (err) {
    throw new SyrupError('EBPFLOAD', `cannot open the compiled policy: ${(err as Error).message}`);
  }
  try {
    for (const [name, value] of Object.entries(options.rodata)) object.setRodata(name, value);
    if (options.offloadIfindex !== undefined) object.setIfindex(options.offloadIfindex);
    try {
      object.load();
    } catch (err) {
      const e = err as AddonError;
      if (e.code === 'EVERIFIER' && e.verifierLog)
        throw new SyrupError('EVERIFIER', 'the kernel verifier rejected the policy', verifierExcerpt(e.verifierLog));
      throw new SyrupError('EBPFLOAD', e.message, e.log?.trim() || undefined);
    }
    const program = object.programs().find((p) => p.name === options.program);
    if (!program) throw new SyrupError('EINTERNAL', `compiled policy has no program ${options.program}`);
    const maps = object.maps().filter((m) => !m.internal);
    return { object, program, maps };
  } catch (err) {
    object.close();
    throw err;
  }
}
