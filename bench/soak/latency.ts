// latency.ts: the soak's request-latency summary, in the shape its report prints, over the harness's histograms (bench/histogram.ts).
import { summarize, type Histogram } from '../histogram.ts';

export interface LatencySummary {
  count: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export function summarizeLatency(h: Histogram): LatencySummary {
  const s = summarize(h);
  return { count: s.count, p50Us: s.p50, p99Us: s.p99, p999Us: s.p999, maxUs: s.max };
}
