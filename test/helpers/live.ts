// live.ts: helpers for live tests: run syrup-agent as a child, start worker-thread fixtures, wait for conditions.
import { spawn, type ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import { MsgSrc } from '../../agent/abi.ts';
import { native } from '../../agent/native.ts';
import { onlineCpus } from '../../agent/topology.ts';
import { AGENT_CPU, ENCLAVE_CPU } from './cpus.ts';
import { AGENT_V8_FLAGS } from '../../agent/v8-flags.ts';
import { attach } from '../../client/index.ts';
import type { Test } from 'tap';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/*
 * Live tests take ENCLAVE_CPU for the enclave (helpers/cpus.ts). Keep this
 * test process's own threads (and so every worker it starts, which inherits
 * the mask until the agent places it) off it, and off AGENT_CPU where there
 * are cpus to spare: a booting worker on the enclave cpu would preempt the
 * registered threads under test.
 */
{
  const online = onlineCpus();
  const away = online.filter((c) => c !== ENCLAVE_CPU && (online.length <= 2 || c !== AGENT_CPU));
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      native.setAffinity(Number(tid), away);
    } catch {
      // a thread that exited meanwhile
    }
  }
}
export const AGENT_BIN = path.join(ROOT, 'bin/syrup-agent.js');
const BOOT = new URL('../../client/thread-boot.mjs', import.meta.url);

let counter = 0;
/** A fresh enclave name per test, so tests never share state. */
export function enclaveName(tag: string): string {
  return `t-${tag}-${process.pid}-${counter++}`;
}

export interface RunningAgent {
  proc: ChildProcess;
  out: string[];
  err: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start syrup-agent (with AGENT_V8_FLAGS, as its shebang does) and resolve once it logged 'agent ready' (rejects if it exits first). */
export function startAgent(args: string[]): Promise<RunningAgent> {
  const proc = spawn(process.execPath, [...AGENT_V8_FLAGS, AGENT_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const err: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close', not 'exit': the last log lines can still be in the pipes when 'exit' fires.
    proc.on('close', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        out.push(line);
        if (line.includes('"agent ready"')) {
          resolve({
            proc,
            out,
            err,
            exited,
            stop: () => {
              if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
              return exited;
            },
          });
        }
      }
    });
    proc.stderr!.on('data', (d: Buffer) => err.push(d.toString()));
    exited.then(({ code, signal }) =>
      reject(new Error(`agent exited before ready (code ${code}, signal ${signal}): ${err.join('')}`)),
    );
  });
}

/** A message as the agent's --trace logs it (type by name). */
export interface TracedMessage {
  type: string;
  src: number;
  slot: number;
  tid: number;
  seq: number;
}

/** A committed transaction as the agent's --trace logs it (result by name). */
export interface TracedTxn {
  slot: number;
  tid: number;
  cpu: number;
  result: string;
}

export type TraceEntry = { kind: 'message'; message: TracedMessage } | { kind: 'txn'; txn: TracedTxn };

/**
 * The agent's --trace lines from agent.out[from] on, in the order it logged
 * them: messages as delivered to the policy, transactions as committed. Read
 * after agent.stop() to be sure the last ones are in.
 */
export function agentTrace(agent: RunningAgent, from = 0): TraceEntry[] {
  const out: TraceEntry[] = [];
  for (const l of agent.out.slice(from)) {
    if (l.includes('"trace message"')) out.push({ kind: 'message', message: (JSON.parse(l) as { message: TracedMessage }).message });
    else if (l.includes('"trace txn"')) out.push({ kind: 'txn', txn: (JSON.parse(l) as { txn: TracedTxn }).txn });
  }
  return out;
}

/** The messages in the agent's --trace so far, those of one type if given: what the policy has been told. */
export function tracedMessages(agent: RunningAgent, type?: string): TracedMessage[] {
  return agentTrace(agent).flatMap((e) => (e.kind === 'message' && (type === undefined || e.message.type === type) ? [e.message] : []));
}

/**
 * Whether every one of slots is parked as far as the agent's --trace shows:
 * its latest message is the client's TASK_BLOCKED (park() posts it; a kernel
 * block is the kernel's, and the thread may still be on its way to park()).
 */
