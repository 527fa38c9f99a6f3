// isolation-watchdog.ts: a detached process that gives the enclave cpus back when its agent dies without doing so itself (SIGKILL, crash).
/*
 * Started by Isolation.open() with a pipe from the agent on stdin. The pipe
 * closes when the agent's process ends, however it ends, so EOF is the
 * signal: no polling, and no pid to outlive. Then one reconcile() with the
 * agent's pid counted dead: if the agent released cleanly it is a no-op, if
 * a live upgrade replaced it the record names the new agent and nothing
 * changes, otherwise everything it isolated is restored.
 */
import { reconcile } from './isolation.ts';

const agentPid = Number(process.argv[2]);
if (!Number.isInteger(agentPid) || agentPid <= 0) {
  process.stderr.write(`isolation-watchdog: expected the agent's pid (got '${process.argv[2]}')\n`);
  process.exit(2);
}
// A terminal hang-up or ^C meant for the agent is not ours to die of.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
process.stdin.resume();
process.stdin.on('end', finish);
process.stdin.on('error', finish);
process.stdin.on('close', finish);

let finished = false;
function finish(): void {
  if (finished) return;
  finished = true;
  try {
    const r = reconcile(agentPid);
    process.stderr.write(`${new Date().toISOString()} agent ${agentPid} gone; rest cpus now ${r.restCpus ? r.restCpus.join(',') : 'none (isolation off)'}\n`);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`${new Date().toISOString()} agent ${agentPid} gone; reconcile failed: ${(err as Error).stack}\n`);
    process.exit(1);
  }
}
