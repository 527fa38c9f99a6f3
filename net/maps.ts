// maps.ts: the maps API: typed get/set/delete on a policy's maps, directly through the pinned map (BPF rights) or through syrupd (any user).
import { netAddon, type AddonError } from './addon.ts';
import { codecFor, type Codec, type Decoded, type TypeSpec } from './codec.ts';
import { SyrupError } from './errors.ts';
import { isPerCpu, typeName, valueBytes } from './map-types.ts';
import type { MapDescription } from './protocol.ts';

export interface MapTypes<K extends TypeSpec, V extends TypeSpec> {
  key: K;
  value: V;
}

/** Update flags, as in bpf_map_update_elem. */
export const MAP_FLAGS = { any: 0, noExist: 1, exist: 2 } as const;
export type MapUpdateMode = keyof typeof MAP_FLAGS;

const possibleCpus = (): number => netAddon.possibleCpus();

function checkSizes(name: string, keySize: number, valueSize: number, k: Codec<unknown>, v: Codec<unknown>): void {
  if (k.size !== keySize) throw new SyrupError('EBADREQUEST', `map ${name} has ${keySize}-byte keys; the key type is ${k.size} bytes`);
  if (v.size !== valueSize)
    throw new SyrupError('EBADREQUEST', `map ${name} has ${valueSize}-byte values; the value type is ${v.size} bytes`);
}

/** Splits a per-CPU value blob into one decoded value per cpu. */
function splitPerCpu<V>(blob: Buffer, codec: Codec<V>, valueSize: number): V[] {
  const stride = Math.ceil(valueSize / 8) * 8;
  const out: V[] = [];
  for (let off = 0; off + stride <= blob.length; off += stride) out.push(codec.decode(blob, off));
  return out;
}

function joinPerCpu<V>(value: V | V[], codec: Codec<V>, valueSize: number, cpus: number): Buffer {
  const stride = Math.ceil(valueSize / 8) * 8;
  const blob = Buffer.alloc(stride * cpus);
  for (let c = 0; c < cpus; c++) {
    const v = Array.isArray(value) ? value[c] : value;
    if (v === undefined) throw new SyrupError('EBADREQUEST', `per-CPU value needs ${cpus} entries`);
    codec.encode(v).copy(blob, c * stride);
  }
  return blob;
}

/**
 * A pinned map opened directly (BPF_OBJ_GET): synchronous, no daemon round
 * trip, so an app can update it per request. Needs read/write access to the
 * pin (the owning user) and the right to call bpf() (root or CAP_BPF).
 */
export class PinnedMap<K extends TypeSpec, V extends TypeSpec> {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  private fd: number;
  private readonly k: Codec<Decoded<K>>;
  private readonly v: Codec<Decoded<V>>;
  private readonly cpus: number;

