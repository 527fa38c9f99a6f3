// histogram.ts: latency histograms (hdr-histogram-js, values in whole microseconds) and the summary every report prints.
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

/** The percentiles the harness reports, in microseconds. */
export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * 3 significant digits: 0.1 % value resolution, plenty for p99.9; autoResize
 * so a pathological multi-second stall is still recorded, not clamped.
 */
export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

/** Records a latency in microseconds; sub-microsecond and negative values count as 1 us (clock reads can cross by a hair). */
export function recordUs(h: Histogram, us: number): void {
  h.recordValue(us < 1 ? 1 : Math.round(us));
}

export function summarize(h: Histogram): Summary {
  if (h.totalCount === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  return {
    count: h.totalCount,
    mean: Math.round(h.mean * 10) / 10,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
  };
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded);
}
