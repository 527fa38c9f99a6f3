// table.ts: the markdown tables of a run: summary per configuration, one sweep table each, and the per-stage latency split.
import { KNEE_RATIO_TARGET, SAT_RATIO_TARGET, P99_LOWER_TARGET } from './evaluate.ts';
import { int, ratio, us } from './format.ts';
import type { BelowLinux, BenchReport, ConfigResult, PointResult } from './results.ts';

function row(cells: (string | number)[]): string {
  return `| ${cells.join(' | ')} |`;
}

function summaryTable(r: BenchReport): string[] {
  const half = r.evaluation.halfLinuxRate;
  const out = [
    row([
      'configuration', `saturation (req/s at GET p99 < ${int(r.options.sloUs)} us)`, 'saturation / Linux', `GET p99 at ${half ? int(half) : 'half Linux saturation'} req/s (us)`,
      'Linux p99 / this p99', 'capacity knee (req/s)', 'knee / Linux', "loads up to Linux's knee with GET p99 below Linux's", 'status',
    ]),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---']),
  ];
  for (const c of r.configs) {
    const sat = c.saturation ? int(c.saturation.achieved) : c.points.length > 0 ? `< ${int(Math.min(...c.points.map((p) => p.rate)))}` : '-';
    const status = c.status === 'ok' ? 'ok' : `${c.status}: ${c.reason ?? ''}`;
    out.push(
      row([
        c.name, sat, ratio(c.satRatioToLinux), c.halfLinux ? int(c.halfLinux.getP99) : '-', ratio(c.halfLinux?.p99LowerBy ?? null),
        c.knee ? int(c.knee) : '-', ratio(c.kneeRatioToLinux ?? null), belowText(c.belowLinux), status.replace(/\|/g, '/').split('\n')[0],
      ]),
    );
  }
  return out;
}

/** "4 of 6" and, when short, the load where this configuration did worst against Linux. */
function belowText(b: BelowLinux | null | undefined): string {
  if (!b) return '-';
  const worst = b.worst ? ` (worst: ${int(b.worst.rate)} req/s, ${Number.isFinite(b.worst.p99) ? int(b.worst.p99) : 'not run'} vs ${int(b.worst.linuxP99)} us)` : '';
  return `${b.below} of ${b.loads}${worst}`;
}

