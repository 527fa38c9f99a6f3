// run.ts: `npm run bench:dbbench`: Debian's unmodified db_bench on one cpu, under Linux and under syrup-run with each policy, from db_bench's own histograms.
/*
 * One database (fillseq, on tmpfs) is built first and read by every run. Each
 * configuration then runs the same db_bench command (readrandom and
 * seekrandom, several threads) on one cpu: Linux pinned to it with taskset,
 * a policy as the enclave of one cpu with the program under syrup-run. The
 * agent isolates its cpu, so the Linux run happens with no agent up. The
 * numbers are db_bench's: ops/s over its own elapsed time and per-op latency
 * percentiles from --histogram. Every run must complete; one that does not
 * fails the benchmark.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AgentProcess } from '../agent-process.ts';
import { REPO_ROOT } from '../configs.ts';
import { replaceSection } from '../doc-section.ts';
import { onlineCpus } from '../../agent/topology.ts';
import { policyNames } from '../../policies/registry.ts';
import { parseDbBench, type DbBenchResult } from './parse.ts';

export const USAGE = `Usage: npm run bench:dbbench -- [options]

  --configs LIST      linux and policy names, comma-separated (default linux,fifo,shinjuku)
  --threads N         db_bench --threads (default 4)
  --duration S        seconds per benchmark (default 3); --reads N instead runs N reads per thread
  --keys N            keys in the database (default 1000000, 100-byte values)
  --benchmarks LIST   db_bench benchmarks to run on it (default readrandom,seekrandom)
  --repeats N         runs of each configuration, interleaved (default 1)
  --enclave-cpu N     the one cpu every configuration runs on (default 0)
  --agent-cpu N       the agent's cpu (default 1)
  --out DIR           results directory (default bench/results/dbbench-<time>)
  --docs FILE         markdown file whose dbbench section is regenerated (default docs/benchmarks.md);
  --no-docs           leave the docs alone (the default with --reads)`;

export interface DbBenchOptions {
  configs: string[];
  threads: number;
  durationS: number;
  reads: number;
  keys: number;
  benchmarks: string[];
  repeats: number;
  enclaveCpu: number;
  agentCpu: number;
  out: string;
  docs: string;
}

export class DbBenchOptionError extends Error {}

function positive(field: string, v: string | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new DbBenchOptionError(`${field} must be an integer >= ${min} (got ${JSON.stringify(v)})`);
  return Number(v);
}

export function parseDbBenchArgs(argv: string[]): DbBenchOptions {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      configs: { type: 'string' }, threads: { type: 'string' }, duration: { type: 'string' }, reads: { type: 'string' },
      keys: { type: 'string' }, benchmarks: { type: 'string' }, repeats: { type: 'string' }, 'enclave-cpu': { type: 'string' },
      'agent-cpu': { type: 'string' }, out: { type: 'string' }, docs: { type: 'string' }, 'no-docs': { type: 'boolean' },
    },
    strict: true,
  });
  const cpus = onlineCpus();
  const enclaveCpu = positive('--enclave-cpu', v['enclave-cpu'], 0, 0);
  const agentCpu = positive('--agent-cpu', v['agent-cpu'], cpus.find((c) => c !== enclaveCpu) ?? 1, 0);
  for (const [f, c] of [['--enclave-cpu', enclaveCpu], ['--agent-cpu', agentCpu]] as const) {
    if (!cpus.includes(c)) throw new DbBenchOptionError(`${f} ${c} is not an online cpu`);
  }
  if (enclaveCpu === agentCpu) throw new DbBenchOptionError('--enclave-cpu and --agent-cpu must differ');
  const reads = positive('--reads', v.reads, 0, 1);
  const benchmarks = (v.benchmarks ?? 'readrandom,seekrandom').split(',').filter(Boolean);
  if (benchmarks.some((b) => !/^\w+$/.test(b))) throw new DbBenchOptionError(`--benchmarks must be db_bench benchmark names (got ${JSON.stringify(v.benchmarks)})`);
  const configs = (v.configs ?? 'linux,fifo,shinjuku').split(',').filter(Boolean);
  if (configs.length === 0) throw new DbBenchOptionError('--configs is empty');
  const unknown = configs.find((c) => c !== 'linux' && !policyNames.includes(c));
  if (unknown !== undefined) throw new DbBenchOptionError(`--configs: ${JSON.stringify(unknown)} is neither linux nor a built-in policy (${policyNames.join(', ')})`);
  return {
    configs,
    threads: positive('--threads', v.threads, 4),
    durationS: positive('--duration', v.duration, 3),
    reads,
    keys: positive('--keys', v.keys, 1_000_000, 1000),
    benchmarks,
    repeats: positive('--repeats', v.repeats, 1),
    enclaveCpu,
    agentCpu,
    out: v.out ?? path.join(REPO_ROOT, 'bench/results', `dbbench-${new Date().toISOString().replace(/[:.]/g, '-')}`),
    docs: v['no-docs'] || (reads > 0 && v.docs === undefined) ? '' : v.docs ?? path.join(REPO_ROOT, 'docs/benchmarks.md'),
  };
}

export interface DbBenchRun {
  config: string;
  repeat: number;
  wallS: number;
  results: DbBenchResult[];
  /** The agent's shim counters at its exit (signals, affinity calls...), for policy runs. */
  agent: unknown;
}

