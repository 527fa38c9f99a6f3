// run.ts: `npm run demo`: an agent with a policy, a piscina service whose threads register with it, and a report of what the agent did.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { formatCpuList, onlineCpus } from '../agent/topology.ts';
import { AGENT_V8_FLAGS } from '../agent/v8-flags.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: {
    policy: { type: 'string', default: 'fifo' },
    threads: { type: 'string', default: '4' },
    jobs: { type: 'string', default: '400' },
    'job-us': { type: 'string', default: '1000' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('Usage: npm run demo -- [--policy NAME|PATH] [--threads N] [--jobs N] [--job-us US]');
  process.exit(0);
}
const threads = Number(values.threads);
const jobs = Number(values.jobs);
const jobUs = Number(values['job-us']);
for (const [k, v] of [['threads', threads], ['jobs', jobs], ['job-us', jobUs]] as const) {
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`demo: --${k} must be a positive integer`);
    process.exit(2);
  }
}

// Layout: the agent spins on the last cpu; the enclave is every other cpu.
const online = onlineCpus();
if (online.length < 2) {
  console.error('demo: needs at least 2 cpus (one for the agent, one for the enclave)');
  process.exit(2);
}
const agentCpu = online[online.length - 1];
const cpus = online.slice(0, -1);
const name = `demo-${process.pid}`;
console.log(`syrup demo: enclave '${name}' on cpus ${formatCpuList(cpus)}, agent on cpu ${agentCpu}, policy ${values.policy}`);

const agent = spawn(
  process.execPath,
  [...AGENT_V8_FLAGS, path.join(root, 'bin/syrup-agent.js'), '--enclave', `cpus=${formatCpuList(cpus)}`, '--agent-cpu', String(agentCpu),
    '--policy', values.policy!, '--name', name, '--stats-interval', '1000'],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let final: Record<string, any> | undefined;
const ready = new Promise<void>((resolve, reject) => {
  let buf = '';
  agent.stdout!.on('data', (d: Buffer) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (line.msg === 'agent ready') resolve();
      else if (line.msg === 'agent stats' && line.stats.txnsPerSec > 0) {
        const m = line.stats.msgsPerSec;
        console.log(
          `  agent: ${line.stats.txnsPerSec} placements/s, messages/s: new ${m.TASK_NEW} wakeup ${m.TASK_WAKEUP} ` +
            `blocked ${m.TASK_BLOCKED} preempt ${m.TASK_PREEMPT} yield ${m.TASK_YIELD}; queue depth ${line.stats.queueDepth}`,
        );
      } else if (line.msg === 'agent stopped') final = line;
      else if (line.level >= 50) console.log(`  agent error: ${line.msg}`);
    }
  });
  agent.on('exit', (code) => reject(new Error(`agent exited (code ${code}) before it was ready`)));
});
try {
  await ready;
} catch (err) {
  // The agent already printed its one-line reason on stderr (inherited).
  console.error(`demo: ${(err as Error).message}`);
  process.exit(1);
}

const pool = new Piscina({
  filename: new URL('./piscina-worker.mjs', import.meta.url).href,
  minThreads: threads,
  maxThreads: threads,
  workerData: { enclave: name },
});
const start = performance.now();
const results = await Promise.all(Array.from({ length: jobs }, () => pool.run({ us: jobUs })));
const wallMs = performance.now() - start;
await new Promise((r) => setTimeout(r, 300));
agent.kill('SIGTERM');
await new Promise((r) => agent.on('exit', r));
await pool.destroy();

const perThread = new Map<number, { slot: number; jobs: number; runtimeNs: number; cpus: number[] }>();
for (const r of results) {
  const cur = perThread.get(r.tid);
  if (!cur || r.jobs > cur.jobs) perThread.set(r.tid, r);
}
console.log(`\nservice: ${jobs} jobs of ${jobUs} us on ${threads} registered piscina threads in ${wallMs.toFixed(0)} ms`);
console.log('  thread tid   slot   jobs   cpu ms (BPF-accounted)   ran on cpus');
for (const [tid, r] of [...perThread].sort((a, b) => a[0] - b[0])) {
  console.log(`  ${String(tid).padEnd(12)} ${String(r.slot).padEnd(6)} ${String(r.jobs).padEnd(6)} ${(r.runtimeNs / 1e6).toFixed(1).padEnd(24)} ${r.cpus.join(',')}`);
}
if (final) {
  const t = final.totals;
  console.log(`\nagent: ${t.txns} placements in ${t.commits} group commits; results ${JSON.stringify(t.txnResults)}`);
  console.log(`  messages: ${Object.entries(t.msgs).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`  shim: ${final.shim.kernelMsgs} kernel (BPF) and ${final.shim.clientMsgs} client messages, ${final.shim.signals} park signals, ` +
    `${final.shim.reordered} reordered, ${final.shim.kernelDrops + final.shim.clientDrops} dropped`);
}
const outside = [...perThread.values()].flatMap((r) => r.cpus).filter((c) => !cpus.includes(c));
console.log(outside.length === 0 ? `\nevery job ran on the enclave cpus (${formatCpuList(cpus)})` : `\njobs ran outside the enclave on cpus ${outside}`);
