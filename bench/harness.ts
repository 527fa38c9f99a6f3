// harness.ts: runs the sweep: every configuration over every load, Linux first, then evaluates and writes results.json, table.md, plot.svg and the docs.
import { MultiBar, Presets } from 'cli-progress';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus as osCpus, hostname, release } from 'node:os';
import { join, resolve } from 'node:path';
import { AgentProcess } from './agent-process.ts';
import { Isolation } from '../agent/isolation.ts';
import { resolveConfigs, REPO_ROOT, type ConfigSpec } from './configs.ts';
import { displayPath, docTarget, regenerateDocs, renderSection } from './docs.ts';
import { collapsed, emptyConfig, evaluate, meetsSlo, pointAt, saturation, sameLoad } from './evaluate.ts';
import { int, ratio } from './format.ts';
import { interference, sampleCpu, waitForQuiet } from './interference.ts';
import { agentRunSettings, availableCpus, defaultWorkers, describeLayout, planLayout, type AgentRunSettings, type Layout } from './layout.ts';
import type { BenchOptions } from './options.ts';
import { parseCpuList } from './pin.ts';
import { renderPlot } from './plot.ts';
import type { RequestMix, ServerConfig } from './protocol.ts';
import type { Calibration } from './calibrate.ts';
import { SCHEMA, type BenchReport, type ConfigResult, type PointResult, type RepeatSummary } from './results.ts';
import { SERVER_V8_FLAGS, ServerProcess } from './server-process.ts';
import { NativeServerProcess, prepareRocksdb, rocksdbMix, type RocksdbRun } from './rocksdb/native-server.ts';
import { renderTables } from './table.ts';
import { runDelay, sampleRunDelay } from './run-delay.ts';
import { buildIdleSpinner, IdleSpinners } from './idle-spinner.ts';

