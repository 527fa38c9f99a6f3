// options.ts: syrupd's options object: documented defaults and validation that names the offending field.
import path from 'node:path';
import { DEFAULT_MAX_MESSAGE_BYTES } from './framing.ts';

export interface SyrupdOptions {
  /** Unix socket apps connect to. Default /run/syrup/syrupd.sock. */
  socketPath: string;
  /** Directory under the BPF filesystem for pinned maps, one subdirectory per app user. Default /sys/fs/bpf/syrup-net. */
  pinRoot: string;
  /** Compiled-policy cache (content-hashed objects). Default /var/cache/syrup-net. */
  cacheDir: string;
  /** clang binary used to compile policies. Default 'clang'. */
  clang: string;
  /** Longest request line accepted, in bytes. Default 1 MiB. */
  maxMessageBytes: number;
  /** A policy compile taking longer than this is killed. Default 30000 ms. */
  compileTimeoutMs: number;
}

export const SYRUPD_DEFAULTS: SyrupdOptions = {
  socketPath: '/run/syrup/syrupd.sock',
  pinRoot: '/sys/fs/bpf/syrup-net',
  cacheDir: '/var/cache/syrup-net',
  clang: 'clang',
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  compileTimeoutMs: 30_000,
};

export class OptionsError extends Error {
  readonly code = 'EINVAL';
}

/** Fill defaults and validate; throws OptionsError naming the field (`options.pinRoot must be ...`). */
export function resolveSyrupdOptions(partial: Partial<SyrupdOptions> = {}): SyrupdOptions {
  const o: SyrupdOptions = { ...SYRUPD_DEFAULTS, ...partial };
  for (const field of ['socketPath', 'pinRoot', 'cacheDir'] as const) {
    const v = o[field];
    if (typeof v !== 'string' || !path.isAbsolute(v)) throw new OptionsError(`options.${field} must be an absolute path`);
  }
  if (Buffer.byteLength(o.socketPath) > 107) throw new OptionsError('options.socketPath must be at most 107 bytes (sun_path)');
  if (!/^\/sys\/fs\/bpf\/./.test(o.pinRoot)) throw new OptionsError('options.pinRoot must be a directory below /sys/fs/bpf/');
  if (typeof o.clang !== 'string' || o.clang.length === 0) throw new OptionsError('options.clang must be a command name or path');
  if (!Number.isInteger(o.maxMessageBytes) || o.maxMessageBytes < 1024 || o.maxMessageBytes > 64 << 20)
    throw new OptionsError('options.maxMessageBytes must be an integer from 1024 to 67108864');
  if (!Number.isInteger(o.compileTimeoutMs) || o.compileTimeoutMs < 100)
    throw new OptionsError('options.compileTimeoutMs must be an integer of at least 100');
  return o;
}