function runToEnd(cmd: string, args: string[], limitMs: number): Promise<{ code: number | null; out: string; wallS: number }> {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: limitMs, killSignal: 'SIGKILL' });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => resolve({ code, out, wallS: Number(process.hrtime.bigint() - start) / 1e9 }));
  });
}

export async function runDbBench(o: DbBenchOptions, log: (m: string) => void): Promise<DbBenchRun[]> {
  mkdirSync(o.out, { recursive: true });
  // tmpfs, so the reads measure RocksDB's cpu path and the scheduler, not a disk.
  const db = mkdtempSync('/dev/shm/syrup-dbbench-');
  try {
    log(`building a ${o.keys}-key database in ${db}`);
    execFileSync('db_bench', ['--benchmarks=fillseq', `--num=${o.keys}`, '--value_size=100', '--compression_type=none', `--db=${db}`], { stdio: 'pipe' });
    const readArgs = [
      `--benchmarks=${o.benchmarks.join(',')}`, '--use_existing_db=1', `--num=${o.keys}`, `--db=${db}`, `--threads=${o.threads}`,
      '--histogram=1', '--compression_type=none', ...(o.reads > 0 ? [`--reads=${o.reads}`] : [`--duration=${o.durationS}`]),
    ];
    // Every benchmark gets its duration per thread-turn at worst (a policy that never preempts runs the threads one after another).
    const limitMs = 60_000 + o.benchmarks.length * o.threads * (o.durationS + 5) * 1000;
    const runs: DbBenchRun[] = [];
    for (let repeat = 0; repeat < o.repeats; repeat++) {
      for (const config of o.configs) {
        let agent: AgentProcess | undefined;
        let cmd: string[];
        if (config === 'linux') {
          cmd = ['taskset', '-c', String(o.enclaveCpu), 'db_bench', ...readArgs];
        } else {
          const name = `dbbench-${process.pid}`;
          agent = await AgentProcess.start({
            policy: config, policyOpts: [], enclaveCpus: [o.enclaveCpu], agentCpu: o.agentCpu, name,
            idleYield: false, preemptGraceUs: 40, idleSleepUs: 0, priority: 0, fairShareUs: -1, idlePollUs: 0,
          });
          cmd = [process.execPath, path.join(REPO_ROOT, 'bin/syrup-run.js'), '--enclave', name, '--', 'db_bench', ...readArgs];
        }
        log(`${config} #${repeat + 1}: ${cmd.slice(cmd.indexOf('db_bench')).join(' ')}`);
        const r = await runToEnd(cmd[0], cmd.slice(1), limitMs);
        const outcome = agent ? await agent.stop() : undefined;
        writeFileSync(path.join(o.out, `${config}-${repeat + 1}.log`), r.out);
        const results = parseDbBench(r.out);
        if (r.code !== 0 || results.length !== o.benchmarks.length) {
          throw new Error(`${config}: db_bench did not complete (exit ${r.code}, ${results.length}/${o.benchmarks.length} results):\n${r.out.slice(-2000)}`);
        }
        runs.push({ config, repeat: repeat + 1, wallS: r.wallS, results, agent: outcome?.stopped ?? null });
      }
    }
    writeFileSync(path.join(o.out, 'results.json'), JSON.stringify({ options: o, runs }, null, 2));
    return runs;
  } finally {
    rmSync(db, { recursive: true, force: true });
  }
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');

/** One table per benchmark: each run's ops/s and percentiles, and the ratio to the Linux run of the same repeat. */
export function renderDbBench(o: DbBenchOptions, runs: DbBenchRun[], command: string): string {
  const lines = [
    '## db_bench (unmodified RocksDB tool) under syrup-run, one cpu',
    '',
    `Debian's \`db_bench\` (rocksdb-tools ${dbBenchVersion()}), ${o.keys.toLocaleString('en-US')} keys of 100 bytes on tmpfs, ` +
      `${o.threads} threads, ${o.reads > 0 ? `${o.reads} reads per thread` : `${o.durationS} s per benchmark`}, all on cpu ${o.enclaveCpu}: ` +
      `Linux pinned there with taskset, each policy as a one-cpu enclave (agent on cpu ${o.agentCpu}) with db_bench under \`syrup-run\`. ` +
      'Numbers are db_bench\'s own: ops/s over its elapsed time, per-operation latency from its histogram (us). ' +
      `Generated ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`${command}\`.`,
    '',
  ];
  for (const b of o.benchmarks) {
    lines.push(`### ${b}`, '', '| config | run | ops/s | vs Linux | elapsed s | p50 us | p99 us | p99.9 us |', '|---|---|---|---|---|---|---|---|');
    for (const r of runs) {
      const res = r.results.find((x) => x.benchmark === b);
      if (!res) continue;
      const linux = runs.find((x) => x.config === 'linux' && x.repeat === r.repeat)?.results.find((x) => x.benchmark === b);
      const ratio = linux ? `${(res.opsPerSec / linux.opsPerSec).toFixed(2)}x` : '-';
      lines.push(`| ${r.config} | ${r.repeat} | ${res.opsPerSec.toLocaleString('en-US')} | ${ratio} | ${f2(res.seconds)} | ${f2(res.p50)} | ${f2(res.p99)} | ${f1(res.p999)} |`);
    }
    lines.push('');
  }
  const rates = o.configs.filter((c) => c !== 'linux').map((c) => {
    const mine = runs.filter((r) => r.config === c);
    const pre = mine.reduce((s, r) => s + ((r.agent as { totals?: { preemptions?: number } } | null)?.totals?.preemptions ?? 0), 0);
    const secs = mine.reduce((s, r) => s + r.results.reduce((x, y) => x + (Number.isFinite(y.seconds) ? y.seconds : 0), 0), 0);
    return `${c} ${secs > 0 ? Math.round(pre / secs).toLocaleString('en-US') : '-'}/s`;
  });
  lines.push(
    `Preemptions by the agent (mean over the runs): ${rates.join(', ')}. ` +
      'How to read it: a policy that never preempts (FIFO) runs db_bench\'s threads one after another (elapsed = threads x ' +
      'duration), so an operation is never cut by a switch and its p99.9 stays in the tens of microseconds. Linux time-slices ' +
      'the threads on the one cpu, and Shinjuku preempts them by signal (db_bench never calls checkpoint()); an operation that ' +
      'is cut waits for the other threads\' turns, which is the milliseconds at p99.9. Throughput is the one cpu\'s in every ' +
      'configuration: a db_bench thread never blocks, so between preemptions the agent has nothing to do.',
  );
  return lines.join('\n');
}

function dbBenchVersion(): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', 'rocksdb-tools'], { encoding: 'utf8' }).trim();
  } catch {
    return 'version unknown';
  }
}

async function main(): Promise<number> {
  let o: DbBenchOptions;
  try {
    o = parseDbBenchArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof DbBenchOptionError) && !(e instanceof TypeError)) throw e;
    process.stderr.write(`bench:dbbench: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const runs = await runDbBench(o, (m) => process.stderr.write(`bench:dbbench: ${m}\n`));
  const md = renderDbBench(o, runs, `npm run bench:dbbench -- ${process.argv.slice(2).join(' ')}`.trim());
  writeFileSync(path.join(o.out, 'report.md'), md + '\n');
  process.stdout.write(md + '\n');
  if (o.docs) replaceSection(o.docs, '<!-- dbbench:begin -->', '<!-- dbbench:end -->', md);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  main().then((c) => process.exit(c), (e: unknown) => {
    process.stderr.write(`bench:dbbench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