/** --repeat: one row per sweep and configuration, so the spread between runs is visible. */
function repeatTable(r: BenchReport): string[] {
  const reps = r.repeats ?? [];
  if (reps.length < 2) return [];
  const out = [
    `### ${reps.length} repeated sweeps (spread between runs)`,
    '',
    row(['sweep', 'configuration', 'saturation (req/s)', 'saturation / Linux', 'GET p99 at half Linux sat. (us)', 'Linux p99 / this p99', 'knee (req/s)', 'knee / Linux', "below Linux's p99 up to its knee", 'raw results']),
    row(['---:', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---']),
  ];
  reps.forEach((s, i) => {
    for (const c of s.configs) {
      out.push(row([i + 1, c.name, c.saturation ? int(c.saturation) : '-', ratio(c.satRatio), c.halfP99 ? int(c.halfP99) : '-', ratio(c.p99LowerBy), c.knee ? int(c.knee) : '-', ratio(c.kneeRatio), belowText(c.belowLinux), `\`${s.dir}\``]));
    }
  });
  return [...out, ''];
}

function sweepTable(c: ConfigResult): string[] {
  const out = [
    row(['offered (req/s)', 'achieved (req/s)', 'drops', 'GET p50', 'GET p99', 'GET p99.9', 'RANGE p50', 'RANGE p99', 'RANGE p99.9', 'SLO', 'other procs (cpus)']),
    row(['---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', ':---:', '---:']),
  ];
  for (const p of [...c.points].sort((a, b) => a.rate - b.rate)) {
    out.push(
      row([
        int(p.offered) + (p.halfLinux ? ' (½ Linux sat.)' : ''),
        int(p.achieved),
        int(p.droppedMeasured),
        us(p.get.p50, p.get.count),
        us(p.get.p99, p.get.count),
        us(p.get.p999, p.get.count),
        us(p.range.p50, p.range.count),
        us(p.range.p99, p.range.count),
        us(p.range.p999, p.range.count),
        p.sloMet ? 'met' : 'missed',
        p.interference.foreignCpus.toFixed(2),
      ]),
    );
  }
  return out;
}

/** Run-queue wait of the agent and the workers (older results.json files have none). */
function waits(p: PointResult): string {
  const d = p.runDelay;
  if (!d) return '-';
  return `${d.agentMsPerS === undefined ? '-' : d.agentMsPerS.toFixed(1)} / ${d.workersMsPerS.toFixed(1)}`;
}

/** Where a GET's time goes at one load, per configuration: the profile behind the latency numbers. */
function stageTable(r: BenchReport, pick: (c: ConfigResult) => PointResult | undefined, title: string): string[] {
  const out = [
    title,
    '',
    row([
      'configuration', 'load (req/s)', 'generator p50/p99', 'queue p50/p99', 'wake to run p50/p99',
      'of which: to placement p50/p99', 'placement to run p50/p99', 'service p50/p99', 'total p50/p99', 'RANGE checkpoints that yielded',
      'waiting for a cpu, ms/s: agent / workers',
    ]),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
  ];
  let any = false;
  for (const c of r.configs) {
    const p = pick(c);
    if (!p) continue;
    any = true;
    const s = p.stages.get;
    const pair = (x: { p50: number; p99: number; count: number } | undefined) => (x ? `${us(x.p50, x.count)} / ${us(x.p99, x.count)}` : '-');
    out.push(row([c.name, int(p.rate), pair(s.generator), pair(s.queue), pair(s.wake), pair(s.placed), pair(s.start), pair(s.service), pair(p.get), int(p.checkpointYields), waits(p)]));
  }
  return any ? out : [];
}

/** A ratio needs both saturations: say which one is missing rather than blaming the policy for Linux's. */
function satVsLinux(r: BenchReport, config: string, satRatio: number | null): string {
  if (satRatio !== null) return `${ratio(satRatio)} Linux's`;
  const own = r.configs.find((c) => c.name === config)?.saturation;
  if (!own) return 'not reached (no load met the SLO)';
  return `${int(own.achieved)} req/s, no ratio (the Linux baseline met the SLO at no load run)`;
}

export function renderTables(r: BenchReport): string {
  const lines: string[] = ['### Summary', '', ...summaryTable(r), ''];
  for (const t of r.evaluation.targets) {
    lines.push(
      `- ${t.config}: saturation ${satVsLinux(r, t.config, t.satRatio)} (target ${SAT_RATIO_TARGET}x); ` +
        `GET p99 at half the Linux saturation load ${t.p99LowerBy === null ? 'not measured' : `${ratio(t.p99LowerBy)} lower than Linux's (a value under 1x means higher)`} (target ${P99_LOWER_TARGET}x); ` +
        `capacity knee ${t.kneeRatio === null ? 'not measured' : `${ratio(t.kneeRatio)} Linux's`} (target ${KNEE_RATIO_TARGET}x); ` +
        `GET p99 below Linux's at every load up to Linux's knee: ${t.belowLinuxToKnee === null ? 'not measured' : t.belowLinuxToKnee ? 'yes' : 'no'}: ` +
        `${t.met ? 'met' : 'not met'}`,
    );
  }
  for (const n of r.evaluation.notes) lines.push(`- ${n}`);
  lines.push('', ...repeatTable(r));
  const half = r.evaluation.halfLinuxRate;
  if (half !== null) {
    const t = stageTable(r, (c) => c.points.find((p) => p.halfLinux), `### Where a GET's time goes at half the Linux saturation load (${int(half)} req/s), us`);
    if (t.length) lines.push(...t, '');
  }
  const top = stageTable(
    r,
    (c) => (c.saturation ? c.points.find((p) => p.rate === c.saturation!.rate) : undefined),
    "### Where a GET's time goes at each configuration's saturation load, us",
  );
  if (top.length) lines.push(...top, '');
  lines.push(
    'Stages: generator = scheduled arrival to pushed in the ring (generator lateness); queue = waiting in the ring for an idle worker; ' +
      'wake to run = handed to a worker and woken until it started (wakeup delivery, scheduling decision, context switch, run-queue wait); ' +
      'for Syrup it splits at the commit of the placement the worker started on: to placement = the wake() post, delivery to the agent, ' +
      'waiting in the policy\'s queue, the decision and the commit (the agent\'s half, on its cpu); placement to run = the run-word release, ' +
      'futex wake and switch on the worker cpu (a worker woken before it parked keeps its cpu and is left out of both); ' +
      'service = started to finished, including time preempted. ' +
      'Waiting for a cpu = run-queue wait (/proc/<tid>/schedstat) per second of the load: the agent behind the other threads of its cpu, the workers summed. ' +
      '"other procs" = cpu time other processes took on the benchmark\'s cpus during the load (a shared machine shows up there).',
    '',
  );
  for (const c of r.configs) {
    if (c.points.length === 0) continue;
    const desc = c.kind === 'linux' ? (c.isolation ? 'default Linux scheduler, worker cpus isolated as an enclave' : 'default Linux scheduler') : `Syrup agent, policy ${c.policy}`;
    lines.push(`### ${c.name} (${desc}, ${c.workers ?? '?'} workers), latencies in us`, '', ...sweepTable(c), '');
  }
  return lines.join('\n');
}
