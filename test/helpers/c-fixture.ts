// c-fixture.ts: builds a C test program (against the shim's sources, the public client library, or nothing of Syrup's), into a directory removed when the test ends.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './live.ts';

interface Teardown {
  teardown(fn: () => void): void;
}

/** Compile with clang (the BPF build needs it anyway) and `args` (sources and flags, relative to the repo root). Returns the binary's path. */
export function buildC(t: Teardown, name: string, args: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `syrup-${name}-`));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, name);
  execFileSync(process.env.CC ?? 'clang', ['-O2', '-pthread', '-D_GNU_SOURCE', ...args, '-o', bin], { cwd: ROOT, stdio: 'pipe' });
  return bin;
}

/** test/fixtures/NAME.c with the given kernel-shim sources, built as they are for the addon. */
export function buildCFixture(t: Teardown, name: string, shimSources: string[]): string {
  return buildC(t, name, [
    '-Ikernel-shim', '-Ikernel-shim/build', `test/fixtures/${name}.c`, ...shimSources.map((s) => `kernel-shim/${s}`),
    '-lbpf', '-lelf', '-lz',
  ]);
}

/** A program linked against the public client library (client/include/syrup_client.h, client/build/libsyrup.so), as a service would be. */
export function buildAgainstLibsyrup(t: Teardown, name: string, source: string): string {
  return buildC(t, name, ['-Iclient/include', source, '-Lclient/build', '-lsyrup', `-Wl,-rpath,${path.join(ROOT, 'client/build')}`]);
}