  constructor(
    readonly path: string,
    types: MapTypes<K, V>,
  ) {
    try {
      this.fd = netAddon.objGet(path);
    } catch (err) {
      const e = err as AddonError;
      throw new SyrupError(e.code === 'ENOENT' ? 'ENOMAP' : 'EPERM', e.message);
    }
    const info = netAddon.mapInfo(this.fd);
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.k = codecFor(types.key, 'key');
    this.v = codecFor(types.value, 'value');
    this.cpus = possibleCpus();
    try {
      checkSizes(path, this.keySize, this.valueSize, this.k, this.v);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private open(): number {
    if (this.fd < 0) throw new SyrupError('ENOMAP', `map ${this.path} is closed`);
    return this.fd;
  }

  /** The map's fd, e.g. to hand to a native data plane that mmaps it; valid until close(). */
  get mapFd(): number {
    return this.open();
  }

  get(key: Decoded<K>): Decoded<V> | undefined {
    if (isPerCpu(this.type)) throw new SyrupError('EBADREQUEST', `map ${this.path} is per-CPU; use getPerCpu()`);
    const b = netAddon.mapLookup(this.open(), this.k.encode(key), this.valueSize);
    return b ? this.v.decode(b) : undefined;
  }

  getPerCpu(key: Decoded<K>): Decoded<V>[] | undefined {
    const b = netAddon.mapLookup(this.open(), this.k.encode(key), valueBytes(this.type, this.valueSize, this.cpus));
    if (!b) return undefined;
    return isPerCpu(this.type) ? splitPerCpu(b, this.v, this.valueSize) : [this.v.decode(b)];
  }

  /** Takes effect for the next input the policy sees. A per-CPU map takes one value for every cpu, or an array. */
  set(key: Decoded<K>, value: Decoded<V> | Decoded<V>[], mode: MapUpdateMode = 'any'): void {
    const blob = isPerCpu(this.type)
      ? joinPerCpu(value, this.v, this.valueSize, this.cpus)
      : this.v.encode(value as Decoded<V>);
    try {
      netAddon.mapUpdate(this.open(), this.k.encode(key), blob, MAP_FLAGS[mode]);
    } catch (err) {
      throw new SyrupError('EBADREQUEST', `cannot update ${this.path} (${typeName(this.type)}): ${(err as Error).message}`);
    }
  }

  delete(key: Decoded<K>): boolean {
    try {
      return netAddon.mapDelete(this.open(), this.k.encode(key));
    } catch (err) {
      throw new SyrupError('EBADREQUEST', `cannot delete from ${this.path} (${typeName(this.type)}): ${(err as Error).message}`);
    }
  }

  keys(): Decoded<K>[] {
    const out: Decoded<K>[] = [];
    let k: Buffer | null = null;
    while ((k = netAddon.mapNextKey(this.open(), k, this.keySize)) !== null) out.push(this.k.decode(k));
    return out;
  }

  /**
   * The values of an SYR_MAP_MMAP array as shared memory: entry i starts at
   * byte i * round_up(valueSize, 8). Atomics on it are atomic with the policy's.
   */
  mmap(): ArrayBuffer {
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const page = 4096;
    return netAddon.mapMmap(this.open(), Math.ceil((stride * this.maxEntries) / page) * page);
  }

  close(): void {
    if (this.fd >= 0) netAddon.closeFd(this.fd);
    this.fd = -1;
  }
}

/** What PolicyMap needs from the client to go through syrupd. */
export interface DaemonMapTransport {
  request(op: 'mapGet' | 'mapSet' | 'mapDelete' | 'mapKeys', args: Record<string, unknown>): Promise<unknown>;
}

/**
 * A policy's map with the same calls whoever the app runs as: direct when the
 * pinned map can be opened, otherwise through syrupd, which checks that the
 * caller's user owns the policy.
 */
export class PolicyMap<K extends TypeSpec, V extends TypeSpec> {
  private readonly k: Codec<Decoded<K>>;
  private readonly v: Codec<Decoded<V>>;
  private readonly cpus = possibleCpus();

  private constructor(
    readonly description: MapDescription,
    private readonly policy: number,
    private readonly transport: DaemonMapTransport,
    readonly direct: PinnedMap<K, V> | null,
    types: MapTypes<K, V>,
  ) {
    this.k = codecFor(types.key, 'key');
    this.v = codecFor(types.value, 'value');
    checkSizes(description.name, description.keySize, description.valueSize, this.k, this.v);
  }

  static open<K extends TypeSpec, V extends TypeSpec>(
    description: MapDescription,
    policy: number,
    transport: DaemonMapTransport,
    types: MapTypes<K, V>,
  ): PolicyMap<K, V> {
    let direct: PinnedMap<K, V> | null = null;
    try {
      direct = new PinnedMap(description.path, types);
    } catch (err) {
      if (!(err instanceof SyrupError) || err.code !== 'EPERM') throw err;
    }
    return new PolicyMap(description, policy, transport, direct, types);
  }

  get via(): 'pin' | 'syrupd' {
    return this.direct ? 'pin' : 'syrupd';
  }

  private args(extra: Record<string, unknown>): Record<string, unknown> {
    return { policy: this.policy, map: this.description.name, ...extra };
  }

  async get(key: Decoded<K>): Promise<Decoded<V> | undefined> {
    if (this.direct) return this.direct.get(key);
    if (isPerCpu(this.description.type))
      throw new SyrupError('EBADREQUEST', `map ${this.description.name} is per-CPU; use getPerCpu()`);
    const r = (await this.transport.request('mapGet', this.args({ key: this.k.encode(key).toString('base64') }))) as { value: string | null };
    return r.value === null ? undefined : this.v.decode(Buffer.from(r.value, 'base64'));
  }

  async getPerCpu(key: Decoded<K>): Promise<Decoded<V>[] | undefined> {
    if (this.direct) return this.direct.getPerCpu(key);
    const r = (await this.transport.request('mapGet', this.args({ key: this.k.encode(key).toString('base64') }))) as { value: string | null };
    if (r.value === null) return undefined;
    const b = Buffer.from(r.value, 'base64');
    return isPerCpu(this.description.type) ? splitPerCpu(b, this.v, this.description.valueSize) : [this.v.decode(b)];
  }

  async set(key: Decoded<K>, value: Decoded<V> | Decoded<V>[]): Promise<void> {
    if (this.direct) return this.direct.set(key, value);
    const blob = isPerCpu(this.description.type)
      ? joinPerCpu(value, this.v, this.description.valueSize, this.cpus)
      : this.v.encode(value as Decoded<V>);
    await this.transport.request('mapSet', this.args({ key: this.k.encode(key).toString('base64'), value: blob.toString('base64') }));
  }

  async delete(key: Decoded<K>): Promise<boolean> {
    if (this.direct) return this.direct.delete(key);
    const r = (await this.transport.request('mapDelete', this.args({ key: this.k.encode(key).toString('base64') }))) as { deleted: boolean };
    return r.deleted;
  }

  async keys(): Promise<Decoded<K>[]> {
    if (this.direct) return this.direct.keys();
    const r = (await this.transport.request('mapKeys', this.args({}))) as { keys: string[] };
    return r.keys.map((k) => this.k.decode(Buffer.from(k, 'base64')));
  }

  close(): void {
    this.direct?.close();
  }
}
