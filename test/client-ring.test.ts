// client-ring.test.ts: the client ring (kernel-shim/region.c) delivers every message, in order per producer, with producers racing on both cpus.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

t.test('concurrent producers: nothing lost, nothing stuck, per-producer order kept', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syrup-cring-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'cring-stress');
  // The shim's own region.c, built as it is for the addon (clang: the BPF build needs it anyway).
  execFileSync(process.env.CC ?? 'clang', [
    '-O2', '-pthread', '-D_GNU_SOURCE', '-Ikernel-shim', '-Ikernel-shim/build',
    'test/fixtures/cring-stress.c', 'kernel-shim/region.c', '-lbpf', '-o', bin,
  ], { cwd: ROOT, stdio: 'pipe' });
  // A producer whose tail CAS lost to a helping producer used to publish its
  // cell under the wrong seqnum, and the ring stopped (the bench's "server is
  // stuck"): the program then reports where it is stuck and exits 1.
  for (const producers of [2, 4, 8]) {
    const r = spawnSync(bin, [String(producers), String(Math.floor(1_200_000 / producers))], { encoding: 'utf8', timeout: 60_000 });
    t.equal(r.status, 0, `${producers} producers: ${(r.stdout + r.stderr).trim()}`);
  }
});
