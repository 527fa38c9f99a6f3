// permissions.test.ts: another user cannot attach to an enclave it was not granted (clear error), and can once granted.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { AgentEnclave } from '../agent/enclave.ts';
import { DEFAULTS } from '../agent/options.ts';
import { ROOT, enclaveName } from './helpers/live.ts';
import { AGENT_CPU, ENCLAVE_CPU } from './helpers/cpus.ts';

/** An enclave opened in-process (nothing is scheduled; only its files and their modes matter). */
function openEnclave(tag: string, regionMode: number): { name: string; enclave: AgentEnclave } {
  const name = enclaveName(tag);
  return { name, enclave: AgentEnclave.open({ ...DEFAULTS, cpus: [ENCLAVE_CPU], agentCpu: AGENT_CPU, name, regionMode }) };
}

function attachAsNobody(name: string): { ok: boolean; code?: string; message?: string } {
  const out = execFileSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.join(ROOT, 'test/fixtures/attach-as.mjs'), name],
    { encoding: 'utf8' },
  );
  return JSON.parse(out.trim());
}

t.test('default region mode 600: another user is refused with PERMISSION_DENIED', async (t) => {
  const { name, enclave } = openEnclave('perm', 0o600);
  t.teardown(() => enclave.close());
  const r = attachAsNobody(name);
  t.equal(r.ok, false);
  t.equal(r.code, 'PERMISSION_DENIED');
  t.match(r.message, /permission denied on \/dev\/shm\/syrup\..*--region-mode decides who may register/);
});

t.test('--region-mode 666 grants other users', async (t) => {
  const { name, enclave } = openEnclave('grant', 0o666);
  t.teardown(() => enclave.close());
  t.same(attachAsNobody(name), { ok: true });
});
