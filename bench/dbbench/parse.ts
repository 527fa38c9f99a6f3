// parse.ts: reads db_bench's own report: one result line per benchmark and, with --histogram, its percentile line.
export interface DbBenchResult {
  benchmark: string;
  microsPerOp: number;
  opsPerSec: number;
  /** db_bench's elapsed seconds: first thread's start to last thread's end. */
  seconds: number;
  operations: number;
  /** Per-operation latency percentiles in microseconds, from db_bench's histogram. */
  p50: number;
  p99: number;
  p999: number;
}

const RESULT = /^(\w+)\s+:\s+([\d.]+) micros\/op (\d+) ops\/sec(?: ([\d.]+) seconds (\d+) operations)?/;
const PERCENTILES = /^Percentiles: P50: ([\d.]+) P75: [\d.]+ P99: ([\d.]+) P99\.9: ([\d.]+)/;

/** Every benchmark db_bench reported, in order; each one's percentiles are the next Percentiles line after its result line. */
export function parseDbBench(output: string): DbBenchResult[] {
  const out: DbBenchResult[] = [];
  for (const line of output.split('\n')) {
    const r = RESULT.exec(line);
    if (r) {
      out.push({
        benchmark: r[1], microsPerOp: Number(r[2]), opsPerSec: Number(r[3]),
        seconds: r[4] === undefined ? NaN : Number(r[4]), operations: r[5] === undefined ? NaN : Number(r[5]),
        p50: NaN, p99: NaN, p999: NaN,
      });
      continue;
    }
    const p = PERCENTILES.exec(line);
    const last = out[out.length - 1];
    if (p && last && Number.isNaN(last.p99)) {
      last.p50 = Number(p[1]);
      last.p99 = Number(p[2]);
      last.p999 = Number(p[3]);
    }
  }
  return out;
}
