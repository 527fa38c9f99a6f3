// bench-harness.test.ts: the RocksDB-like bench harness without an agent: options, layout, histograms, evaluation, reports, and a tiny Linux baseline run end to end.
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BEGIN, END, regenerateDocs } from '../bench/docs.ts';
import { evaluate, kneePoint, meetsSlo, saturation } from '../bench/evaluate.ts';
import { defaultLoads, repeatSummary, rerender, runBench } from '../bench/harness.ts';
import { decodeHistogram, encodeHistogram, newHistogram, recordUs, summarize, type Summary } from '../bench/histogram.ts';
import { agentRunSettings, availableCpus, defaultWorkers, planLayout } from '../bench/layout.ts';
import { BenchOptionError, DEFAULTS, parseArgs, resolveOptions } from '../bench/options.ts';
import { formatCpuList, parseCpuList } from '../bench/pin.ts';
import { renderPlot } from '../bench/plot.ts';
import type { PhaseResult, StageSummaries } from '../bench/protocol.ts';
import { SCHEMA, type BenchReport, type ConfigResult, type PointResult } from '../bench/results.ts';
import { renderTables } from '../bench/table.ts';
import { buildIdleSpinner, IdleSpinners } from '../bench/idle-spinner.ts';

/** Every tag opened is closed, in order: enough to catch a broken hand-written SVG. */
function wellFormed(xml: string): boolean {
  const stack: string[] = [];
  for (const m of xml.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    const [, close, name, selfClose] = m;
    if (selfClose) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name);
  }
  return stack.length === 0;
}

function expectOptionError(t: Test, argv: string[], field: string): void {
  let caught: unknown;
  try {
    resolveOptions(parseArgs(argv), () => true);
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof BenchOptionError && caught.field === field, `${argv.join(' ')} -> error naming ${field}: ${String(caught)}`);
}

t.test('options: defaults, --quick, explicit values win, errors name the field', async (t) => {
  const d = resolveOptions({}, () => true);
  t.same(d.configs, ['linux', 'linux:isolated', 'fifo', 'shinjuku', 'sjf']);
  t.equal(d.sloUs, 1000);
  t.equal(d.duration, 5);
  t.equal(d.docs, 'docs/benchmarks.md');
  const q = resolveOptions(parseArgs(['--quick']), (n) => n === 'shinjuku');
  t.same(q.configs, ['linux', 'fifo', 'shinjuku'], 'quick adds shinjuku when its policy exists');
  t.equal(q.duration, 2);
  t.equal(q.docs, '', 'quick leaves the docs alone');
  t.same(resolveOptions(parseArgs(['--quick']), () => false).configs, ['linux', 'fifo']);
  const x = resolveOptions(parseArgs(['--quick', '--duration', '3', '--configs', 'linux,./p.ts', '--loads', '500,2k', '--slo-us=500', '--no-progress']), () => true);
  t.equal(x.duration, 3, 'explicit --duration beats --quick');
  t.same(x.configs, ['linux', './p.ts']);
  t.same(x.loads, [500, 2000]);
  t.equal(x.sloUs, 500);
  t.equal(x.progress, false);
  expectOptionError(t, ['--duration', 'abc'], '--duration');
  expectOptionError(t, ['--prime', '-1'], '--prime');
  expectOptionError(t, ['--preempt-grace-us', '2.5'], '--preempt-grace-us');
  t.equal(d.preemptGraceUs, 40, 'the bench gives preemptions a 40 us grace period by default');
  expectOptionError(t, ['--duration', '0'], '--duration');
  expectOptionError(t, ['--loads', '1000,x'], '--loads');
  expectOptionError(t, ['--range-frac', '1.5'], '--range-frac');
  expectOptionError(t, ['--workers', '2.5'], '--workers');
  expectOptionError(t, ['--configs', 'linux,linux'], '--configs');
  expectOptionError(t, ['--cpus', 'zero'], '--cpus');
  expectOptionError(t, ['--cpus', '3-1'], '--cpus');
  expectOptionError(t, ['--cpus', '0-99999'], '--cpus');
  expectOptionError(t, ['--bogus'], '--bogus');
  expectOptionError(t, ['--quick=false'], '--quick');
  expectOptionError(t, ['--no-docs=x'], '--no-docs');
  expectOptionError(t, ['--out'], '--out');
  expectOptionError(t, ['--repeat', '0'], '--repeat');
  expectOptionError(t, ['--server', 'mysql'], '--server');
  expectOptionError(t, ['--rocksdb-keys', '10'], '--rocksdb-keys');
  t.equal(resolveOptions(parseArgs(['--server', 'rocksdb']), () => true).server, 'rocksdb');
  t.equal(DEFAULTS.server, 'model', 'the model server unless --server rocksdb');
  t.equal(resolveOptions(parseArgs(['--repeat', '3']), () => true).repeat, 3);
  t.equal(DEFAULTS.repeat, 1);
  t.equal(DEFAULTS.rangeFrac, 0.005);
});

