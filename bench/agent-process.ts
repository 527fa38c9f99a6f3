// agent-process.ts: starts a Syrup agent for one configuration, waits until it is ready, and stops it with SIGTERM afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { formatCpuList } from './pin.ts';
import { AGENT_BIN, REPO_ROOT } from './configs.ts';
import { LineTail, readJsonLines, tailLines } from './lines.ts';
import { AGENT_V8_FLAGS } from '../agent/v8-flags.ts';

/** Generous: on a busy 2-cpu machine loading tsx and the policy has been seen to take over 30 s. */
const READY_LIMIT_MS = 90_000;
const STOP_LIMIT_MS = 5_000;

export interface AgentSpec {
  policy: string;
  policyOpts: string[];
  enclaveCpus: number[];
  agentCpu: number;
  name: string;
  /** Pass --idle-yield: the agent's cpu is shared (2-cpu layout). */
  idleYield: boolean;
  /** --preempt-grace-us. */
  preemptGraceUs: number;
  /** --idle-sleep-us (0: not passed). */
  idleSleepUs: number;
  /** --agent-priority (0: not passed). */
  priority: number;
  /** --fair-share-us (-1: not passed). */
  fairShareUs: number;
  /** --idle-poll-us (0: not passed). */
  idlePollUs: number;
}

export interface AgentOutcome {
  exitCode: number | null;
  signal: string | null;
  /** The agent's last "agent stats" log object (its counters: commits, preemptions, message counts...). */
  lastStats: unknown;
  /** The "agent ready" line. */
  ready: unknown;
  /** The "agent stopped" line (the shim's counters: signals, affinity calls, drops...). */
  stopped: unknown;
}

export class AgentProcess {
  private lastStats: unknown = null;
  /** Every stats line seen, for statsSince(). */
  private readonly statsLines: { atMs: number; line: unknown }[] = [];
  private readyLine: unknown = null;
  private stoppedLine: unknown = null;
  private exited: Promise<void>;
  private exitInfo: { code: number | null; signal: string | null } | null = null;
  readonly tail = new LineTail(40);

  private constructor(
    private readonly child: ChildProcess,
    readonly args: string[],
  ) {
    // 'close', not 'exit': it comes after stdout is drained, so the final log lines are in.
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      }),
    );
  }

  static async start(spec: AgentSpec): Promise<AgentProcess> {
    const args = [
      ...AGENT_V8_FLAGS,
      AGENT_BIN,
      '--enclave', `cpus=${formatCpuList(spec.enclaveCpus)}`,
      '--agent-cpu', String(spec.agentCpu),
      '--policy', spec.policy,
      '--name', spec.name,
      ...spec.policyOpts.flatMap((kv) => ['--policy-opt', kv]),
      ...(spec.idleYield ? ['--idle-yield'] : []),
      '--preempt-grace-us', String(spec.preemptGraceUs),
      ...(spec.idleSleepUs > 0 ? ['--idle-sleep-us', String(spec.idleSleepUs)] : []),
      ...(spec.priority > 0 ? ['--agent-priority', String(spec.priority)] : []),
      ...(spec.fairShareUs >= 0 ? ['--fair-share-us', String(spec.fairShareUs)] : []),
      ...(spec.idlePollUs > 0 ? ['--idle-poll-us', String(spec.idlePollUs)] : []),
    ];
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const agent = new AgentProcess(child, args);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent not ready after ${READY_LIMIT_MS} ms:\n${agent.tail.text()}`)), READY_LIMIT_MS);
      readJsonLines(child.stdout!, agent.tail, (obj) => {
        if (obj.msg === 'agent ready') {
          agent.readyLine = obj;
          clearTimeout(timer);
          resolve();
        } else if (obj.msg === 'agent stats') {
          agent.lastStats = obj;
          agent.statsLines.push({ atMs: Date.now(), line: obj });
        } else if (obj.msg === 'agent stopped') {
          agent.stoppedLine = obj;
        }
      });
      tailLines(child.stderr!, agent.tail);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`agent exited before ready (code ${code}, signal ${signal}):\n${agent.tail.text()}`));
      });
    });
    try {
      await ready;
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    return agent;
  }

  /** The agent's stats lines logged since `sinceMs` (Date.now() clock): its per-second counters during a phase. */
  statsSince(sinceMs: number): unknown[] {
    return this.statsLines.filter((s) => s.atMs >= sinceMs).map((s) => s.line);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  async stop(): Promise<AgentOutcome> {
    if (this.exitInfo === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_LIMIT_MS);
      await this.exited;
      clearTimeout(timer);
    }
    return { exitCode: this.exitInfo!.code, signal: this.exitInfo!.signal, lastStats: this.lastStats, ready: this.readyLine, stopped: this.stoppedLine };
  }
}
