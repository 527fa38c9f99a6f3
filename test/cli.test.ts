// cli.test.ts: every bad input to syrup-agent exits non-zero with a one-line message naming the problem.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { enclaveName, runAgentCli, startAgent } from './helpers/live.ts';
import { parseCpuList, formatCpuList } from '../agent/topology.ts';
import { resolveAgentOptions } from '../agent/options.ts';

const ncpu = fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();

t.test('cpulist parsing', async (t) => {
  t.same(parseCpuList('0-3,8,10-11', 'cpus', 16), [0, 1, 2, 3, 8, 10, 11]);
  t.same(parseCpuList(' 3,1,1-2 ', 'cpus', 16), [1, 2, 3], 'sorted and deduplicated');
  t.equal(formatCpuList([0, 1, 2, 3, 8, 10, 11]), '0-3,8,10-11');
  t.throws(() => parseCpuList('', 'cpus', 4), /cpus must name at least one cpu/);
  t.throws(() => parseCpuList('1-', 'cpus', 4), /'1-' is not a cpu or range/);
  t.throws(() => parseCpuList('a', 'cpus', 4), /'a' is not a cpu or range/);
  t.throws(() => parseCpuList('3-1', 'cpus', 4), /runs backwards/);
  t.throws(() => parseCpuList('0-7', 'cpus', 4), /cpu 7 is out of range \(this machine has cpus 0-3\)/);
});

t.test('options validation names the field', async (t) => {
  t.throws(() => resolveAgentOptions({ cpus: [] }), /options\.cpus must be a non-empty list/);
  t.throws(() => resolveAgentOptions({ cpus: [0], agentCpu: 0 }), /options\.agentCpu \(0\) must not be one of the enclave cpus/);
  t.throws(() => resolveAgentOptions({ cpus: [0], agentCpu: 1, name: 'a/b' }), /options\.name must be/);
  t.throws(() => resolveAgentOptions({ cpus: [0], agentCpu: 1, maxTasks: 0 }), /options\.maxTasks must be an integer in \[1, 4096\]/);
  t.throws(() => resolveAgentOptions({ cpus: [0], agentCpu: 1, yieldEveryMs: 0 }), /options\.yieldEveryMs must be a number > 0/);
  t.throws(() => resolveAgentOptions({ cpus: [0], agentCpu: 1, preemptGraceUs: -1 }), /options\.preemptGraceUs must be a number >= 0/);
  const o = resolveAgentOptions({ cpus: [0] });
  t.not(o.agentCpu, 0, 'the default agent cpu is outside the enclave');
});

const bad: [string, string[], RegExp][] = [
  ['cpulist syntax', ['--enclave', 'cpus=0-'], /--enclave cpus: '0-' is not a cpu or range/],
  ['cpulist out of range', ['--enclave', 'cpus=0-4095'], /cpu 4095 is out of range/],
  ['empty cpulist', ['--enclave', 'cpus='], /must name at least one cpu/],
  ['cpulist containing the agent cpu', ['--enclave', 'cpus=0-1', '--agent-cpu', '1'], /contains the agent cpu 1/],
  ['missing --enclave', ['--policy', 'fifo'], /--enclave cpus=LIST is required/],
  ['--enclave without cpus=', ['--enclave', '0-1'], /expected cpus=LIST/],
  ['unknown flag', ['--enclave', 'cpus=0', '--frobnicate'], /Unknown option '--frobnicate'/],
  ['unknown policy', ['--enclave', 'cpus=0', '--agent-cpu', '1', '--policy', 'nosuch'], /unknown policy 'nosuch' \(known: fifo/],
  ['missing policy file', ['--enclave', 'cpus=0', '--agent-cpu', '1', '--policy', './nope.ts'], /policy file not found: \.\/nope\.ts/],
  ['bad --policy-errors', ['--enclave', 'cpus=0', '--policy-errors', 'maybe'], /--policy-errors must be exit or continue/],
  ['bad --agent-cpu', ['--enclave', 'cpus=0', '--agent-cpu', 'x'], /--agent-cpu must be a non-negative integer/],
  ['bad --preempt-grace-us', ['--enclave', 'cpus=0', '--agent-cpu', '1', '--preempt-grace-us', 'soon'], /--preempt-grace-us must be a non-negative integer \(got 'soon'\)/],
];

for (const [what, args, re] of bad) {
  t.test(`bad input: ${what}`, async (t) => {
    const r = await runAgentCli(args);
    t.equal(r.code, 2, 'exit code 2');
    t.match(r.stderr, re);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  });
}

t.test('policy files that do not load', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syrup-pol-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const syntax = path.join(dir, 'syntax.ts');
  fs.writeFileSync(syntax, 'export default class { schedule( {\n');
  const notPolicy = path.join(dir, 'notpolicy.ts');
  fs.writeFileSync(notPolicy, 'export const x = 1;\n');
  const throwsCtor = path.join(dir, 'ctor.ts');
  fs.writeFileSync(throwsCtor, "export default class P { name = 'p'; constructor() { throw new Error('nope'); } schedule() {} }\n");
  for (const [file, re] of [
    [syntax, /policy file .*syntax\.ts failed to load: .*syntax\.ts:\d+:\d+: ERROR: /],
    [notPolicy, /exports no Policy class or factory/],
    [throwsCtor, /constructing the policy failed: nope/],
  ] as const) {
    const r = await runAgentCli(['--enclave', 'cpus=0', '--agent-cpu', '1', '--policy', file]);
    t.equal(r.code, 2, `${path.basename(file)}: exit code 2`);
    t.match(r.stderr, re);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
});

t.test('--help', async (t) => {
  const r = await runAgentCli(['--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /Usage: syrup-agent --enclave cpus=LIST/);
});

t.test('a second agent on a live enclave is refused; overlapping cpus are refused', async (t) => {
  const name = enclaveName('dup');
  const first = await startAgent(['--enclave', 'cpus=0', '--agent-cpu', '1', '--name', name, '--stats-interval', '0']);
  t.teardown(() => first.stop());
  const again = await runAgentCli(['--enclave', 'cpus=0', '--agent-cpu', '1', '--name', name]);
  t.equal(again.code, 1);
  t.match(again.stderr, new RegExp(`enclave '${name}' already has a live agent \\(pid ${first.proc.pid}\\) \\[AGENT_ALIVE\\]`));
  const overlap = await runAgentCli(['--enclave', 'cpus=0', '--agent-cpu', '1', '--name', `${name}-b`]);
  t.equal(overlap.code, 1);
  t.match(overlap.stderr, new RegExp(`cpu 0 already belongs to enclave '${name}'.*\\[CPU_OVERLAP\\]`));
  t.equal(first.proc.exitCode, null, 'the first agent is unaffected');
});
t.comment(`online cpus: ${ncpu}`);
