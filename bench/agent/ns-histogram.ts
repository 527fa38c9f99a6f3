// ns-histogram.ts: nanosecond-resolution latency histograms for the agent micro-benchmarks (sub-microsecond floors need it).
import * as hdr from 'hdr-histogram-js';

export interface NsSummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** ns values, 3 significant digits, up to 10 s (host stalls on this VM reach milliseconds). */
export function nsHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: 3 });
}

export function recordNs(h: hdr.Histogram, ns: number): void {
  h.recordValue(Math.max(1, Math.round(ns)));
}

export function summarizeNs(h: hdr.Histogram): NsSummary {
  return {
    count: h.totalCount,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    max: h.maxValue,
  };
}
