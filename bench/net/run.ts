// run.ts: `npm run bench:net`: the Syrup socket-select experiment (kernel hash vs round robin vs least loaded) plus per-hook costs, written to docs/benchmarks-net.md.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../net/addon.ts';
import { SyrupClient } from '../../net/client.ts';
import { startSyrupdProcess } from '../../net/syrupd-process.ts';
import { measureHookCosts, type HookCost } from './hook-cost.ts';
import { replaceSection } from '../doc-section.ts';
import { buildBinaries } from './native.ts';
import { BEGIN as NGINX_BEGIN, END as NGINX_END } from './nginx.ts';
import { NetBenchOptionError, parseNetBenchArgs, resolveNetBenchOptions, USAGE } from './options.ts';
import { renderP99Plot } from './plot.ts';
import { renderReport, type NetBenchReport } from './report.ts';
import { capacity, runSweep, type SweepResult } from './sweep.ts';

/** Fraction of all cpus busy over `ms`, from /proc/stat (other benchmarks distort this one). */
async function cpuBusy(ms: number): Promise<number> {
  const read = (): number[] => readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  const d = b.map((v, i) => v - a[i]!);
  const total = d.reduce((x, y) => x + y, 0);
  const idle = d[3]! + d[4]!;
  return total > 0 ? 1 - idle / total : 0;
}

/** Wait (up to a minute) for other work to finish; returns the busy fraction seen last. */
async function waitForQuiet(log: (m: string) => void): Promise<number> {
  let busy = await cpuBusy(1000);
  for (let i = 0; i < 12 && busy > 0.2; i++) {
    log(`waiting for a quiet machine (${(busy * 100).toFixed(0)}% busy)`);
    await new Promise((r) => setTimeout(r, 4000));
    busy = await cpuBusy(1000);
  }
  return busy;
}

async function main(): Promise<number> {
  let o;
  try {
    const given = parseNetBenchArgs(process.argv.slice(2));
    if (given === 'help') {
      console.log(USAGE);
      return 0;
    }
    o = resolveNetBenchOptions(given);
  } catch (err) {
    if (err instanceof NetBenchOptionError) {
      console.error(`bench:net: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (process.getuid?.() !== 0) {
    console.error('bench:net: must run as root (it starts syrupd and creates a network namespace)');
    return 2;
  }
  const log = (m: string): void => console.error(`[bench:net] ${m}`);
  const out = path.resolve(repoRoot, o.out);
  mkdirSync(out, { recursive: true });
  const bins = buildBinaries(out);
  const busyAtStart = await waitForQuiet(log);
  const daemon = await startSyrupdProcess({ logLevel: 'warn' });
  let client: SyrupClient | null = null;
  try {
    client = await SyrupClient.connect({ socketPath: daemon.socketPath });
    const sweeps: SweepResult[] = [];
    let port = 19000;
    for (const p of o.policies) sweeps.push(await runSweep(o, bins, client, p, port++, log));
    const realSweeps: SweepResult[] = [];
    if (o.real) for (const p of o.policies) realSweeps.push(await runSweep(o, bins, client, p, port++, log, 'real'));
    const hookCosts: HookCost[] = o.hookCost ? await measureHookCosts(o, bins, client, log) : [];
    const meanServiceUs = ((o.serviceUs[0] + o.serviceUs[1]) / 2) * o.scale;
    const report: NetBenchReport = {
      date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
      machine: { cpus: os.cpus().length, kernel: os.release(), busyAtStart },
      options: o,
      capacity: capacity(o),
      meanServiceUs,
      sloUs: o.sloServiceTimes * meanServiceUs,
      sweeps,
      realSweeps,
      hookCosts,
    };
    const raw = path.join(out, 'latest.json');
    writeFileSync(raw, JSON.stringify(report, null, 2));
    const md = renderReport(report, 'benchmarks-net-p99.svg', path.relative(repoRoot, raw));
    if (o.docs) {
      // The file is this benchmark's, but for the nginx section (bench/net/nginx.ts), which is kept as it is.
      const doc = path.join(repoRoot, 'docs', 'benchmarks-net.md');
      const old = existsSync(doc) ? readFileSync(doc, 'utf8') : '';
      const b = old.indexOf(NGINX_BEGIN);
      const e = old.indexOf(NGINX_END);
      writeFileSync(doc, md);
      if (b >= 0 && e > b) replaceSection(doc, NGINX_BEGIN, NGINX_END, old.slice(b + NGINX_BEGIN.length, e));
      writeFileSync(path.join(repoRoot, 'docs', 'benchmarks-net-p99.svg'), renderP99Plot(sweeps, report.sloUs, report.capacity));
      log('wrote docs/benchmarks-net.md and docs/benchmarks-net-p99.svg');
    }
    console.log(md);
    return 0;
  } finally {
    await client?.close();
    await daemon.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
