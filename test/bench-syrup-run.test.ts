// bench-syrup-run.test.ts: the RocksDB-like bench end to end under a real agent: registered workers, and wake-to-run split at the placement's commit.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench } from '../bench/harness.ts';
import { availableCpus } from '../bench/layout.ts';
import { resolveOptions } from '../bench/options.ts';
import { formatCpuList } from '../bench/pin.ts';
import type { BenchReport } from '../bench/results.ts';
import { renderTables } from '../bench/table.ts';

const cpus = availableCpus();
t.test('a tiny FIFO run places every worker through the agent and splits wake to run', { skip: cpus.length < 2 ? 'needs 2 cpus' : false }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'bench-syrup-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const opts = resolveOptions({ configs: ['fifo'], loads: [300], duration: 0.5, warmup: 0.2, prime: 0.3, workers: 4, out, docs: '', progress: false, quietWait: 0, cpus: formatCpuList(cpus.slice(0, 2)) });
  const { dir } = await runBench(opts, () => {});
  const report = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as BenchReport;
  const fifo = report.configs[0];
  t.equal(fifo.status, 'ok', fifo.reason ?? '');
  t.ok(fifo.points.length >= 1);
  const p = fifo.points[0];
  t.equal(p.incomplete, 0, 'every request completed');
  const g = p.stages.get;
  t.ok(g.placed && g.start && g.keptCpu !== undefined, 'a Syrup configuration reports both halves of wake to run');
  // Each measured GET is either split at a placement committed after its hand-out, or
  // counted as having kept its cpu: the halves cover every wake, none twice.
  t.equal(g.placed!.count + g.keptCpu!, g.wake.count, `placed ${g.placed!.count} + kept ${g.keptCpu} = woken ${g.wake.count}`);
  t.ok(g.placed!.count > 0, 'workers parked between requests were started by the agent');
  t.ok(g.placed!.p50 <= g.wake.p99 && g.start!.p50 <= g.wake.p99, 'each half fits inside wake to run');
  t.ok(p.runDelay && p.runDelay.agentMsPerS !== undefined && p.runDelay.agentMsPerS >= 0, `the agent's run-queue wait is recorded: ${JSON.stringify(p.runDelay)}`);
  t.match(renderTables(report), /placement to run/, 'the stage table shows the split');
});
