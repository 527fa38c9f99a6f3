// net-harness.ts: shared fixtures of the network-hook tests: a real syrupd child process, network namespaces with a veth pair, traffic senders.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, chmodSync, rmSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import readline from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSyrupdProcess, type SyrupdProcess } from '../net/syrupd-process.ts';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Minimal view of a tap test object (teardown registration). */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

let seq = 0;
const uniq = (): string => `${process.pid % 100000}${seq++}`;

export type Syrupd = SyrupdProcess;

/** Start syrupd (bin/syrupd.js) with private socket, pin root and cache; stopped at teardown. */
export async function startSyrupd(t: Teardown): Promise<Syrupd> {
  const d = await startSyrupdProcess();
  t.teardown(() => d.stop());
  return d;
}

export interface Netns {
  name: string;
  /** veth end in syrupd's (root) namespace, where XDP hooks attach. */
  hostIf: string;
  hostAddr: string;
  /** Address of the peer inside the namespace (traffic source). */
  peerAddr: string;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Delete namespaces left by test processes that were killed before their teardown ran. */
function removeStaleNetns(): void {
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const m = /^(syrt-(\d+)-\d+)/.exec(line);
    if (!m || existsSync(`/proc/${m[2]}`)) continue;
    try {
      ip('netns', 'del', m[1]!);
    } catch {
      // raced with another cleaner
    }
  }
}

/** A namespace with a veth pair to the root namespace; deleted at teardown (which deletes both veth ends). */
let staleChecked = false;

export function createNetns(t: Teardown): Netns {
  if (!staleChecked) removeStaleNetns();
  staleChecked = true;
  const id = uniq();
  const name = `syrt-${process.pid}-${seq}`;
  const hostIf = `sy${id}h`.slice(0, 15);
  const peerIf = `sy${id}p`.slice(0, 15);
  const octet = (seq * 7 + (process.pid % 200)) % 250 + 1;
  const hostAddr = `10.213.${octet}.1`;
  const peerAddr = `10.213.${octet}.2`;
  t.teardown(() => {
    try {
      ip('netns', 'del', name);
    } catch {
      // never created
    }
    try {
      ip('link', 'del', hostIf);
    } catch {
      // went with the namespace
    }
  });
  ip('netns', 'add', name);
  ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peerIf);
  ip('link', 'set', peerIf, 'netns', name);
  ip('addr', 'add', `${hostAddr}/24`, 'dev', hostIf);
  ip('link', 'set', hostIf, 'up');
  ip('-n', name, 'addr', 'add', `${peerAddr}/24`, 'dev', peerIf);
  ip('-n', name, 'link', 'set', peerIf, 'up');
  ip('-n', name, 'link', 'set', 'lo', 'up');
  return { name, hostIf, hostAddr, peerAddr };
}

/** Plain-JS sender run inside the namespace (no tsx: it only needs dgram/net). */
const SENDER = `
const [kind, host, port, spec] = process.argv.slice(1);
const jobs = JSON.parse(spec);
if (kind === 'udp') {
  const dgram = require('node:dgram');
  (async () => {
    for (const job of jobs) {
      const s = dgram.createSocket('udp4');
      await new Promise((r) => s.bind(job.srcPort || 0, r));
      for (let i = 0; i < job.count; i++) {
        await new Promise((r, j) => s.send(Buffer.from(job.payload || 'x'), Number(port), host, (e) => (e ? j(e) : r())));
      }
      await new Promise((r) => s.close(r));
    }
  })().catch((e) => { console.error(e); process.exit(1); });
} else if (kind === 'http') {
  // One HTTP/1.0 GET per source port, one after the other; a reset ends each
  // so no TIME_WAIT keeps the port from being used again by the next run.
  const net = require('node:net');
  (async () => {
    for (const localPort of jobs.srcPorts) {
      await new Promise((r, j) => {
        const c = net.connect({ port: Number(port), host, localPort }, () => c.write('GET / HTTP/1.0\\r\\n\\r\\n'));
        c.on('error', j);
        c.on('data', () => undefined);
        c.on('end', () => { c.resetAndDestroy(); r(); });
      });
    }
  })().catch((e) => { console.error(e); process.exit(1); });
} else {
  const net = require('node:net');
  (async () => {
    const socks = [];
    for (let i = 0; i < jobs.connections; i++) {
      socks.push(await new Promise((r, j) => { const c = net.connect(Number(port), host, () => r(c)); c.on('error', j); }));
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const c of socks) c.destroy();
  })().catch((e) => { console.error(e); process.exit(1); });
}
`;

