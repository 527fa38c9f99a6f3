// agent-proc.ts: run syrup-agent as a child for the soak: wait for a busy cpu to free up, follow its JSON log, read its final counters.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { ShimCounters } from '../../agent/native.ts';
import { AGENT_BIN } from '../configs.ts';
import { AGENT_V8_FLAGS } from '../../agent/v8-flags.ts';

export interface AgentFinal {
  msg: string;
  shim: ShimCounters;
  totals: { txnResults: Record<string, number>; policyErrors: number; msgs: Record<string, number> } & Record<string, unknown>;
  tasks: number;
}

export class AgentProc {
  readonly lines: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly pid: number;
  ready: Record<string, unknown> = {};

  private constructor(readonly proc: ChildProcess, readonly args: string[]) {
    this.pid = proc.pid!;
    this.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /**
   * Start an agent and wait for 'agent ready'. Only one enclave may own a cpu:
   * when another (someone else's benchmark) holds ours, the start is refused
   * with CPU_OVERLAP, and this waits and retries rather than giving up.
   */
  static async start(args: string[], opts: { overlapWaitMs?: number; log?: (s: string) => void } = {}): Promise<AgentProc> {
    const until = Date.now() + (opts.overlapWaitMs ?? 30 * 60_000);
    let told = false;
    for (;;) {
      const a = new AgentProc(spawn(process.execPath, [...AGENT_V8_FLAGS, AGENT_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }), args);
      const outcome = await a.waitReady();
      if (outcome === 'ready') return a;
      const err = a.stderr.join('');
      if (/CPU_OVERLAP/.test(err) && Date.now() < until) {
        if (!told) opts.log?.(`enclave cpu busy (${err.trim()}); waiting for it to free up`);
        told = true;
        await waitNoForeignAgent(until);
        continue;
      }
      throw new Error(`syrup-agent ${args.join(' ')} failed to start: ${err.trim()}`);
    }
  }

  private waitReady(): Promise<'ready' | 'exited'> {
    return new Promise((resolve) => {
      let buf = '';
      this.proc.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          this.lines.push(line);
          if (line.includes('"agent ready"')) {
            this.ready = JSON.parse(line);
            resolve('ready');
          }
        }
      });
      this.proc.stderr!.on('data', (d: Buffer) => this.stderr.push(d.toString()));
      this.exited.then(() => resolve('exited'));
    });
  }

  signal(sig: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(sig);
  }

  /** SIGTERM it (a clean stop hands every thread back) and wait. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    return this.exited;
  }

  /** The 'agent stopped' / 'agent handed the enclave over' line: cumulative shim and loop counters. */
  final(): AgentFinal | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const l = this.lines[i];
      if (l.includes('"agent stopped"') || l.includes('"agent handed the enclave over"')) return JSON.parse(l) as AgentFinal;
    }
    return undefined;
  }

  /** Policy exceptions the agent logged and skipped (--policy-errors continue), by callback. */
  skippedCallbacks(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const l of this.lines) {
      const m = /"msg":"policy threw in (\w+); continuing"/.exec(l);
      if (m) out[m[1]] = (out[m[1]] ?? 0) + 1;
    }
    return out;
  }
}

/** Pids of syrup-agent processes now (ours included): an argv element naming the launcher (what `pgrep -f syrup-agent` finds, minus shells that merely mention it). */
export function agentPids(): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv.slice(0, 3).some((a) => /(^|\/)syrup-agent(\.js)?$/.test(a))) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Poll until no other syrup-agent runs (or the deadline): the enclave cpu is someone else's meanwhile. */
async function waitNoForeignAgent(until: number): Promise<void> {
  await new Promise((r) => setTimeout(r, 2000));
  while (Date.now() < until && agentPids().length > 0) await new Promise((r) => setTimeout(r, 2000));
}
