// clock.ts: a microsecond monotonic clock that agrees across the threads of one process (and across processes).
/*
 * performance.now() is cheap and allocation-free but its origin is per thread
 * (each worker_thread has its own timeOrigin, measured ~20 us apart here), so
 * timestamps taken by the generator, the dispatcher and the workers would not
 * compare. process.hrtime is CLOCK_MONOTONIC, shared by every thread, but
 * allocates a BigInt per call. So each thread measures, once, the offset from
 * its performance.now() to hrtime (keeping the sample with the tightest
 * bracket), and afterwards reads performance.now() plus that offset.
 */

function measureOffsetUs(): number {
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < 200; i++) {
    const a = performance.now();
    const hr = Number(process.hrtime.bigint()) / 1e3;
    const b = performance.now();
    const width = b - a;
    if (width < best) {
      best = width;
      offset = hr - ((a + b) / 2) * 1e3;
    }
  }
  return offset;
}

const offsetUs = measureOffsetUs();

/** Microseconds on CLOCK_MONOTONIC, comparable between threads and processes. */
export function nowUs(): number {
  return performance.now() * 1e3 + offsetUs;
}
