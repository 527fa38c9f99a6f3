// native-server.ts: builds and drives the native RocksDB server (server.cc): the database and calibration once per run, then the same phase protocol as bench/server.ts.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Calibration } from '../calibrate.ts';
import { REPO_ROOT } from '../configs.ts';
import { TypeStats } from '../dispatcher.ts';
import { encodeHistogram, recordUs, summarize } from '../histogram.ts';
import { JsonLineChild } from '../json-child.ts';
import { formatCpuList } from '../pin.ts';
import type { PhaseCommand, PhaseResult, RequestMix, ServerConfig, ServerEvent } from '../protocol.ts';

const SOURCE = fileURLToPath(new URL('./server.cc', import.meta.url));
const CLIENT = path.join(REPO_ROOT, 'client');
const STARTUP_LIMIT_MS = 120_000;
/** A RANGE scans this many GETs' worth of entries (the issue's "~500x a GET"). */
export const RANGE_X = 500;
/** Fields of one request record, as server.cc's struct Record writes them (doubles). */
const RECORD = ['intended', 'pushed', 'dispatched', 'started', 'ended', 'placed', 'flags', 'yields'] as const;
const KIND_RANGE = 1;

/** What a run shares between its servers: one binary, one database, one calibration. */
export interface RocksdbRun {
  bin: string;
  db: string;
  keys: number;
  records: string;
  getUs: number;
  entryUs: number;
  rangeEntries: number;
  rangeUs: number;
  buildS: number;
  calibration: Calibration;
  cleanup(): void;
}

function buildServer(outDir: string): string {
  const bin = path.join(outDir, 'rocksdb_server');
  mkdirSync(outDir, { recursive: true });
  try {
    execFileSync('g++', [
      '-O2', '-std=c++17', '-Wall', '-pthread', `-I${path.join(CLIENT, 'include')}`, SOURCE, '-o', bin,
      `-L${path.join(CLIENT, 'build')}`, '-lsyrup', `-Wl,-rpath,${path.join(CLIENT, 'build')}`, '-lrocksdb',
    ], { stdio: 'pipe' });
  } catch (e) {
    const err = e as { stderr?: Buffer };
    const text = err.stderr?.toString() ?? String(e);
    const hint = /rocksdb\/db\.h|lrocksdb/.test(text) ? ' (install librocksdb-dev: npm install does it as root)' : '';
    throw new Error(`building the RocksDB server failed${hint}:\n${text.slice(-1500)}`);
  }
  return bin;
}

/** Build the server and a database of `keys` keys on tmpfs, and time one Get and one iterator entry on `cpu`. */
export function prepareRocksdb(keys: number, cpu: number, outDir: string): RocksdbRun {
  const bin = buildServer(path.join(outDir, 'bin'));
  const db = mkdtempSync('/dev/shm/syrup-rocksdb-');
  const records = mkdtempSync('/dev/shm/syrup-rocksdb-records-');
  const cleanup = () => {
    rmSync(db, { recursive: true, force: true });
    rmSync(records, { recursive: true, force: true });
  };
  try {
    const out = execFileSync('taskset', ['-c', String(cpu), bin, '--calibrate', '--db', db, '--keys', String(keys), '--range-x', String(RANGE_X)], { encoding: 'utf8', timeout: 600_000 });
    const line = out.split('\n').find((l) => l.includes('"bench":"calibration"'));
    if (!line) throw new Error(`no calibration from the RocksDB server:\n${out.slice(-1500)}`);
    const c = JSON.parse(line) as { getUs: number; entryUs: number; rangeEntries: number; rangeUs: number; buildS: number };
    return {
      bin, db, keys, records, cleanup, ...c,
      // In the model server's terms: a GET is one Get, a RANGE rangeEntries Next()s.
      calibration: { lookupNs: c.getUs * 1e3, scanEntryNs: c.entryUs * 1e3, getLookups: 1, rangeEntries: c.rangeEntries, checkGetUs: c.getUs, checkRangeUs: c.rangeUs },
    };
  } catch (e) {
    cleanup();
    throw e;
  }
}

/** The request mix the sweep's loads are planned from: measured, not configured. */
export function rocksdbMix(run: RocksdbRun, rangeFrac: number): RequestMix {
  return { getUs: run.getUs, getExpUs: 0, rangeUs: run.rangeUs, rangeFrac };
}

