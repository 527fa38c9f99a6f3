// c-fixture.ts: builds a C test program from test/fixtures against the shim's own sources, into a directory removed when the test ends.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './live.ts';

interface Teardown {
  teardown(fn: () => void): void;
}

/**
 * Compile test/fixtures/NAME.c with the given kernel-shim sources, built as
 * they are for the addon (clang: the BPF build needs it anyway). Returns the
 * binary's path.
 */
export function buildCFixture(t: Teardown, name: string, shimSources: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `syrup-${name}-`));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, name);
  execFileSync(process.env.CC ?? 'clang', [
    '-O2', '-pthread', '-D_GNU_SOURCE', '-Ikernel-shim', '-Ikernel-shim/build',
    `test/fixtures/${name}.c`, ...shimSources.map((s) => `kernel-shim/${s}`),
    '-lbpf', '-lelf', '-lz', '-o', bin,
  ], { cwd: ROOT, stdio: 'pipe' });
  return bin;
}
