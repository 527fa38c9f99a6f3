// evaluate.ts: saturation per configuration, ratios to the Linux default from the same run, and the targets.
import type { PhaseResult } from './protocol.ts';
import type { BelowLinux, BenchReport, ConfigResult, PointResult, Saturation, TargetCheck } from './results.ts';

/** A load misses the SLO when more than this fraction of its requests were dropped: a dropped request never completes. */
export const MAX_DROP_FRACTION = 0.01;
/** Two loads within this relative distance are the same load. */
export const SAME_LOAD = 0.03;
/** The targets for Shinjuku against the Linux default (issue 13: 3x the saturation, a 3x lower GET p99 at half of it). */
export const SAT_RATIO_TARGET = 3;
export const P99_LOWER_TARGET = 3;
/** Shinjuku's capacity knee must reach this fraction of Linux's (issue 13): a lower tail bought with lost capacity is not a win. */
export const KNEE_RATIO_TARGET = 0.8;

export function meetsSlo(p: PhaseResult, sloUs: number): boolean {
  if (p.get.count === 0 || p.incomplete > 0) return false;
  if (p.measured > 0 && p.droppedMeasured / p.measured > MAX_DROP_FRACTION) return false;
  return p.get.p99 < sloUs;
}

/**
 * Past capacity, not merely past the SLO: the median GET is over the SLO, or
 * requests are dropped or left unfinished. The sweep of a configuration stops
 * after a few of these, so each curve runs up to its knee whatever its tail.
 */
export function collapsed(p: PhaseResult, sloUs: number): boolean {
  if (p.incomplete > 0 || p.get.count === 0) return true;
  if (p.measured > 0 && p.droppedMeasured / p.measured > MAX_DROP_FRACTION) return true;
  return p.get.p50 >= sloUs;
}

/** ghOSt's definition: the highest load whose GET p99 stays under the SLO. */
export function saturation(points: readonly PointResult[]): Saturation | null {
  const sorted = [...points].sort((a, b) => a.rate - b.rate);
  let best: PointResult | null = null;
  for (const p of sorted) if (p.sloMet) best = p;
  if (!best) return null;
  const miss = sorted.find((p) => !p.sloMet);
  return { rate: best.rate, achieved: best.achieved, getP99: best.get.p99, firstMissRate: miss ? miss.rate : null };
}

/** The capacity knee: the point of highest achieved throughput among the loads that had not collapsed. */
export function kneePoint(points: readonly PointResult[], sloUs: number): PointResult | null {
  let best: PointResult | null = null;
  for (const p of points) if (!collapsed(p, sloUs) && (!best || p.achieved > best.achieved)) best = p;
  return best;
}

/**
 * GET p99 against Linux's at every load Linux ran up to its knee (linuxKnee,
 * kneePoint of its points). A load the configuration did not run counts as not
 * beaten: the sweep skips loads only past a configuration's own collapse.
 */
export function belowLinux(c: ConfigResult, linux: ConfigResult, linuxKnee: PointResult): BelowLinux {
  let loads = 0;
  let below = 0;
  let worst: BelowLinux['worst'] = null;
  for (const l of linux.points) {
    if (l.rate > linuxKnee.rate || l.get.count === 0) continue;
    loads++;
    const p = pointAt(c.points, l.rate);
    const p99 = p && p.get.count > 0 ? p.get.p99 : Infinity;
    if (p99 < l.get.p99) below++;
    else if (!worst || p99 / l.get.p99 > worst.p99 / worst.linuxP99) worst = { rate: l.rate, p99, linuxP99: l.get.p99 };
  }
  return { loads, below, worst };
}

export function sameLoad(a: number, b: number): boolean {
  return Math.abs(a - b) <= SAME_LOAD * Math.max(a, b);
}

export function pointAt(points: readonly PointResult[], rate: number): PointResult | undefined {
  return points.find((p) => sameLoad(p.rate, rate));
}

/** Fills saturation, ratios and the half-load comparison into every configuration, and the run's evaluation. */
export function evaluate(report: BenchReport): void {
  const linux = report.configs.find((c) => c.kind === 'linux' && c.status !== 'skipped');
  for (const c of report.configs) c.saturation = saturation(c.points);
  const linuxSat = linux?.saturation ?? null;
  // The harness runs the comparison load once (rounded) and flags it; fall
  // back to the nearest point for results assembled by hand.
  const flagged = linux?.points.find((p) => p.halfLinux);
  const half = flagged ? flagged.rate : linuxSat ? linuxSat.rate / 2 : null;
  const at = (c: ConfigResult) => c.points.find((p) => p.halfLinux) ?? (half !== null ? pointAt(c.points, half) : undefined);
  const linuxHalf = linux ? at(linux) : undefined;
  const notes: string[] = [];
  for (const c of report.configs) {
    c.satRatioToLinux = c.saturation && linuxSat && linuxSat.achieved > 0 ? c.saturation.achieved / linuxSat.achieved : null;
    const p = at(c);
    c.halfLinux = p ? { rate: p.rate, getP99: p.get.p99, p99LowerBy: linuxHalf && p.get.p99 > 0 ? linuxHalf.get.p99 / p.get.p99 : null } : null;
    c.knee = kneePoint(c.points, report.options.sloUs)?.achieved ?? null;
  }
  const linuxKnee = linux ? kneePoint(linux.points, report.options.sloUs) : null;
  for (const c of report.configs) {
    c.kneeRatioToLinux = c.knee && linuxKnee ? c.knee / linuxKnee.achieved : null;
    c.belowLinux = linux && linuxKnee && c !== linux ? belowLinux(c, linux, linuxKnee) : null;
  }
  if (!linux) notes.push('no Linux baseline in this run: ratios are not computed');
  else if (!linuxSat) notes.push(`the Linux baseline missed the SLO at every load run (lowest ${Math.min(...linux.points.map((p) => p.rate))} req/s): its saturation is below the sweep`);
  for (const c of report.configs) {
    if (c.status === 'ok' && c.saturation && c.saturation.firstMissRate === null && c.points.length > 0) {
      notes.push(`${c.name} met the SLO at every load run: its saturation is at least ${c.saturation.rate} req/s (the sweep stopped there)`);
    }
  }
  const targets: TargetCheck[] = report.configs
    .filter((c) => c.kind === 'syrup' && c.status !== 'skipped')
    .map((c) => {
      const beats = c.belowLinux ? c.belowLinux.loads > 0 && c.belowLinux.below === c.belowLinux.loads : null;
      return {
        config: c.name,
        satRatio: c.satRatioToLinux,
        satRatioTarget: SAT_RATIO_TARGET,
        p99LowerBy: c.halfLinux?.p99LowerBy ?? null,
        p99LowerByTarget: P99_LOWER_TARGET,
        kneeRatio: c.kneeRatioToLinux ?? null,
        kneeRatioTarget: KNEE_RATIO_TARGET,
        belowLinuxToKnee: beats,
        met:
          (c.satRatioToLinux ?? 0) >= SAT_RATIO_TARGET &&
          (c.halfLinux?.p99LowerBy ?? 0) >= P99_LOWER_TARGET &&
          (c.kneeRatioToLinux ?? 0) >= KNEE_RATIO_TARGET &&
          beats === true,
      };
    });
  report.evaluation = { linuxSaturation: linuxSat, halfLinuxRate: half, targets, notes };
}

export function emptyConfig(name: string, kind: ConfigResult['kind']): ConfigResult {
  return { name, kind, status: 'ok', points: [], saturation: null, satRatioToLinux: null, halfLinux: null };
}