type Ready = Extract<ServerEvent, { bench: 'ready' }>;
interface PhaseDone {
  bench: 'phase';
  phase: number;
  rate: number;
  durationS: number;
  generated: number;
  measured: number;
  dropped: number;
  droppedMeasured: number;
  incomplete: number;
  records: string;
  count: number;
  checkpointYields: number;
}

/** The per-request records of a phase into the same PhaseResult the model server's dispatcher builds. */
export function phaseResult(done: PhaseDone, data: Float64Array): PhaseResult {
  const get = new TypeStats();
  const range = new TypeStats();
  const n = RECORD.length;
  for (let i = 0; i + n <= data.length; i += n) {
    const [intended, pushed, dispatched, started, ended, placed, flags] = data.subarray(i, i + n);
    const s = (flags & KIND_RANGE) !== 0 ? range : get;
    recordUs(s.total, ended - intended);
    recordUs(s.generator, pushed - intended);
    recordUs(s.queue, dispatched - pushed);
    s.recordWake(dispatched, placed, started);
    recordUs(s.service, ended - started);
  }
  const completedMeasured = data.length / n;
  const result: PhaseResult = {
    phase: done.phase,
    rate: done.rate,
    durationS: done.durationS,
    offered: done.measured / done.durationS,
    achieved: completedMeasured / done.durationS,
    generated: done.generated,
    measured: done.measured,
    dropped: done.dropped,
    droppedMeasured: done.droppedMeasured,
    completedMeasured,
    incomplete: done.incomplete,
    get: summarize(get.total),
    range: summarize(range.total),
    stages: { get: get.stages(), range: range.stages() },
    checkpointYields: done.checkpointYields,
    encoded: { get: encodeHistogram(get.total), range: encodeHistogram(range.total) },
  };
  for (const h of [...get.all(), ...range.all()]) h.destroy();
  return result;
}

/** The native server as the harness drives it: the interface of ServerProcess. */
export class NativeServerProcess extends JsonLineChild<{ bench: string }> {
  static async start(config: ServerConfig, run: RocksdbRun): Promise<{ server: NativeServerProcess; ready: Ready }> {
    // RANGE checkpoints every checkpointUs of scanning, as the model server's RANGE does.
    const checkpointEntries = Math.max(1, Math.round(config.checkpointUs / run.entryUs));
    const args = [
      '--db', run.db, '--keys', String(run.keys), '--range-entries', String(run.rangeEntries), '--workers', String(config.workers),
      '--worker-cpus', formatCpuList(config.workerCpus), '--helper-cpus', formatCpuList(config.helperCpus),
      '--dispatcher-cpu', String(config.dispatcherCpu), '--generator-cpu', String(config.generatorCpu),
      '--parker', config.parker, '--enclave', config.enclave, '--range-frac', String(config.mix.rangeFrac),
      '--checkpoint-entries', String(checkpointEntries), '--out', run.records,
      '--hint-get-ns', String(Math.round(run.getUs * 1e3)), '--hint-range-ns', String(Math.round(run.rangeUs * 1e3)),
      ...(config.dispatcherSleeps ? ['--dispatcher-sleeps'] : []), ...(config.generatorSleeps ? ['--generator-sleeps'] : []),
      ...(config.realtimeFrontEnd ? ['--realtime-prio', String(config.frontEndPriority)] : []),
    ];
    const server = new NativeServerProcess(spawn(run.bin, args, { stdio: ['pipe', 'pipe', 'pipe'] }), 'rocksdb server');
    const ev = await server.ready(STARTUP_LIMIT_MS);
    return { server, ready: { ...(ev as unknown as Ready), calibration: run.calibration } };
  }

  async runPhase(cmd: PhaseCommand): Promise<PhaseResult> {
    const ev = (await this.ask(cmd)) as unknown as PhaseDone;
    if (ev.bench !== 'phase') throw new Error(`rocksdb server sent ${String(ev.bench)}, expected a phase result`);
    const buf = readFileSync(ev.records);
    rmSync(ev.records, { force: true });
    // A copy: a small file's Buffer may sit at an offset of Node's pool that is not 8-aligned.
    const data = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    if (data.length !== ev.count * RECORD.length) throw new Error(`rocksdb server: ${ev.records} holds ${data.length / RECORD.length} records, expected ${ev.count}`);
    return phaseResult(ev, data);
  }
}