t.test('layout adapts to the cpu count and says what shares', async (t) => {
  t.throws(() => planLayout([0]), /at least 2 cpus/);
  const two = planLayout([0, 1]);
  t.same(two.workerCpus, [0]);
  t.equal(two.agentCpu, 1);
  t.equal(two.generatorCpu, 1);
  t.equal(two.dispatcherCpu, 1);
  t.ok(two.generatorSleeps && two.dispatcherSleeps, 'threads on a shared cpu sleep');
  t.ok(two.shared.length > 0 && /shared by the load generator/.test(two.shared[0]));
  const sixteen = planLayout(parseCpuList('0-15'));
  t.equal(sixteen.generatorCpu, 0);
  t.equal(sixteen.dispatcherCpu, 1);
  t.equal(sixteen.agentCpu, 2);
  t.equal(formatCpuList(sixteen.workerCpus), '3-15');
  t.notOk(sixteen.generatorSleeps);
  t.same(sixteen.shared, []);
  t.equal(defaultWorkers(two), 50);
  t.equal(defaultWorkers(sixteen), 200);
  t.same(parseCpuList('0-2,5'), [0, 1, 2, 5]);
  t.equal(formatCpuList([5, 0, 1, 2]), '0-2,5');
  t.same(defaultLoads(10000, true), [200, 1000]);
});

