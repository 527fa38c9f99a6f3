// native.ts: builds the benchmark's C programs (kv_server, loadgen) with the system compiler into the results directory.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface NetBenchBinaries {
  server: string;
  loadgen: string;
}

export function buildBinaries(outDir: string): NetBenchBinaries {
  const bin = path.join(outDir, 'bin');
  mkdirSync(bin, { recursive: true });
  const server = path.join(bin, 'kv_server');
  const loadgen = path.join(bin, 'loadgen');
  execFileSync('cc', ['-O2', '-Wall', '-pthread', '-o', server, path.join(here, 'kv_server.c')], { stdio: 'inherit' });
  execFileSync('cc', ['-O2', '-Wall', '-pthread', '-o', loadgen, path.join(here, 'loadgen.c'), '-lm'], { stdio: 'inherit' });
  return { server, loadgen };
}
