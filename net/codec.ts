// codec.ts: typed encoding of BPF map keys and values (scalars, C structs with natural alignment, raw bytes) for the maps API.

export type ScalarType = 'u8' | 'u16' | 'u32' | 'u64' | 'i8' | 'i16' | 'i32' | 'i64';
export type TypeSpec = ScalarType | { struct: Record<string, ScalarType> } | { bytes: number };

type Scalar<T extends ScalarType> = T extends 'u64' | 'i64' ? bigint : number;
/** The JS type a TypeSpec decodes to: number, bigint (64-bit), an object for structs, a Buffer for raw bytes. */
export type Decoded<T extends TypeSpec> = T extends ScalarType
  ? Scalar<T>
  : T extends { struct: infer S extends Record<string, ScalarType> }
    ? { [K in keyof S]: Scalar<S[K]> }
    : Buffer;

const SIZES: Record<ScalarType, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, u64: 8, i64: 8 };

export interface Codec<V> {
  size: number;
  encode(v: V): Buffer;
  decode(b: Buffer, offset?: number): V;
}

function scalarWrite(b: Buffer, t: ScalarType, off: number, v: number | bigint, field: string): void {
  if ((t === 'u64' || t === 'i64') !== (typeof v === 'bigint'))
    throw new TypeError(`${field} must be a ${t === 'u64' || t === 'i64' ? 'bigint' : 'number'} (type ${t})`);
  try {
    switch (t) {
      case 'u8': b.writeUInt8(v as number, off); break;
      case 'i8': b.writeInt8(v as number, off); break;
      case 'u16': b.writeUInt16LE(v as number, off); break;
      case 'i16': b.writeInt16LE(v as number, off); break;
      case 'u32': b.writeUInt32LE(v as number, off); break;
      case 'i32': b.writeInt32LE(v as number, off); break;
      case 'u64': b.writeBigUInt64LE(v as bigint, off); break;
      case 'i64': b.writeBigInt64LE(v as bigint, off); break;
    }
  } catch (err) {
    throw new RangeError(`${field} is out of range for ${t}: ${(err as Error).message}`);
  }
}

function scalarRead(b: Buffer, t: ScalarType, off: number): number | bigint {
  switch (t) {
    case 'u8': return b.readUInt8(off);
    case 'i8': return b.readInt8(off);
    case 'u16': return b.readUInt16LE(off);
    case 'i16': return b.readInt16LE(off);
    case 'u32': return b.readUInt32LE(off);
    case 'i32': return b.readInt32LE(off);
    case 'u64': return b.readBigUInt64LE(off);
    case 'i64': return b.readBigInt64LE(off);
  }
}

/** Build the codec for a TypeSpec. `what` names it in errors (e.g. 'key'). */
export function codecFor<T extends TypeSpec>(spec: T, what: string): Codec<Decoded<T>> {
  const s: TypeSpec = spec;
  if (typeof s === 'string') {
    if (!(s in SIZES)) throw new TypeError(`${what} type must be one of ${Object.keys(SIZES).join(', ')}`);
    const size = SIZES[s];
    return {
      size,
      encode: (v) => {
        const b = Buffer.alloc(size);
        scalarWrite(b, s, 0, v as number | bigint, what);
        return b;
      },
      decode: (b, off = 0) => scalarRead(b, s, off) as Decoded<T>,
    };
  }
  if ('bytes' in s) {
    const size = s.bytes;
    if (!Number.isInteger(size) || size <= 0) throw new TypeError(`${what}.bytes must be a positive integer`);
    return {
      size,
      encode: (v) => {
        const b = v as Buffer;
        if (!Buffer.isBuffer(b) || b.length !== size) throw new TypeError(`${what} must be a Buffer of ${size} bytes`);
        return b;
      },
      decode: (b, off = 0) => Buffer.from(b.subarray(off, off + size)) as Decoded<T>,
    };
  }
  // C layout: each field at a multiple of its size, the whole padded to the largest alignment.
  const fields: { name: string; type: ScalarType; offset: number }[] = [];
  let off = 0;
  let align = 1;
  for (const [name, type] of Object.entries(s.struct)) {
    const s = SIZES[type];
    if (!s) throw new TypeError(`${what}.struct.${name} type must be one of ${Object.keys(SIZES).join(', ')}`);
    off = Math.ceil(off / s) * s;
    fields.push({ name, type, offset: off });
    off += s;
    align = Math.max(align, s);
  }
  const size = Math.ceil(off / align) * align;
  return {
    size,
    encode: (v) => {
      const b = Buffer.alloc(size);
      const o = v as Record<string, number | bigint>;
      for (const f of fields) {
        if (!(f.name in o)) throw new TypeError(`${what}.${f.name} is missing`);
        scalarWrite(b, f.type, f.offset, o[f.name]!, `${what}.${f.name}`);
      }
      return b;
    },
    decode: (b, base = 0) => {
      const o: Record<string, number | bigint> = {};
      for (const f of fields) o[f.name] = scalarRead(b, f.type, base + f.offset);
      return o as Decoded<T>;
    },
  };
}