t.test('histogram percentiles on known data (hdr-histogram-js)', async (t) => {
  const h = newHistogram();
  for (let v = 1; v <= 10000; v++) recordUs(h, v);
  const s = summarize(h);
  t.equal(s.count, 10000);
  const near = (got: number, want: number) => Math.abs(got - want) <= want * 0.001 + 1;
  t.ok(near(s.p50, 5000), `p50 ${s.p50}`);
  t.ok(near(s.p90, 9000), `p90 ${s.p90}`);
  t.ok(near(s.p99, 9900), `p99 ${s.p99}`);
  t.ok(near(s.p999, 9990), `p99.9 ${s.p999}`);
  t.ok(near(s.max, 10000), `max ${s.max}`);
  t.ok(Math.abs(s.mean - 5000.5) < 5, `mean ${s.mean}`);
  const back = summarize(decodeHistogram(encodeHistogram(h)));
  t.equal(back.p99, s.p99, 'encoding round-trips');
  const skew = newHistogram();
  for (let i = 0; i < 990; i++) recordUs(skew, 10);
  for (let i = 0; i < 10; i++) recordUs(skew, 5000);
  const k = summarize(skew);
  t.equal(k.p50, 10);
  t.equal(k.p99, 10, '99 % of samples are 10 us');
  t.ok(near(k.p999, 5000), `p99.9 lands in the tail: ${k.p999}`);
  recordUs(skew, -3);
  t.equal(summarize(skew).count, 1001, 'negative clock skew is recorded as 1 us, not dropped');
  t.same(summarize(newHistogram()), { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
});

function summary(p99: number, count = 100): Summary {
  return { count, mean: p99 / 2, p50: p99 / 4, p90: p99 / 2, p99, p999: p99 * 2, max: p99 * 3 };
}

function point(rate: number, getP99: number, slo = 1000, extra: Partial<PhaseResult> = {}): PointResult {
  const stages: StageSummaries = { generator: summary(5), queue: summary(5), wake: summary(20), service: summary(12) };
  const p: PhaseResult = {
    phase: 1, rate, durationS: 1, offered: rate, achieved: rate * 0.99, generated: rate, measured: rate, dropped: 0, droppedMeasured: 0,
    completedMeasured: rate, incomplete: 0, get: summary(getP99), range: summary(getP99 * 10, 3),
    stages: { get: stages, range: stages }, checkpointYields: 0, encoded: { get: '', range: '' }, ...extra,
  };
  return { ...p, sloMet: meetsSlo(p, slo), halfLinux: false, interference: { foreignCpus: 0, ownCpus: 1, busyCpus: 1, stealCpus: 0 } };
}

function config(name: string, kind: ConfigResult['kind'], points: PointResult[]): ConfigResult {
  return { name, kind, status: 'ok', points, saturation: null, satRatioToLinux: null, halfLinux: null, workers: 50, policy: kind === 'syrup' ? name : undefined };
}

function syntheticReport(): BenchReport {
  const linux = [point(500, 300), point(1000, 800), point(2000, 3000), point(250, 200)];
  linux[0].halfLinux = true; // half of the Linux saturation load (1000)
  const shin = [point(250, 15), point(500, 20), point(1000, 30), point(2000, 60), point(4000, 400), point(8000, 5000)];
  return {
    schema: SCHEMA, startedAt: 'x', finishedAt: 'y', command: 'test',
    host: { hostname: 'h', cpus: 2, cpuModel: 'cpu', kernel: 'k', node: 'v20' }, serverV8Flags: [],
    options: resolveOptions({}, () => true), layout: planLayout([0, 1]), layoutText: ['l'], workers: 50, nominalCapacity: 28000,
    loads: [500, 1000, 2000], configs: [config('linux', 'linux', linux), config('shinjuku', 'syrup', shin), { ...config('sjf', 'skipped', []), status: 'skipped', reason: 'not found' }],
    evaluation: { linuxSaturation: null, halfLinuxRate: null, targets: [], notes: [] },
  };
}

t.test('saturation, ratios and the half-load comparison', async (t) => {
  t.notOk(meetsSlo(point(100, 10, 1000, { droppedMeasured: 5, measured: 100 }), 1000), 'drops over 1 % miss the SLO');
  t.notOk(point(100, 1000).sloMet, 'p99 equal to the SLO misses it');
  t.equal(saturation([point(100, 2000)]), null);
  const r = syntheticReport();
  evaluate(r);
  const [linux, shin, sjf] = r.configs;
  t.equal(linux.saturation?.rate, 1000);
  t.equal(linux.saturation?.firstMissRate, 2000);
  t.equal(shin.saturation?.rate, 4000);
  t.equal(r.evaluation.halfLinuxRate, 500);
  t.ok(Math.abs((shin.satRatioToLinux ?? 0) - 4) < 1e-9, 'ratio of achieved saturation throughputs');
  t.equal(shin.halfLinux?.getP99, 20);
  t.equal(shin.halfLinux?.p99LowerBy, 15, 'linux p99 300 / shinjuku 20');
  t.equal(sjf.saturation, null);
  t.same(r.evaluation.targets.map((x) => [x.config, x.met]), [['shinjuku', true]]);
});

t.test('capacity knee and the below-Linux-up-to-its-knee check', async (t) => {
  // summary(p99) has p50 = p99 / 4: a point collapses (p50 >= SLO) from p99 4,000 us.
  t.equal(kneePoint([point(100, 50), point(200, 900), point(400, 5000)], 1000)?.rate, 200, 'the collapsed 400 is past the knee');
  t.equal(kneePoint([point(100, 8000)], 1000), null, 'no knee when every load collapsed');
  const r = syntheticReport();
  evaluate(r);
  const [linux, shin] = r.configs;
  t.equal(linux.knee, 1980, "Linux's knee: 2,000 req/s never collapsed");
  t.equal(shin.knee, 3960, "Shinjuku's: 4,000 (8,000 collapsed)");
  t.equal(shin.kneeRatioToLinux, 2);
  t.same(shin.belowLinux, { loads: 4, below: 4, worst: null }, 'below Linux at 250, 500, 1,000 and 2,000');
  t.equal(r.evaluation.targets[0].belowLinuxToKnee, true);

  // One load where Shinjuku's tail is above Linux's: every other target still met, the whole target is not.
  const worse = syntheticReport();
  worse.configs[1].points[2] = point(1000, 900);
  evaluate(worse);
  t.same(worse.configs[1].belowLinux, { loads: 4, below: 3, worst: { rate: 1000, p99: 900, linuxP99: 800 } });
  t.same(worse.evaluation.targets.map((x) => [x.belowLinuxToKnee, x.met]), [[false, false]]);
  t.match(renderTables(worse), /\| 3 of 4 \(worst: 1,000 req\/s, 900 vs 800 us\) \|/);

  // A load Shinjuku never ran (its sweep stopped past its own collapse) counts as not beaten.
  const missing = syntheticReport();
  missing.configs[1].points = missing.configs[1].points.filter((p) => p.rate !== 2000);
  evaluate(missing);
  t.same(missing.configs[1].belowLinux?.below, 3);

  // A knee under 0.8x Linux's fails the target even with a lower tail everywhere.
  const small = syntheticReport();
  small.configs[1].points = [point(250, 15), point(500, 20), point(1000, 30), point(2000, 60), point(2100, 9000)];
  small.configs[0].points.push(point(3000, 3500));
  evaluate(small);
  t.ok((small.configs[1].kneeRatioToLinux ?? 1) < 0.8, `knee ratio ${small.configs[1].kneeRatioToLinux}`);
  t.equal(small.evaluation.targets[0].met, false);
});

t.test('repeated sweeps: one spread row per sweep and configuration', async (t) => {
  const a = syntheticReport();
  evaluate(a);
  const b = syntheticReport();
  b.configs[1].points[1] = point(500, 100);
  evaluate(b);
  b.repeats = [repeatSummary(a, 'bench/results/a'), repeatSummary(b, 'bench/results/b')];
  t.same(b.repeats[0].configs.map((c) => c.name), ['linux', 'shinjuku'], 'skipped configurations are left out');
  const md = renderTables(b);
  t.match(md, /### 2 repeated sweeps/);
  t.match(md, /\| 1 \| shinjuku \| 3,960 \| 4\.00x \| 20 \| 15x \|/);
  t.match(md, /\| 2 \| shinjuku \| 3,960 \| 4\.00x \| 100 \| 3\.00x \|/);
  t.notMatch(renderTables(a), /repeated sweeps/, 'a single sweep has no spread table');
});

t.test('plot and table render from a report', async (t) => {
  const r = syntheticReport();
  evaluate(r);
  const svg = renderPlot(r);
  t.ok(svg.startsWith('<svg') && svg.trim().endsWith('</svg>'));
  t.ok(wellFormed(svg), 'every SVG tag is closed');
  t.equal((svg.match(/<path /g) ?? []).length, 2, 'one line per configuration with points');
  t.match(svg, /SLO 1,000 us/);
  t.match(svg, /GET p99 latency \(log scale\)/);
  const md = renderTables(r);
  t.match(md, /\| linux \| 990 \| 1\.00x \|/);
  t.match(md, /\| shinjuku \| 3,960 \| 4\.00x \| 20 \| 15x \|/);
  t.match(md, /skipped: not found/);
  t.match(md, /Where a GET's time goes at half the Linux saturation load/);

  // Linux met the SLO nowhere, Shinjuku did: the bullet must not say Shinjuku reached nothing.
  const noLinux = syntheticReport();
  noLinux.configs[0].points = [point(500, 3000), point(1000, 4000)];
  evaluate(noLinux);
  const text = renderTables(noLinux);
  t.match(text, /- shinjuku: saturation 3,960 req\/s, no ratio \(the Linux baseline met the SLO at no load run\)/);
  t.notMatch(text, /- shinjuku: saturation not reached/);
});

t.test('docs regeneration touches only the rocksdb section', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-docs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const docs = join(dir, 'benchmarks.md');
  const plot = join(dir, 'p.svg');
  writeFileSync(plot, '<svg></svg>');
  const others = '# B\n\n<!-- agent-bench:begin -->\nAGENT NUMBERS\n<!-- agent-bench:end -->\n\nhand-written\n\n<!-- net-bench:begin -->\nNET\n<!-- net-bench:end -->\n';
  writeFileSync(docs, others);
  regenerateDocs(docs, 'first', plot);
  regenerateDocs(docs, 'second', plot);
  const text = readFileSync(docs, 'utf8');
  t.match(text, /AGENT NUMBERS/);
  t.match(text, /NET\n<!-- net-bench:end -->/);
  t.match(text, /hand-written/);
  t.match(text, /second/);
  t.notMatch(text, /first/);
  t.equal(text.split(BEGIN).length, 2, 'one rocksdb section');
  t.ok(existsSync(join(dir, 'bench-rocksdb.svg')), 'plot copied next to the docs');
});

const cpus = availableCpus();
t.test('a tiny Linux baseline run produces results.json, table.md and plot.svg', { skip: cpus.length < 2 ? 'needs 2 cpus' : false }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'bench-run-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const lines: string[] = [];
  const opts = resolveOptions({ configs: ['linux'], loads: [300], duration: 0.5, warmup: 0.2, prime: 0.3, workers: 4, out, docs: '', progress: false, quietWait: 0, cpus: formatCpuList(cpus.slice(0, 2)) });
  const { report, dir } = await runBench(opts, (l) => lines.push(l));
  const json = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as BenchReport;
  t.equal(json.schema, SCHEMA);
  t.equal(json.configs.length, 1);
  const linux = json.configs[0];
  t.equal(linux.status, 'ok', linux.reason ?? '');
  t.ok(linux.calibration && linux.calibration.getLookups > 0, 'calibration recorded');
  t.ok(linux.points.length >= 1);
  const p = linux.points[0];
  t.equal(linux.primeRate, 1200, 'primed at 4x the lowest load');
  t.equal(p.phase, 2, 'and the priming run (phase 1) is not among the measured points');
  t.ok(p.get.count > 50, `GETs measured: ${p.get.count}`);
  t.ok(p.achieved > 0 && p.offered > 0);
  t.equal(p.incomplete, 0);
  t.ok(p.get.p50 > 0 && p.get.p50 <= p.get.p99 && p.get.p99 <= p.get.p999, 'percentiles ordered');
  t.ok(p.stages.get.service.p50 >= 1, 'service stage measured');
  t.equal(p.stages.get.placed, undefined, 'no agent, so no placement half of wake to run');
  t.ok(p.runDelay && p.runDelay.agentMsPerS === undefined && p.runDelay.workersMsPerS >= 0, `workers' run-queue wait recorded, no agent's: ${JSON.stringify(p.runDelay)}`);
  const cpu = p.runDelay?.cpuMsPerS;
  t.ok(cpu && cpu.agent === undefined && cpu.workers > 0 && cpu.dispatcher > 0, `cpu time by role recorded: the workers and dispatcher ran, no agent: ${JSON.stringify(cpu)}`);
  t.ok(typeof p.encoded.get === 'string' && p.encoded.get.length > 0, 'histogram encoded');
  t.equal(report.configs[0].points.length, linux.points.length);
  const svg = readFileSync(join(dir, 'plot.svg'), 'utf8');
  t.ok(wellFormed(svg), 'plot.svg well-formed');
  t.match(readFileSync(join(dir, 'table.md'), 'utf8'), /### linux \(default Linux scheduler, 4 workers\)/);
  t.ok(lines.some((l) => /layout: /.test(l)), 'the layout is printed');
  const docs = join(out, 'benchmarks.md');
  rerender(dir, docs, () => {});
  const md = readFileSync(docs, 'utf8');
  t.match(md, /<!-- rocksdb-bench:begin -->[\s\S]*### Summary[\s\S]*<!-- rocksdb-bench:end -->/, '--rerender writes the docs section from results.json');
  t.ok(existsSync(join(out, 'bench-rocksdb.svg')), 'and copies the plot');
});

t.test('the Linux baseline runs as shipped or on isolated worker cpus; the agent shares a 2-cpu layout asleep and SCHED_FIFO', async (t) => {
  const { resolveConfig } = await import('../bench/configs.ts');
  t.same(resolveConfig('linux'), { name: 'linux', kind: 'linux', isolated: false });
  t.same(resolveConfig('linux:isolated'), { name: 'linux:isolated', kind: 'linux', isolated: true });
  const bad = resolveConfig('linux:sliceUs=5');
  t.equal(bad.kind, 'skipped');
  t.match((bad as { reason: string }).reason, /only ":isolated"/);
  const two = planLayout([0, 1]);
  t.same([two.agentSleepUs, two.agentPriority, two.frontEndPriority], [1000, 2, 2], 'agent at the front end\'s priority, above every normal thread');
  const auto = { agentIdleYield: 'auto' as const, agentSleepUs: -1, agentPriority: -1 };
  t.same(agentRunSettings(two, auto), { idleYield: true, idleSleepUs: 1000, priority: 2 }, 'a shared cpu: the agent yields after idle iterations at the front end\'s priority');
  t.same(agentRunSettings(two, { ...auto, agentPriority: 1 }).priority, 1, 'below the front end is allowed');
  t.throws(() => agentRunSettings(two, { ...auto, agentPriority: 3 }), { code: 'BENCH_OPTION', field: '--agent-priority', message: /starve the generator/ }, 'above the front end on its cpu is refused');
  t.throws(() => agentRunSettings(two, { ...auto, agentIdleYield: 'off' }), { code: 'BENCH_OPTION', field: '--agent-idle-yield' }, 'equal priority without the yield is refused');
  t.same(agentRunSettings(two, { ...auto, agentIdleYield: 'off', agentPriority: 1 }).idleYield, false, 'below the front end it may spin without yielding');
  const sixteen = planLayout(parseCpuList('0-15'));
  t.same([sixteen.agentSleepUs, sixteen.agentPriority], [0, 0], 'an agent with a cpu of its own spins as ghOSt does');
  const d = resolveOptions({}, () => true);
  t.same([d.agentSleepUs, d.agentPriority], [-1, -1], 'by default the layout decides');
  expectOptionError(t, ['--agent-sleep-us', '-5'], '--agent-sleep-us');
  expectOptionError(t, ['--agent-priority', '99'], '--agent-priority');
  expectOptionError(t, ['--agent-fair-share-us', '500'], '--agent-fair-share-us');
  t.equal(d.agentFairShareUs, -1, "by default the agent's own fair share");
});

t.test('--idle-poll-us: Linux configurations get a SCHED_IDLE spinner on each worker cpu, killed at stop', async (t) => {
  t.equal(resolveOptions({}, () => true).idlePollUs, 0, 'off by default');
  expectOptionError(t, ['--idle-poll-us', '-1'], '--idle-poll-us');
  const dir = mkdtempSync(join(tmpdir(), 'syrup-spinner-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cpu = availableCpus()[0];
  const s = await IdleSpinners.start(buildIdleSpinner(dir), [cpu]);
  const [pid] = s.pids;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  t.equal(/Cpus_allowed_list:\s*(\S+)/.exec(status)![1], String(cpu), 'pinned to its worker cpu');
  t.match(readFileSync(`/proc/${pid}/sched`, 'utf8'), /^policy\s*:\s*5$/m, 'SCHED_IDLE (policy 5): any worker preempts it');
  s.stop();
  const until = Date.now() + 5000;
  while (existsSync(`/proc/${pid}/status`) && !/State:\s*Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8')) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  t.ok(!existsSync(`/proc/${pid}/status`) || /State:\s*Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8')), 'stop() ends it');
  await t.rejects(IdleSpinners.start(buildIdleSpinner(dir), [4096]), /idle spinner on cpu 4096 exited \(2\)/, 'a cpu it cannot take is an error naming the cpu');
});
