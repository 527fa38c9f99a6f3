// sweep.ts: one configuration of the key-value benchmark (kernel hash or a socket_select policy) across the offered loads.
import { execFile, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { netAddon, repoRoot } from '../../net/addon.ts';
import type { Policy, SyrupClient } from '../../net/client.ts';
import type { PolicyMap } from '../../net/maps.ts';
import type { NetBenchBinaries } from './native.ts';
import type { BenchPolicy, NetBenchOptions } from './options.ts';

/** One loadgen run; latencies in microseconds (server-side: arrival at the socket to modelled completion). */
export interface LoadPoint {
  load: number;
  offered: number;
  achieved: number;
  sent: number;
  received: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  netP50: number;
  netP99: number;
  perWorker: number[];
  flowWorker: number[];
}

export interface SweepResult {
  policy: BenchPolicy;
  /** modelled: each worker a modelled dedicated core; real: the workers really serve, sharing one cpu. */
  mode: SweepMode;
  points: LoadPoint[];
  /** least_loaded: how late (real time) the server's load decrements ran after the modelled completions. */
  decrementLag?: { avgUs: number; maxUs: number };
}

/** Run loadgen once; killed if it outlives its own duration by 30 s (a starved run must not hang the benchmark). */
export function runLoadgen(bin: string, args: string[], durationMs: number, netns?: string): Promise<LoadPoint> {
  const [cmd, argv] = netns ? ['ip', ['netns', 'exec', netns, bin, ...args]] : [bin, args];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { maxBuffer: 16 << 20, timeout: durationMs + 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`loadgen failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as LoadPoint);
    });
  });
}

export interface ServerHandle {
  /** SIGTERM; resolves with the server's closing JSON line. */
  stop(): Promise<{ served: number[]; decrementLagAvgUs: number; decrementLagMaxUs: number } | null>;
}

/** Start kv_server on inherited socket fds (3..) and an optional load-map fd after them. */
export async function startServer(bin: string, fds: number[], args: string[], loadFd?: number): Promise<ServerHandle> {
  const extra = loadFd === undefined ? [] : ['--load-fd', String(3 + fds.length)];
  const proc = spawn(bin, ['--workers', String(fds.length), ...args, ...extra], {
    stdio: ['ignore', 'pipe', 'inherit', ...fds, ...(loadFd === undefined ? [] : [loadFd])],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('ready\n')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`kv_server exited (${code})`)));
  });
  return {
    stop: () =>
      new Promise((resolve) => {
        proc.once('exit', () => {
          const last = out.trim().split('\n').pop() ?? '';
          resolve(last.startsWith('{') ? JSON.parse(last) : null);
        });
        proc.kill('SIGTERM');
      }),
  };
}

export type SweepMode = 'modelled' | 'real';

/** Requests/s the workers absorb: one modelled core each, or (real) the one cpu they all share. */
export function capacity(o: NetBenchOptions, mode: SweepMode = 'modelled'): number {
  const meanUs = ((o.serviceUs[0] + o.serviceUs[1]) / 2) * o.scale;
  return ((mode === 'real' ? 1 : o.workers) * 1e6) / meanUs;
}

export async function runSweep(
  o: NetBenchOptions,
  bins: NetBenchBinaries,
  client: SyrupClient,
  policy: BenchPolicy,
  port: number,
  progress: (msg: string) => void,
  mode: SweepMode = 'modelled',
): Promise<SweepResult> {
  const fds = Array.from({ length: o.workers }, () => netAddon.reuseportSocket('udp', 4, '127.0.0.1', port, 0));
  let deployed: Policy | null = null;
  let server: ServerHandle | null = null;
  try {
    let loadFd: number | undefined;
    let loadMap: PolicyMap<'u32', 'u64'> | null = null;
    if (policy !== 'hash') {
      deployed = await client.deployPolicy({
        file: path.join(repoRoot, 'net', 'policies', `${policy}.c`),
        hook: 'socket_select',
        port,
        executors: fds,
      });
      if (policy === 'least_loaded') {
        loadMap = deployed.openMap('load', { key: 'u32', value: 'u64' });
        loadFd = loadMap.direct!.mapFd;
      }
    }
    const cpus = os.cpus().length;
    const serverCpu = (o.senderCpu + 1) % cpus;
    const ns = (us: number): string => String(Math.round(us * o.scale * 1000));
    server = await startServer(bins.server, fds, ['--cpu', String(serverCpu), '--service-ns', ns(o.serviceUs[0]), ns(o.serviceUs[1]), '--real', mode === 'real' ? '1' : '0'], loadFd);
    const points: LoadPoint[] = [];
    for (const load of o.loads) {
      const rate = Math.round(load * capacity(o, mode));
      const p = await runLoadgen(bins.loadgen, [
        '--port', String(port),
        '--flows', String(o.flows),
        '--rate', String(rate),
        '--duration-ms', String(o.durationMs + o.warmupMs),
        '--warmup-ms', String(o.warmupMs),
        '--sender-cpu', String(o.senderCpu),
        '--receiver-cpu', String(serverCpu),
        '--seed', String(Math.round(load * 1000)),
        // Same 50 source ports in every run: the hash sees one fixed set of 5-tuples.
        '--src-port-base', '30000',
      ], o.durationMs + o.warmupMs);
      p.load = load;
      points.push(p);
      const left = loadMap ? ` load map after: ${(await Promise.all([...Array(o.workers).keys()].map((i) => loadMap!.get(i)))).join(' ')}` : '';
      progress(`${mode === 'real' ? 'real ' : ''}${policy.padEnd(12)} load ${load.toFixed(2)}  ${Math.round(p.achieved)} req/s  p99 ${p.p99.toFixed(0)} us  per worker ${p.perWorker.join(' ')}${left}`);
    }
    const summary = await server.stop();
    server = null;
    const result: SweepResult = { policy, mode, points };
    if (loadFd !== undefined && summary) result.decrementLag = { avgUs: summary.decrementLagAvgUs, maxUs: summary.decrementLagMaxUs };
    return result;
  } finally {
    await server?.stop();
    await deployed?.remove();
    for (const fd of fds) netAddon.closeFd(fd);
  }
}
