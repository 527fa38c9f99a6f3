// soak.test.ts: the quick soak (npm run soak -- --quick), phase by phase: no request lost, no leak after churn, bad inputs rejected and counted.
import t, { type Test } from 'tap';
import { keepOffCpu, PHASES, runPhase, soakConfig } from '../bench/soak/run.ts';
import type { PhaseResult } from '../bench/soak/phase.ts';

// The whole quick soak takes about a minute and a half on the 2-vCPU VM; the default per-file limit is 120 s.
t.setTimeout(600_000);
const cfg = soakConfig({ quick: true, minutes: 0 });
keepOffCpu(cfg.cpu);

/*
 * Timings are reported, never asserted. Every check is a hard one, the
 * probes' included: they replay shim bugs the soak found, all fixed, and a
 * failure there means one came back.
 */
function assertChecks(t: Test, r: PhaseResult, logs: string[]): void {
  for (const c of r.checks) t.ok(c.ok, `${c.what}${c.detail ? ` (${c.detail})` : ''}`);
  if (r.checks.some((c) => !c.ok)) t.comment(logs.join('\n'));
}

for (const id of Object.keys(PHASES)) {
  t.test(id, async (t) => {
    const logs: string[] = [];
    const r = await runPhase(id, cfg, (s) => logs.push(s));
    if (r.load && !id.startsWith('probe')) t.equal(r.load.lost, 0, `requests lost = 0 (${r.load.answered} of ${r.load.sent} answered)`);
    assertChecks(t, r, logs);
    if (id === 'churn') {
      const f = r.facts as Record<string, any>;
      if (!t.ok(f.registrations > 100, `churn actually churned (${f.registrations} registrations, ${f.exitedRegistered} exits while registered)`)) t.comment(logs.join('\n'));
      t.ok(f.end.slots <= f.start.slots && f.end.tidMap <= f.start.tidMap, 'no slot or tid-map growth proportional to churn');
    }
    if (id === 'bad-inputs') {
      const f = r.facts as Record<string, any>;
      t.ok(f.ring.length >= 8 && f.ring.every((x: { consumed: number; injected: number }) => x.consumed === x.injected), 'every forged ring message was consumed by the agent');
    }
  });
}
