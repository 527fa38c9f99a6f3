// nginx.ts: `npm run bench:nginx`: a real nginx (reuseport workers) under wrk from a network namespace, with the kernel's hash and with socket_select policies deployed onto it by pid.
/*
 * For each policy: a fresh nginx (worker_processes N, `listen ... reuseport`,
 * each request logged with the serving worker's pid and connection number),
 * the policy deployed onto its master with `deploy --pid` (none for the
 * kernel's hash), then wrk from inside a network namespace for the duration,
 * keep-alive connections. Reported: wrk's own requests/s and latency
 * distribution, and how the connections spread over the workers (from
 * nginx's access log). Socket selection happens once per connection (at the
 * SYN), so the spread is the number to look at; the latency follows from it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../../net/addon.ts';
import { SyrupClient } from '../../net/client.ts';
import type { PolicyDescription } from '../../net/protocol.ts';
import { startSyrupdProcess } from '../../net/syrupd-process.ts';
import { startNginx } from '../../test/helpers/nginx.ts';
import { createNetns, httpGets, type Teardown } from '../../test/net-harness.ts';
import { replaceSection } from '../doc-section.ts';

export const BEGIN = '<!-- nginx-bench:begin -->';
export const END = '<!-- nginx-bench:end -->';

interface Options {
  policies: string[];
  workers: number;
  connections: number;
  threads: number;
  durationS: number;
  docs: boolean;
}

export interface WrkResult {
  requestsPerSec: number;
  requests: number;
  /** Latency percentiles from wrk --latency, microseconds. */
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  errors: number;
}

const UNIT_US: Record<string, number> = { us: 1, ms: 1000, s: 1e6 };

/** wrk's summary: "Requests/sec:", the total line, and the --latency distribution ("50%  1.23ms"). */
export function parseWrk(out: string): WrkResult {
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    return m ? Number(m[1]) * UNIT_US[m[2]!]! : NaN;
  };
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  const total = /^\s+(\d+) requests in/m.exec(out);
  const errs = /Non-2xx or 3xx responses: (\d+)|Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = errs ? errs.slice(1).filter(Boolean).reduce((a, b) => a + Number(b), 0) : 0;
  if (!rps || !total) throw new Error(`wrk printed no summary:\n${out.slice(-800)}`);
  return { requestsPerSec: Number(rps[1]), requests: Number(total[1]), p50: pct('50'), p75: pct('75'), p90: pct('90'), p99: pct('99'), errors };
}

function options(argv: string[]): Options {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      policies: { type: 'string' }, workers: { type: 'string' }, connections: { type: 'string' }, threads: { type: 'string' },
      duration: { type: 'string' }, 'no-docs': { type: 'boolean' },
    },
  });
  const n = (f: string, s: string | undefined, d: number) => {
    if (s === undefined) return d;
    if (!/^\d+$/.test(s) || Number(s) < 1) throw new Error(`--${f} must be a positive integer (got ${JSON.stringify(s)})`);
    return Number(s);
  };
  const policies = (v.policies ?? 'kernel,round_robin').split(',').filter(Boolean);
  for (const p of policies) if (p !== 'kernel' && !existsSync(path.join(repoRoot, 'net/policies', `${p}.c`))) throw new Error(`--policies: no net/policies/${p}.c`);
  return { policies, workers: n('workers', v.workers, 2), connections: n('connections', v.connections, 16), threads: n('threads', v.threads, 1), durationS: n('duration', v.duration, 5), docs: !v['no-docs'] };
}

function runWrk(ns: string, url: string, o: Options): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', ns, 'wrk', `-t${o.threads}`, `-c${o.connections}`, `-d${o.durationS}s`, '--latency', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}:\n${out}`))));
  });
}

interface Row {
  policy: string;
  wrk: WrkResult;
  /** Connections (and requests) per worker, in worker order. */
  connections: number[];
  requests: number[];
  /** The fixed flows (the ones the kernel hash put on one worker), per worker. */
  flows: number[];
}

/** Source ports of the flows probed to find a set the kernel hash piles on one worker. */
const PROBE = Array.from({ length: 32 }, (_, i) => 43000 + i);
const FLOWS = 8;

