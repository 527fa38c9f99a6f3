// v8-flags.ts: the V8 flags the agent's node process starts with (bin/syrup-agent.js's shebang, and every place that spawns it), and the check that they are there.
/*
 * The agent's loop thread runs SCHED_FIFO on its cpu, and on a 2-cpu layout
 * V8's helper threads (normal priority, same process) have to share that cpu
 * with it. They get a fair-share nap's worth of it, so:
 *  - a parallel scavenge waits for a helper that took a share of the work
 *    and was then preempted by the agent itself: 3 MB scavenges of 2-8 ms;
 *  - TurboFan compiles on a helper thread, so the loop ran unoptimized code
 *    (and allocated like it) for its first ~8 s: 30-60 ms/s of GC, pauses of
 *    4-27 ms, in whatever load ran first.
 * Measured in one run each (real RocksDB server, Shinjuku, 14k req/s, first
 * 9 s of a fresh agent): without the flags 24-116 ms/s of GC, longest pause
 * 27.7 ms; with them 0.5-1.6 ms/s, longest 0.46 ms after the first second.
 * --single-threaded keeps compilation and GC on the thread that needs them;
 * --no-memory-reducer drops the idle-time major GCs V8 schedules seconds
 * after start-up. Setting them at run time (v8.setFlagsFromString) does not
 * work: measured, GC stayed at 38-133 ms/s. They must be on node's command
 * line, and NODE_OPTIONS refuses them.
 */
export const AGENT_V8_FLAGS: readonly string[] = ['--single-threaded', '--no-memory-reducer'];

/** Those of AGENT_V8_FLAGS this process was not started with. */
export function missingV8Flags(execArgv: readonly string[] = process.execArgv): string[] {
  return AGENT_V8_FLAGS.filter((f) => !execArgv.includes(f));
}