export function parkedInTrace(agent: RunningAgent, slots: readonly number[]): boolean {
  const latest = new Map<number, TracedMessage>();
  for (const m of tracedMessages(agent)) latest.set(m.slot, m);
  return slots.every((s) => latest.get(s)?.type === 'TASK_BLOCKED' && latest.get(s)?.src === MsgSrc.CLIENT);
}

/** Run the agent CLI to completion (for bad-input cases). */
export function runAgentCli(args: string[], timeoutMs = 20000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runProcess(process.execPath, [...AGENT_V8_FLAGS, AGENT_BIN, ...args], timeoutMs);
}

/**
 * Run a command to completion without blocking the event loop (spawnSync
 * would stop this process reading a live agent's pipes, and an agent that
 * fills its stdout pipe stalls the enclave). SIGKILLed after timeoutMs.
 */
export function runProcess(cmd: string, args: string[], timeoutMs = 20000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Start a worker thread running a TypeScript fixture module. */
export function startWorker(fixture: string, data: Record<string, unknown>): Worker {
  const entry = new URL(`../fixtures/${fixture}`, import.meta.url).href;
  return new Worker(BOOT, { workerData: { entry, ...data } });
}

/** What nextMessage listens to: a Worker, or anything that emits 'message', 'error' and 'exit' like one. */
export type MessageSource = Pick<EventEmitter, 'on' | 'off' | 'once'> & { readonly threadId: number };

/** Resolve with the first message from w satisfying pred. */
export function nextMessage<T = Record<string, unknown>>(w: MessageSource, pred: (m: T) => boolean = () => true, timeoutMs = 60_000): Promise<T> {
  const p = new Promise<T>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      w.off('message', onMsg);
      w.off('error', onErr);
      w.off('exit', done);
    };
    const onMsg = (m: T) => {
      if (pred(m)) {
        done();
        resolve(m);
      }
    };
    const onErr = (e: Error) => {
      done();
      reject(e);
    };
    // Below tap's per-file kill, so a thread that never gets to answer fails the test with its name instead of a bare timeout.
    const timer = setTimeout(() => {
      done();
      reject(new Error(`worker ${w.threadId} sent no message matching ${pred.toString()} within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    w.on('message', onMsg);
    w.on('error', onErr);
    w.once('exit', done); // a worker that ended will never answer; a test that still awaits it has its own teardown to blame
  });
  // Some waits are set up and never awaited (a thread that is never placed): their timeout must not be an unhandled rejection.
  p.catch(() => undefined);
  return p;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll cond every few ms until true or the deadline passes (returns the last value). */
export async function waitFor(cond: () => boolean, timeoutMs = 10000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(5);
  }
  return cond();
}

/** Cpus the kernel allows thread tid, as the kernel's list text (e.g. "0-1"). */
export async function allowedCpus(tid: number): Promise<string> {
  const status = fs.readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
  return /Cpus_allowed_list:\s*(\S+)/.exec(status)![1];
}

/** One registered loop-worker fixture in enclave `name` (workMs per request), fed requests through the client library. */
export async function loopWorker(name: string, workMs: number) {
  const shared = new SharedArrayBuffer(512);
  const words = new Int32Array(shared);
  const w = startWorker('loop-worker.ts', { enclave: name, index: 0, shared, workMs });
  const { handle } = await nextMessage<{ handle: number }>(w, (m: any) => m.kind === 'registered');
  const done = nextMessage(w, (m: any) => m.kind === 'done');
  const enc = attach(name);
  let sent = 0;
  return {
    words,
    /** n requests, gapMs apart: a gap lets the enclave cpu go idle before the next placement. */
    async send(n: number, gapMs: number): Promise<void> {
      for (let i = 0; i < n; i++) {
        Atomics.add(words, 8, 1);
        sent++;
        enc.wake(handle);
        await sleep(gapMs);
      }
    },
    /** Waits (up to waitMs) until every request sent was served, asserts it, and stops the worker. */
    async finish(t: Pick<Test, 'equal'>, waitMs: number): Promise<void> {
      const until = Date.now() + waitMs;
      while (Atomics.load(words, 40) < sent && Date.now() < until) await sleep(5);
      t.equal(Atomics.load(words, 40), sent, `every request was served (${sent})`);
      Atomics.store(words, 0, 1);
      enc.wake(handle);
      await done;
    },
  };
}
