// rocksdb-server.test.ts: the real-RocksDB server (bench/rocksdb): its records become the model server's phase result, and a short sweep runs Linux and FIFO end to end.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench } from '../bench/harness.ts';
import { availableCpus } from '../bench/layout.ts';
import { resolveOptions } from '../bench/options.ts';
import { formatCpuList } from '../bench/pin.ts';
import type { BenchReport } from '../bench/results.ts';
import { phaseResult } from '../bench/rocksdb/native-server.ts';

const done = { bench: 'phase' as const, phase: 3, rate: 100, durationS: 2, generated: 250, measured: 200, dropped: 1, droppedMeasured: 1, incomplete: 0, records: '', count: 3, checkpointYields: 4 };

t.test('per-request records into histograms and stages', async (t) => {
  // intended, pushed, dispatched, started, ended, placed, flags, yields
  const recs = new Float64Array([
    100, 101, 110, 140, 150, 130, 2, 0, // GET, placed after its hand-out: split 20 + 10
    200, 200, 205, 206, 210, 50, 2, 0, // GET that kept its cpu (placement older than the hand-out)
    300, 302, 303, 350, 2350, NaN, 3, 4, // RANGE under Linux (no placement)
  ]);
  const r = phaseResult(done, recs);
  t.equal(r.completedMeasured, 3);
  t.equal(r.achieved, 1.5, 'completed measured requests per second of the window');
  t.equal(r.offered, 100);
  t.equal(r.get.count, 2);
  t.equal(r.range.count, 1);
  t.equal(r.get.max, 50, 'latency from the scheduled arrival');
  t.equal(r.stages.get.placed!.count, 1);
  t.equal(r.stages.get.placed!.max, 20, 'hand-out to commit');
  t.equal(r.stages.get.start!.max, 10, 'commit to start');
  t.equal(r.stages.get.keptCpu, 1);
  t.equal(r.stages.range.service.max, 2000);
  t.equal(r.stages.range.placed, undefined, 'no split without a placement time');
  t.equal(r.checkpointYields, 4);
  t.equal(r.droppedMeasured, 1);
});

const cpus = availableCpus();
const haveRocksdb = existsSync('/usr/include/rocksdb/db.h');
t.test('a short sweep against a real RocksDB: Linux and FIFO', { skip: cpus.length < 2 ? 'needs 2 cpus' : !haveRocksdb ? 'librocksdb-dev not installed' : false }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'bench-rocksdb-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const opts = resolveOptions({ server: 'rocksdb', rocksdbKeys: 20_000, configs: ['linux', 'fifo'], loads: [300], duration: 0.5, warmup: 0.2, prime: 0.3, workers: 4, out, docs: '', progress: false, quietWait: 0, stopAfter: 0, refine: 0, cpus: formatCpuList(cpus.slice(0, 2)) });
  const { dir } = await runBench(opts, () => {});
  const report = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as BenchReport;
  t.same(report.configs.map((c) => c.status), ['ok', 'ok']);
  const k = report.configs[0].calibration!;
  t.equal(k.getLookups, 1, 'a GET is one Get');
  t.ok(k.rangeEntries > 100, `a RANGE scans ~500 GETs of entries (${k.rangeEntries})`);
  for (const c of report.configs) {
    const p = c.points[0];
    t.equal(p.incomplete, 0, `${c.name}: every request completed`);
    t.ok(p.get.count > 50, `${c.name}: GETs measured (${p.get.count})`);
  }
  const g = report.configs[1].points[0].stages.get;
  t.ok(g.placed && g.placed.count + g.keptCpu! === g.wake.count, 'FIFO: the workers registered through libsyrup report their placements');
});
