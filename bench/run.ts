// run.ts: `npm run bench` entry: parse options, run the RocksDB-like sweep, exit non-zero when the harness itself failed.
import { killChildren, rerender, runBench } from './harness.ts';
import { BenchOptionError, parseArgs, resolveOptions, USAGE } from './options.ts';

async function main(): Promise<number> {
  let opts;
  try {
    const given = parseArgs(process.argv.slice(2));
    if (given.help) {
      console.log(USAGE);
      return 0;
    }
    delete given.help;
    opts = resolveOptions(given);
  } catch (err) {
    if (err instanceof BenchOptionError) {
      console.error(`bench: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (opts.rerender) {
    rerender(opts.rerender, opts.docs);
    return 0;
  }
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killChildren();
      process.exit(130);
    });
  }
  const args = process.argv.slice(2);
  let report;
  try {
    ({ report } = await runBench(opts, undefined, `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`));
  } catch (err) {
    // Options that only the layout can judge (the agent's priority on a shared cpu) are refused before anything runs.
    if (err instanceof BenchOptionError) {
      console.error(`bench: ${err.message}`);
      return 2;
    }
    throw err;
  }
  // The harness worked if every configuration that was not skipped ran.
  const failed = report.configs.filter((c) => c.status === 'failed');
  for (const c of failed) console.error(`bench: ${c.name} failed: ${c.reason}`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    killChildren();
    process.exit(1);
  },
);