async function main(): Promise<number> {
  const o = options(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    console.error('bench:nginx: must run as root (it starts syrupd and nginx and creates a network namespace)');
    return 2;
  }
  const undo: (() => unknown)[] = [];
  const t: Teardown = { teardown: (fn) => void undo.push(fn) };
  const daemon = await startSyrupdProcess({ logLevel: 'warn' });
  const rows: Row[] = [];
  try {
    const client = await SyrupClient.connect({ socketPath: daemon.socketPath });
    undo.push(async () => {
      await client.close();
    });
    const ns = createNetns(t);
    let port = 18100;
    let flows: number[] = [];
    for (const policy of o.policies) {
      const mine: (() => void | Promise<void>)[] = [];
      const nginx = await startNginx({ teardown: (fn) => void mine.push(fn) }, ns.hostAddr, ++port, o.workers);
      try {
        if (policy !== 'kernel') {
          const file = path.join(repoRoot, 'net/policies', `${policy}.c`);
          const d = (await client.request('deploy', { file, source: readFileSync(file, 'utf8'), hook: 'socket_select', port, protocol: 'tcp', target: nginx.master })) as PolicyDescription;
          console.error(`[bench:nginx] ${policy}: policy ${d.id} on nginx ${nginx.master}, ${d.executors} sockets`);
        }
        // The same 5-tuples in every run: chosen once (the first policy's run) as those the hash put on its busiest worker.
        if (flows.length === 0) {
          await httpGets(ns, ns.hostAddr, port, PROBE);
          const byPort = nginx.workerOfPort();
          const busiest = [...nginx.requestsByWorker().entries()].sort((a, b) => b[1] - a[1])[0]![0];
          flows = PROBE.filter((p) => byPort.get(p) === busiest).slice(0, FLOWS);
        }
        await httpGets(ns, ns.hostAddr, port, flows);
        const served = nginx.workerOfPort();
        const flowSpread = nginx.workers.map((w) => flows.filter((p) => served.get(p) === w).length);
        const wrk = parseWrk(await runWrk(ns.name, `http://${ns.hostAddr}:${port}/`, o));
        const conns = nginx.connectionsByWorker();
        const reqs = nginx.requestsByWorker();
        rows.push({ policy, wrk, flows: flowSpread, connections: nginx.workers.map((w) => conns.get(w) ?? 0), requests: nginx.workers.map((w) => reqs.get(w) ?? 0) });
        console.error(`[bench:nginx] ${policy}: ${wrk.requestsPerSec} req/s, p99 ${wrk.p99} us, connections per worker ${rows[rows.length - 1]!.connections.join('/')}`);
      } finally {
        for (const fn of mine.reverse()) await fn();
      }
    }
  } finally {
    for (const fn of undo.reverse()) await fn();
    await daemon.stop();
  }
  const md = render(o, rows);
  console.log(md);
  if (o.docs) {
    replaceSection(path.join(repoRoot, 'docs/benchmarks-net.md'), BEGIN, END, md);
    console.error('[bench:nginx] wrote the nginx section of docs/benchmarks-net.md');
  }
  return 0;
}

/** What a tool says its version is (nginx -v writes to stderr). */
function version(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0]?.replace(/^nginx version: /, '') || 'unknown';
}

export function render(o: Options, rows: Row[]): string {
  const us = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
  const lines = [
    '## nginx under wrk: the kernel hash against socket_select policies deployed by pid',
    '',
    `${version('nginx', ['-v'])}, ${o.workers} workers, \`listen ... reuseport\`, each answering \`return 200\`; ` +
      `${version('dpkg-query', ['-W', '-f=wrk ${Version}', 'wrk'])} from a network namespace over a veth, ${o.threads} thread, ${o.connections} keep-alive connections, ${o.durationS} s per policy, ` +
      `a fresh nginx for each; nginx closes a keep-alive connection after 1,000 requests (its default), so wrk reconnects and each run selects a socket for a few hundred connections. Policies were put on nginx's own SO_REUSEPORT group with \`syrupctl deploy --pid\` (nginx knows nothing of Syrup). ` +
      `Generated ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench:nginx\`.`,
    '',
    `The same ${FLOWS} flows (fixed source ports, one request each; chosen in the first run as flows the kernel hash put on one worker) and wrk's connections, per worker, from nginx's access log (\`$pid\`, \`$connection\`):`,
    '',
    '| policy | same flows per worker | wrk connections per worker | requests per worker | requests/s | p50 us | p75 us | p90 us | p99 us | errors |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.policy === 'kernel' ? 'kernel hash' : r.policy} | ${r.flows.join(' / ')} | ${r.connections.join(' / ')} | ${r.requests.join(' / ')} | ${Math.round(r.wrk.requestsPerSec).toLocaleString('en-US')} | ${us(r.wrk.p50)} | ${us(r.wrk.p75)} | ${us(r.wrk.p90)} | ${us(r.wrk.p99)} | ${r.wrk.errors} |`),
    '',
    'The fixed flows show the difference: the kernel hashes a 5-tuple to a socket, so flows that collide stay collided, while ' +
      'round robin spreads them whatever their hash. wrk\'s connections come from ever-new ephemeral ports, which the hash spreads ' +
      'evenly on average, so the two policies look alike there. What 2 vCPUs can show: the spread. A worker that gets more connections serves more of the requests, and with wrk, ' +
      'both nginx workers and the veth\'s softirq work sharing two cpus, the request rate is the machine\'s, not a worker\'s: ' +
      'an even spread cannot raise throughput here, and a latency gap between policies is the queueing on the busier worker ' +
      'within one run\'s noise. On a machine with a cpu per worker the uneven hash would leave a worker idle while another queues.',
  ];
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  main().then((c) => process.exit(c), (e: unknown) => {
    console.error(`bench:nginx: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
