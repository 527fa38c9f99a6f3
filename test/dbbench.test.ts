// dbbench.test.ts: Debian's unmodified db_bench completes under syrup-run with FIFO and Shinjuku beside Linux, and its own report is read right.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDbBench } from '../bench/dbbench/parse.ts';
import { DbBenchOptionError, parseDbBenchArgs, runDbBench } from '../bench/dbbench/run.ts';
import { AGENT_CPU, ENCLAVE_CPU } from './helpers/cpus.ts';

t.test("db_bench's result and percentile lines", async (t) => {
  const out = [
    'readrandom   :      11.905 micros/op 334587 ops/sec 2.011 seconds 672996 operations;   37.0 MB/s (169999 of 169999 found)',
    'Microseconds per read:',
    'Count: 672996 Average: 2.9  StdDev: 12.1',
    'Percentiles: P50: 2.60 P75: 3.37 P99: 5.35 P99.9: 67.22 P99.99: 13393.38',
    'seekrandom   :      13.897 micros/op 287154 ops/sec 2.009 seconds 576996 operations; (142999 of 142999 found)',
    'Percentiles: P50: 3.23 P75: 3.71 P99: 5.87 P99.9: 92.20 P99.99: 13585.26',
  ].join('\n');
  t.same(parseDbBench(out), [
    { benchmark: 'readrandom', microsPerOp: 11.905, opsPerSec: 334587, seconds: 2.011, operations: 672996, p50: 2.6, p99: 5.35, p999: 67.22 },
    { benchmark: 'seekrandom', microsPerOp: 13.897, opsPerSec: 287154, seconds: 2.009, operations: 576996, p50: 3.23, p99: 5.87, p999: 92.2 },
  ]);
});

t.test('bad options name the field', async (t) => {
  t.throws(() => parseDbBenchArgs(['--threads', '0']), new DbBenchOptionError('--threads must be an integer >= 1 (got "0")'));
  t.throws(() => parseDbBenchArgs(['--benchmarks', 'read;rm']), /--benchmarks must be db_bench benchmark names/);
  t.throws(() => parseDbBenchArgs(['--enclave-cpu', '1', '--agent-cpu', '1']), /must differ/);
  t.throws(() => parseDbBenchArgs(['--configs', 'linux,nosuch']), /--configs: "nosuch" is neither linux nor a built-in policy/);
  t.equal(parseDbBenchArgs(['--reads', '10']).docs, '', 'a --reads smoke run leaves the docs alone');
});

const haveDbBench = (() => {
  try {
    execFileSync('db_bench', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();

// cpus: ENCLAVE_CPU for every configuration, AGENT_CPU for the agent (helpers/cpus.ts).
t.test('a short run: every configuration completes with both benchmarks', { skip: haveDbBench ? false : 'db_bench (rocksdb-tools) not installed' }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'dbbench-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const o = { ...parseDbBenchArgs(['--reads', '5000', '--keys', '20000', '--threads', '3', '--out', out]), enclaveCpu: ENCLAVE_CPU, agentCpu: AGENT_CPU };
  const runs = await runDbBench(o, () => {});
  t.same(runs.map((r) => r.config), ['linux', 'fifo', 'shinjuku']);
  for (const r of runs) {
    t.same(r.results.map((x) => x.benchmark), ['readrandom', 'seekrandom'], `${r.config}: both benchmarks reported`);
    for (const x of r.results) {
      t.equal(x.operations, 3 * 5000, `${r.config} ${x.benchmark}: every read ran`);
      t.ok(x.p99 > 0, `${r.config} ${x.benchmark}: with a histogram`);
    }
  }
  const fifo = runs.find((r) => r.config === 'fifo')!.agent as { shim?: { kernelMsgs?: number } } | null;
  t.ok((fifo?.shim?.kernelMsgs ?? 0) > 0, "db_bench's threads were the agent's tasks (kernel events reached it)");
  t.ok(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).runs.length === 3, 'results.json written');
});
