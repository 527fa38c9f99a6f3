// v8-flags.test.ts: every way the agent is started carries AGENT_V8_FLAGS (shebang, npm script, the spawners), and a SCHED_FIFO agent started without them says so.
import t from 'tap';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AGENT_V8_FLAGS, missingV8Flags } from '../agent/v8-flags.ts';
import { ENCLAVE_ARGS } from './helpers/cpus.ts';
import { AGENT_BIN, enclaveName, ROOT, waitFor } from './helpers/live.ts';

t.test('the shebang and the npm script carry the flags', async (t) => {
  const shebang = fs.readFileSync(AGENT_BIN, 'utf8').split('\n')[0];
  t.equal(shebang, `#!/usr/bin/env -S node ${AGENT_V8_FLAGS.join(' ')}`, 'bin/syrup-agent.js');
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  t.equal(pkg.scripts.agent, `node ${AGENT_V8_FLAGS.join(' ')} bin/syrup-agent.js`, 'npm run agent');
  t.ok((fs.statSync(AGENT_BIN).mode & 0o111) !== 0, 'the bin is executable, so its shebang applies');
  for (const f of ['bench/agent-process.ts', 'bench/soak/agent-proc.ts', 'demo/run.ts', 'test/helpers/live.ts']) {
    t.match(fs.readFileSync(path.join(ROOT, f), 'utf8'), /\.\.\.AGENT_V8_FLAGS,\s*(AGENT_BIN|path\.join\(root, 'bin\/syrup-agent\.js'\))/, `${f} spawns the agent with them`);
  }
  t.same(missingV8Flags(['--single-threaded']), ['--no-memory-reducer']);
  t.same(missingV8Flags([...AGENT_V8_FLAGS]), []);
});

t.test('a SCHED_FIFO agent started without them warns, naming them; with them it does not', async (t) => {
  for (const withFlags of [false, true]) {
    const args = [...(withFlags ? AGENT_V8_FLAGS : []), AGENT_BIN, ...ENCLAVE_ARGS, '--name', enclaveName('v8f'), '--policy', 'fifo',
      '--agent-priority', '1', '--idle-sleep-us', '1000', '--stats-interval', '0'];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    const closed = new Promise((r) => proc.on('close', r));
    t.ok(await waitFor(() => out.includes('"agent ready"'), 30_000), `${withFlags ? 'with' : 'without'} the flags: ready`);
    proc.kill('SIGTERM');
    await closed;
    const warned = out.split('\n').some((l) => l.includes('"missingV8Flags"'));
    if (withFlags) t.notOk(warned, 'no warning with the flags');
    else {
      t.ok(warned, 'a warning without them');
      t.match(out, /node was started without --single-threaded --no-memory-reducer/, 'naming the flags');
    }
  }
});