/** Sweep points as fractions of the worker cpus' nominal capacity: dense at the low end, where the default scheduler saturates. */
const FULL_FRACTIONS = [0.01, 0.02, 0.03, 0.04, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const QUICK_FRACTIONS = [0.02, 0.1];
const STORE_KEYS = 1 << 17;
/** Fewest measured requests per window for a p99 worth reporting (the 1 % tail is then >= 2 requests). */
const MIN_REQUESTS = 200;
/** Foreign cpu use (in cpus) from which a point is flagged as measured on a busy machine. */
export const BUSY_MACHINE = 0.05;

/** Two significant digits: loads people can read and retype. */
function roundRate(x: number): number {
  const mag = 10 ** Math.max(0, Math.floor(Math.log10(x)) - 1);
  return Math.max(1, Math.round(x / mag) * mag);
}

export function defaultLoads(nominal: number, quick: boolean): number[] {
  return [...new Set((quick ? QUICK_FRACTIONS : FULL_FRACTIONS).map((f) => roundRate(f * nominal)))];
}

export function meanServiceUs(mix: RequestMix): number {
  return (1 - mix.rangeFrac) * (mix.getUs + mix.getExpUs) + mix.rangeFrac * mix.rangeUs;
}

interface Output {
  log(line: string): void;
  advance(by: number, what: string): void;
  stop(): void;
}

function makeOutput(total: number, progress: boolean, print: (line: string) => void): Output {
  if (!progress) return { log: print, advance: () => {}, stop: () => {} };
  const multi = new MultiBar(
    { format: 'bench [{bar}] {value}/{total} loads | {what}', hideCursor: true, clearOnComplete: true, stream: process.stderr },
    Presets.shades_classic,
  );
  const bar = multi.create(total, 0, { what: 'starting' });
  return {
    log: (l) => multi.log(l + '\n'),
    advance: (by, what) => bar.increment(by, { what }),
    stop: () => multi.stop(),
  };
}

/** Waits (up to --quiet-wait) for other processes to leave the benchmark's cpus alone; false if they did not. */
async function quiet(ctx: Ctx, pids: number[], what: string): Promise<boolean> {
  if (ctx.opts.quietWait <= 0) return true;
  const q = await waitForQuiet(ctx.layout.cpus, pids, BUSY_MACHINE, ctx.opts.quietWait);
  if (q.waitedS > 1.5 || !q.quiet) {
    ctx.out.log(`  (${what}: ${q.quiet ? `waited ${q.waitedS.toFixed(0)} s for other processes to go quiet` : `machine still busy after ${q.waitedS.toFixed(0)} s (other processes use ${q.foreignCpus} cpus); measuring anyway`})`);
  }
  return q.quiet;
}

/** Children to kill if the run is interrupted. */
const live = new Set<{ kill(): void }>();

export function killChildren(): void {
  for (const c of live) c.kill();
}

interface Ctx {
  opts: BenchOptions;
  layout: Layout;
  /** How every Syrup configuration's agent runs (agentRunSettings: the layout's choice, options applied). */
  agent: AgentRunSettings;
  workers: number;
  mix: RequestMix;
  loads: number[];
  out: Output;
  /** Half the Linux saturation load, once the Linux sweep has found it. */
  halfRate: number | null;
  /** The first server's calibration, reused by the later ones so every configuration does the same work. */
  calibration: Calibration | null;
  /** --server rocksdb: the native server, its database and calibration, shared by every configuration. */
  rocksdb: RocksdbRun | null;
}

function pointLine(name: string, p: PointResult): string {
  return (
    `  ${name.padEnd(10)} ${int(p.rate).padStart(7)} req/s: achieved ${int(p.achieved)}, GET p50/p99/p99.9 ` +
    `${int(p.get.p50)}/${int(p.get.p99)}/${int(p.get.p999)} us, RANGE p99 ${int(p.range.p99)} us, ` +
    `drops ${int(p.droppedMeasured)}${p.incomplete ? `, incomplete ${p.incomplete}` : ''} [SLO ${p.sloMet ? 'met' : 'missed'}]` +
    (p.interference.foreignCpus >= BUSY_MACHINE ? ` (busy machine: other processes used ${p.interference.foreignCpus} cpus)` : '')
  );
}

async function runConfig(spec: ConfigSpec, ctx: Ctx): Promise<ConfigResult> {
  const { opts, layout, out } = ctx;
  const result = emptyConfig(spec.name, spec.kind);
  if (spec.kind === 'skipped') {
    result.status = 'skipped';
    result.reason = spec.reason;
    out.log(`${spec.name}: skipped (${spec.reason})`);
    out.advance(ctx.loads.length, `${spec.name} skipped`);
    return result;
  }
  const enclave = `bench-${process.pid}-${spec.name.replace(/[^A-Za-z0-9-]/g, '-')}`.slice(0, 40);
  let agent: AgentProcess | null = null;
  let server: ServerProcess | NativeServerProcess | null = null;
  let isolation: Isolation | null = null;
  let spinners: IdleSpinners | null = null;
  const spinnerKill = { kill: () => spinners?.stop() };
  const budget = ctx.loads.length;
  let advanced = 0;
  try {
    await quiet(ctx, [process.pid], `before ${spec.name}`);
    if (spec.kind === 'syrup') {
      result.policy = spec.policy;
      out.advance(0, `${spec.name}: starting agent`);
      agent = await AgentProcess.start({ policy: spec.policy, policyOpts: spec.policyOpts, enclaveCpus: layout.workerCpus, agentCpu: layout.agentCpu, name: enclave, ...ctx.agent, preemptGraceUs: opts.preemptGraceUs, fairShareUs: opts.agentFairShareUs, idlePollUs: opts.idlePollUs });
      live.add({ kill: () => void agent?.stop() });
    }
    const config: ServerConfig = {
      parker: spec.kind === 'syrup' ? 'syrup' : 'linux',
      enclave,
      workers: ctx.workers,
      workerCpus: layout.workerCpus,
      helperCpus: layout.cpus.filter((c) => !layout.workerCpus.includes(c)),
      dispatcherCpu: layout.dispatcherCpu,
      generatorCpu: layout.generatorCpu,
      dispatcherSleeps: layout.dispatcherSleeps,
      generatorSleeps: layout.generatorSleeps,
      realtimeFrontEnd: layout.realtimeFrontEnd,
      frontEndPriority: layout.frontEndPriority,
      calibration: ctx.calibration,
      mix: ctx.mix,
      checkpointUs: opts.checkpointUs,
      storeKeys: ctx.rocksdb?.keys ?? STORE_KEYS,
      seed: opts.seed,
    };
    out.advance(0, `${spec.name}: starting ${ctx.workers} workers`);
    const t0 = Date.now();
    const started = ctx.rocksdb ? await NativeServerProcess.start(config, ctx.rocksdb) : await ServerProcess.start(config);
    server = started.server;
    live.add(server);
    if (spec.kind === 'linux' && opts.idlePollUs > 0) {
      // The Syrup agent's idle pollers burn the worker cpus' idle time; the Linux baseline gets the same.
      spinners = await IdleSpinners.start(buildIdleSpinner(resolve(REPO_ROOT, opts.out, 'idle-spinner-bin')), layout.workerCpus);
      live.add(spinnerKill);
      out.log(`${spec.name}: a SCHED_IDLE spinner on each worker cpu (${layout.workerCpus.join(',')}), as the agent's idle pollers`);
    }
    if (spec.kind === 'linux' && spec.isolated) {
      // What an agent does for its enclave, done for the Linux workers: the
      // rest of the machine (this harness and the server's other threads
      // included) moves off the worker cpus, the workers are admitted back.
      isolation = Isolation.open({ name: enclave, cpus: layout.workerCpus, isolate: true });
      for (const tid of [...started.ready.tids.workers, ...(spinners?.pids ?? [])]) isolation.admit(tid);
      const iso = isolation.report();
      if (iso.state !== 'isolated') throw new Error(`${spec.name}: the worker cpus could not be isolated (${iso.state})`);
      result.isolation = iso;
      out.log(`${spec.name}: worker cpus isolated: ${iso.moved} threads moved to cpus ${iso.restCpus}, ${iso.unmovable} unmovable, ${iso.irqs} irqs`);
    }
    const k = started.ready.calibration;
    ctx.calibration ??= k;
    const roles = () => ({ ...started.ready.tids, ...(agent ? { agent: agent.pid } : {}) });
    Object.assign(result, {
      calibration: k,
      pinned: started.ready.pinned,
      tids: roles(),
      workers: started.ready.workers,
      startupS: (Date.now() - t0) / 1e3,
    });
    out.log(
      `${spec.name}: ready in ${result.startupS!.toFixed(1)} s; ${config.calibration ? 'reused ' : ''}calibration GET ${k.getLookups} lookups = ${k.checkGetUs.toFixed(1)} us, ` +
        `RANGE ${int(k.rangeEntries)} entries = ${int(k.checkRangeUs)} us; pinned ${JSON.stringify(started.ready.pinned)}`,
    );

    let phase = 0;
    const measure = async (rate: number, halfLinux: boolean): Promise<PointResult> => {
      if (agent && !agent.alive) throw new Error(`agent exited during the run:\n${agent.tail.text()}`);
      out.advance(0, `${spec.name} @ ${int(rate)} req/s`);
      const sinceMs = Date.now();
      const pids = ownPids();
      const before = sampleCpu(layout.cpus, pids);
      const delayBefore = sampleRunDelay(roles());
      const p = await server!.runPhase({
        cmd: 'phase',
        phase: ++phase,
        rate,
        warmupS: opts.warmup,
        durationS: opts.duration,
        // The same arrival sequence for a given load in every configuration.
        seed: (opts.seed * 7919 + Math.round(rate)) >>> 0,
      });
      const point: PointResult = {
        ...p,
        sloMet: meetsSlo(p, opts.sloUs),
        halfLinux,
        interference: interference(before, sampleCpu(layout.cpus, pids)),
        runDelay: runDelay(delayBefore, sampleRunDelay(roles())),
      };
      if (agent) point.agentStats = agent.statsSince(sinceMs);
      return point;
    };
    const ownPids = () => [process.pid, server!.pid, ...(agent ? [agent.pid] : []), ...(spinners?.pids ?? [])];
    const run = async (rate: number, halfLinux: boolean): Promise<PointResult> => {
      let point = await measure(rate, halfLinux);
      if (point.interference.foreignCpus >= BUSY_MACHINE && opts.quietWait > 0) {
        out.log(pointLine(spec.name, point) + ' -> re-measuring when quiet');
        if (await quiet(ctx, ownPids(), `${spec.name} @ ${int(rate)}`)) point = { ...(await measure(rate, halfLinux)), remeasured: true };
      }
      result.points.push(point);
      out.log(pointLine(spec.name, point));
      return point;
    };

    if (opts.prime > 0 && ctx.loads.length > 0) {
      // A fresh agent runs its first seconds in unoptimized code (and a fresh
      // server too): each TurboFan compile then stops the loop for a moment,
      // which lands in whatever load is measured first (the half-Linux load on
      // the model server). Every configuration gets the same discarded run.
      const rate = 4 * Math.min(...ctx.loads);
      out.advance(0, `${spec.name}: priming at ${int(rate)} req/s`);
      await server!.runPhase({ cmd: 'phase', phase: ++phase, rate, warmupS: 0, durationS: opts.prime, seed: (opts.seed * 7919 + 1) >>> 0 });
      result.primeRate = rate;
    }
    const loads = [...ctx.loads];
    const half = ctx.halfRate;
    if (half !== null && !loads.some((l) => sameLoad(l, half))) loads.push(half);
    loads.sort((a, b) => a - b);
    let pastKnee = 0;
    for (const rate of loads) {
      const isHalf = half !== null && sameLoad(rate, half);
      // The half-Linux point is run even past capacity: every configuration is compared there.
      if (opts.stopAfter > 0 && pastKnee >= opts.stopAfter && !isHalf) continue;
      const p = await run(rate, isHalf);
      pastKnee = collapsed(p, opts.sloUs) ? pastKnee + 1 : 0;
      if (ctx.loads.some((l) => sameLoad(l, rate))) {
        advanced++;
        out.advance(1, `${spec.name} @ ${int(rate)} req/s done`);
      }
    }

    // Below the sweep: halve the load until the SLO is met, while a window
    // still holds enough requests for a p99 (MIN_REQUESTS).
    for (let i = 0; i < 4 && !saturation(result.points); i++) {
      const lowest = Math.min(...result.points.map((p) => p.rate));
      const next = roundRate(lowest / 2);
      if (next * opts.duration < MIN_REQUESTS) break;
      await run(next, false);
    }

    // Refine: bisect (geometrically) between the highest load that met the
    // SLO and the next one that missed, so the ratios are not quantized by
    // the sweep's grid.
    for (let i = 0; i < opts.refine; i++) {
      const sat = saturation(result.points);
      if (!sat) break;
      const above = result.points.filter((p) => p.rate > sat.rate && !p.sloMet).map((p) => p.rate);
      if (above.length === 0) break;
      const miss = Math.min(...above);
      if (miss / sat.rate < 1.1) break;
      await run(roundRate(Math.sqrt(sat.rate * miss)), false);
    }

    if (spec.kind === 'linux' && ctx.halfRate === null) {
      const sat = saturation(result.points);
      if (sat) {
        ctx.halfRate = roundRate(sat.rate / 2);
        const existing = pointAt(result.points, ctx.halfRate);
        if (existing) existing.halfLinux = true;
        else await run(ctx.halfRate, true);
        out.log(`${spec.name}: saturation ${int(sat.achieved)} req/s (load ${int(sat.rate)}); comparing everyone at ${int(ctx.halfRate)} req/s`);
      } else {
        out.log(`${spec.name}: missed the SLO at every load tried; no half-load comparison`);
      }
    }
    await server.quit();
  } catch (err) {
    result.status = 'failed';
    result.reason = err instanceof Error ? err.message : String(err);
    out.log(`${spec.name}: FAILED: ${result.reason}`);
  } finally {
    if (server) {
      server.kill();
      live.delete(server);
    }
    isolation?.release();
    spinners?.stop();
    live.delete(spinnerKill);
    if (agent) {
      const outcome = await agent.stop();
      result.agent = { ...outcome, args: agent.args };
    }
    if (advanced < budget) out.advance(budget - advanced, `${spec.name} done`);
  }
  return result;
}

/** results.json, table.md and plot.svg into dir, and the docs section when docsFile is set. */
function writeReports(report: BenchReport, dir: string, docsFile: string, print: (line: string) => void): void {
  mkdirSync(dir, { recursive: true });
  const tables = renderTables(report);
  const svg = renderPlot(report);
  writeFileSync(join(dir, 'results.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(dir, 'table.md'), tables);
  writeFileSync(join(dir, 'plot.svg'), svg);
  if (docsFile) {
    const docsPath = resolve(REPO_ROOT, docsFile);
    regenerateDocs(docsPath, renderSection(report, tables, displayPath(dir)), join(dir, 'plot.svg'), docTarget(report));
    print(`  docs: regenerated ${displayPath(docsPath)}`);
  }
}

/**
 * Re-renders a finished run (its results.json in dir) with the current
 * evaluation, tables, plot and analysis.md, without measuring again.
 */
export function rerender(dir: string, docsFile: string, print: (line: string) => void = (l) => console.log(l)): BenchReport {
  const abs = resolve(process.cwd(), dir);
  const report = JSON.parse(readFileSync(join(abs, 'results.json'), 'utf8')) as BenchReport;
  if (report.schema !== SCHEMA) throw new Error(`${join(abs, 'results.json')}: schema ${String(report.schema)}, expected ${SCHEMA}`);
  evaluate(report);
  writeReports(report, abs, docsFile, print);
  print(`  re-rendered ${displayPath(abs)}/{results.json,table.md,plot.svg}`);
  return report;
}

export interface BenchRun {
  report: BenchReport;
  dir: string;
}

/** Runs the whole benchmark; `print` receives the human-readable lines (stdout by default). */
export async function runBench(
  opts: BenchOptions,
  print: (line: string) => void = (l) => console.log(l),
  command = 'runBench()',
): Promise<BenchRun> {
  const layout = planLayout(opts.cpus ? parseCpuList(opts.cpus) : availableCpus());
  const agent = agentRunSettings(layout, opts); // refuses an agent that would starve the front end, before anything runs
  // A real RocksDB's service times are measured (on a worker cpu, before any agent isolates it), not configured.
  const rocksdb = opts.server === 'rocksdb' ? prepareRocksdb(opts.rocksdbKeys, layout.workerCpus[0], resolve(REPO_ROOT, opts.out, 'rocksdb-bin')) : null;
  try {
    return await runSweeps(opts, { layout, agent }, rocksdb, print, command);
  } finally {
    rocksdb?.cleanup();
  }
}

async function runSweeps(
  opts: BenchOptions,
  { layout, agent }: { layout: Layout; agent: AgentRunSettings },
  rocksdb: RocksdbRun | null,
  print: (line: string) => void,
  command: string,
): Promise<BenchRun> {
  const workers = opts.workers || defaultWorkers(layout);
  const mix: RequestMix = rocksdb ? rocksdbMix(rocksdb, opts.rangeFrac) : { getUs: opts.getUs, getExpUs: opts.getExpUs, rangeUs: opts.rangeUs, rangeFrac: opts.rangeFrac };
  const nominal = (layout.workerCpus.length * 1e6) / meanServiceUs(mix);
  const loads = opts.loads.length ? [...new Set(opts.loads)].sort((a, b) => a - b) : defaultLoads(nominal, opts.quick);
  const specs = resolveConfigs(opts.configs);
  const layoutText = describeLayout(layout);

  print(`syrup bench (${rocksdb ? `RocksDB ${rocksdb.keys} keys, built in ${rocksdb.buildS} s` : 'RocksDB-like'})${opts.quick ? ' [quick]' : ''}`);
  for (const l of layoutText) print(`  layout: ${l}`);
  print(`  workers: ${workers}; nominal capacity ${int(nominal)} req/s (${layout.workerCpus.length} worker cpu(s) / ${meanServiceUs(mix).toFixed(1)} us mean service)`);
  print(`  loads (req/s): ${loads.map(int).join(', ')}; ${opts.warmup} s warm-up + ${opts.duration} s each${opts.prime > 0 ? `, after ${opts.prime} s of priming at 4x the lowest per configuration` : ''}; SLO GET p99 < ${int(opts.sloUs)} us`);
  print(`  configs: ${specs.map((s) => (s.kind === 'skipped' ? `${s.name} (skipped)` : s.name)).join(', ')}`);

  if (opts.repeat > 1) print(`  repeat: ${opts.repeat} sweeps, each with its own arrival seed (${opts.seed}..${opts.seed + opts.repeat - 1})`);

  const repeats: RepeatSummary[] = [];
  let last: BenchRun | undefined;
  for (let i = 0; i < opts.repeat; i++) {
    if (opts.repeat > 1) print(`  sweep ${i + 1} of ${opts.repeat}`);
    // Each sweep its own seed: the spread then covers the arrival sequence as well as the machine's noise.
    const sweepOpts = { ...opts, seed: opts.seed + i };
    const report = await sweep(sweepOpts, { layout, agent, workers, mix, nominal, loads, specs, layoutText, rocksdb }, command, print);
    const dir = resolve(REPO_ROOT, opts.out, report.startedAt.replace(/[:.]/g, '-'));
    repeats.push(repeatSummary(report, displayPath(dir)));
    if (opts.repeat > 1) report.repeats = [...repeats];
    // Only the last sweep regenerates the docs: it carries every sweep's summary.
    writeReports(report, dir, i === opts.repeat - 1 ? opts.docs : '', print);
    printSummary(report, dir, print);
    last = { report, dir };
  }
  return last!;
}

/** What a repeated run keeps of each sweep for the spread table. */
export function repeatSummary(report: BenchReport, dir: string): RepeatSummary {
  return {
    startedAt: report.startedAt,
    dir,
    configs: report.configs
      .filter((c) => c.status !== 'skipped')
      .map((c) => ({
        name: c.name,
        saturation: c.saturation?.achieved ?? null,
        satRatio: c.satRatioToLinux,
        halfP99: c.halfLinux?.getP99 ?? null,
        p99LowerBy: c.halfLinux?.p99LowerBy ?? null,
        knee: c.knee ?? null,
        kneeRatio: c.kneeRatioToLinux ?? null,
        belowLinux: c.belowLinux ?? null,
      })),
  };
}

interface SweepPlan {
  layout: Layout;
  agent: AgentRunSettings;
  workers: number;
  mix: RequestMix;
  /** Worker cpus x 1e6 / mean service time (BenchReport.nominalCapacity). */
  nominal: number;
  loads: number[];
  specs: ConfigSpec[];
  layoutText: string[];
  rocksdb: RocksdbRun | null;
}

/** One sweep: every configuration at every load, evaluated. */
async function sweep(opts: BenchOptions, plan: SweepPlan, command: string, print: (line: string) => void): Promise<BenchReport> {
  const startedAt = new Date();
  const { layout, agent, workers, mix, nominal, loads, specs, layoutText, rocksdb } = plan;
  const out = makeOutput(specs.length * loads.length, opts.progress, print);
  const ctx: Ctx = { opts, layout, agent, workers, mix, loads, out, halfRate: null, calibration: rocksdb?.calibration ?? null, rocksdb };
  const configs: ConfigResult[] = [];
  try {
    for (const spec of specs) configs.push(await runConfig(spec, ctx));
  } finally {
    out.stop();
  }

  const cpuInfo = osCpus();
  const report: BenchReport = {
    schema: SCHEMA,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command,
    host: { hostname: hostname(), cpus: layout.cpus.length, cpuModel: cpuInfo[0]?.model ?? '?', kernel: release(), node: process.version },
    serverV8Flags: SERVER_V8_FLAGS,
    options: opts,
    layout,
    layoutText,
    workers,
    nominalCapacity: nominal,
    loads,
    configs,
    evaluation: { linuxSaturation: null, halfLinuxRate: null, targets: [], notes: [] },
  };
  evaluate(report);
  return report;
}

function printSummary(report: BenchReport, dir: string, print: (line: string) => void): void {
  print('');
  for (const c of report.configs) {
    const sat = c.saturation ? `${int(c.saturation.achieved)} req/s` : c.status === 'ok' ? 'below the sweep' : c.status;
    print(`  ${c.name.padEnd(10)} saturation ${sat}; vs Linux ${ratio(c.satRatioToLinux)}; GET p99 at half Linux sat. ${c.halfLinux ? `${int(c.halfLinux.getP99)} us (${ratio(c.halfLinux.p99LowerBy)} lower)` : '-'}`);
  }
  for (const n of report.evaluation.notes) print(`  note: ${n}`);
  print(`  results: ${displayPath(dir)}/{results.json,table.md,plot.svg}`);
}
