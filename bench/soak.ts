// soak.ts: `npm run soak`: thread churn under load, then each fault and bad input in turn; prints a report, writes JSON, regenerates docs/reliability.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { renderMarkdown, renderText, type SoakReport } from './soak/report.ts';
import { keepOffCpu, PHASES, runPhase, soakConfig } from './soak/run.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const { values: v } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    quick: { type: 'boolean', default: false },
    docs: { type: 'boolean', default: false },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (v.help) {
  process.stdout.write(`Usage: npm run soak -- [--minutes N] [--quick] [--docs] [--only PHASE[,PHASE]]

  --minutes N   length of the thread-churn phase (default 10)
  --quick       about a minute and a half in all (CI); leaves docs/reliability.md alone unless --docs
  --only LIST   run only these phases: ${Object.keys(PHASES).join(', ')}
`);
  process.exit(0);
}
const minutes = Number(v.minutes);
if (!(minutes > 0)) throw new Error(`--minutes must be a positive number (got '${v.minutes}')`);
const ids = v.only ? v.only.split(',') : Object.keys(PHASES);
for (const id of ids) if (!PHASES[id]) throw new Error(`unknown phase '${id}' (known: ${Object.keys(PHASES).join(', ')})`);

const cfg = soakConfig({ quick: v.quick!, minutes });
keepOffCpu(cfg.cpu);

const started = new Date();
const log = (s: string) => process.stderr.write(`[soak ${((Date.now() - started.getTime()) / 1000).toFixed(0)}s] ${s}\n`);
const phases = [];
for (const id of ids) phases.push(await runPhase(id, cfg, log));

const report: SoakReport = {
  command: `npm run soak -- ${v.quick ? '--quick' : `--minutes ${minutes}`}${v.only ? ` --only ${v.only}` : ''}`,
  startedAt: started.toISOString(),
  seconds: (Date.now() - started.getTime()) / 1000,
  host: { cpus: os.cpus().length, kernel: os.release(), node: process.version },
  config: cfg,
  phases,
};
process.stdout.write(renderText(report));
const dir = path.join(ROOT, 'bench/results');
fs.mkdirSync(dir, { recursive: true });
const file = path.join(dir, `soak-${started.toISOString().replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(file, JSON.stringify(report, null, 2));
process.stdout.write(`\nJSON: ${path.relative(ROOT, file)}\n`);
if ((!v.quick && !v.only) || v.docs) {
  fs.writeFileSync(path.join(ROOT, 'docs/reliability.md'), renderMarkdown(report));
  process.stdout.write('docs/reliability.md regenerated\n');
}
// Any failed check fails the run, the probes' included (they replay fixed bugs).
const failed = phases.flatMap((p) => p.checks.filter((c) => !c.ok));
process.exit(failed.length > 0 ? 1 : 0);