export interface UdpJob {
  count: number;
  /** Fixed source port (default: ephemeral). One job = one 5-tuple. */
  srcPort?: number;
  payload?: string;
}

/** Run the sender inside the namespace without blocking this process's event loop (its servers must keep running). */
function runSender(ns: Netns, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', SENDER, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sender in ${ns.name} failed (${code}): ${err}`))));
  });
}

/** Send UDP datagrams from inside `ns` to host:port; resolves once all were sent. */
export function sendUdp(ns: Netns, host: string, port: number, jobs: UdpJob[]): Promise<void> {
  return runSender(ns, ['udp', host, String(port), JSON.stringify(jobs)]);
}

/** Open `connections` TCP connections from inside `ns` to host:port, one after the other. */
export function connectTcp(ns: Netns, host: string, port: number, connections: number): Promise<void> {
  return runSender(ns, ['tcp', host, String(port), JSON.stringify({ connections })]);
}

/** One HTTP GET per source port (one 5-tuple each) from inside `ns` to host:port, in order. */
export function httpGets(ns: Netns, host: string, port: number, srcPorts: number[]): Promise<void> {
  return runSender(ns, ['http', host, String(port), JSON.stringify({ srcPorts })]);
}

/** Resolve once `cond` holds, polling; rejects with `what` after timeoutMs. Only for waiting on delivery, never as a pass/fail timing check. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Wait long enough for in-flight packets to land (used before asserting that something did NOT arrive). */
export const settle = (ms = 200): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Pins left under a pin root (should be none once policies are removed). */
export function pinsUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

/** Write a policy file for a test into dir. */
export function policyPath(name: string): string {
  return path.join(repo, 'net', 'policies', name);
}

/** Write a test-only policy file (world-readable, so apps running as other users can deploy it). */
export function writePolicy(t: Teardown, name: string, source: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'syrup-policy-'));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, name);
  writeFileSync(file, source, { mode: 0o644 });
  return file;
}

/** A UDP socket bound to address:port, once the bind is done: what proves port ownership to syrupd. */
export async function boundUdp(port: number, address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(port, address, () => resolve()));
  return s;
}

/** A UDP socket bound to addr:port counting what it receives (it also proves port ownership to syrupd). */
export async function udpCounter(t: Teardown, address: string, port: number): Promise<{ count: () => number; payloads: string[] }> {
  const s = await boundUdp(port, address);
  const payloads: string[] = [];
  s.on('message', (m) => payloads.push(m.toString()));
  t.teardown(() => new Promise<void>((r) => s.close(() => r())));
  return { count: () => payloads.length, payloads };
}

export interface AppProcess {
  pid: number;
  /** Send one command to test/net-app.ts and wait for its JSON reply. */
  call(cmd: Record<string, unknown>): Promise<Record<string, unknown> & { ok: boolean; code?: string; message?: string }>;
  kill(): Promise<void>;
}

/** Run test/net-app.ts as `uid` (e.g. 65534, nobody), connected to syrupd. */
export async function spawnApp(t: Teardown, socketPath: string, uid: number, gid: number): Promise<AppProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repo, 'test', 'net-app.ts'), socketPath], {
    cwd: repo,
    uid,
    gid,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  t.teardown(kill);
  const lines = readline.createInterface({ input: child.stdout! });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  return {
    pid: child.pid!,
    kill,
    call: (cmd) =>
      new Promise((resolve, reject) => {
        waiting.push((l) => resolve(JSON.parse(l)));
        child.once('exit', () => reject(new Error(`app exited: ${err}`)));
        child.stdin!.write(JSON.stringify(cmd) + '\n');
      }),
  };
}
