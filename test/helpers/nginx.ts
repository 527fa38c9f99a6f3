// nginx.ts: a real nginx (Debian nginx-light) for the network tests: N workers on one SO_REUSEPORT port, each request logged with the worker's pid.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export interface Nginx {
  /** The master's pid: the process that holds every worker's listening socket. */
  master: number;
  workers: number[];
  accessLog: string;
  /** Requests per worker pid in the access log so far ($pid of the worker that served each). */
  requestsByWorker(): Map<number, number>;
  /** Source port -> worker pid, for the requests logged so far (the last one per port). */
  workerOfPort(): Map<number, number>;
  /** Distinct connections per worker pid in the access log so far. */
  connectionsByWorker(): Map<number, number>;
  stop(): Promise<void>;
}

export function haveNginx(): boolean {
  try {
    execFileSync('nginx', ['-v'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/**
 * `listen HOST:PORT reuseport` with `workers` worker processes: the master
 * opens one socket per worker in the group and each worker accepts on its
 * own, so which worker serves a connection is the group's socket selection.
 * With `uid`, nginx runs as that user (master and workers; its `user`
 * directive only applies to a root master).
 */
export async function startNginx(t: Teardown, host: string, port: number, workers: number, uid?: number): Promise<Nginx> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syrup-nginx-'));
  // Run as another user: its own directory, and -e so the compiled-in error log is not opened first.
  if (uid !== undefined) fs.chownSync(dir, uid, uid);
  const accessLog = path.join(dir, 'access.log');
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, `
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  log_format bypid '$pid $remote_port $connection';
  access_log ${accessLog} bypid;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  server {
    listen ${host}:${port} reuseport;
    location / { return 200 "ok\\n"; }
  }
}
`);
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-e', `${dir}/error.log`, '-c', conf, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(uid !== undefined ? { uid, gid: uid } : {}),
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  t.teardown(async () => {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const master = child.pid!;
  const children = () => {
    try {
      return fs.readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const end = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${err}`);
    const up = children().length === workers && (await new Promise<boolean>((r) => {
      const c = net.connect(port, host, () => { c.destroy(); r(true); });
      c.on('error', () => r(false));
    }));
    if (up) break;
    if (Date.now() > end) throw new Error(`nginx did not come up: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  fs.writeFileSync(accessLog, ''); // the readiness probes logged nothing (no request), but start clean
  const entries = () =>
    (fs.existsSync(accessLog) ? fs.readFileSync(accessLog, 'utf8') : '').split('\n').filter(Boolean).map((l) => l.split(' ').map(Number) as [number, number, number]);
  return {
    master,
    workers: children(),
    accessLog,
    requestsByWorker: () => {
      const m = new Map<number, number>();
      for (const [pid] of entries()) m.set(pid, (m.get(pid) ?? 0) + 1);
      return m;
    },
    workerOfPort: () => new Map(entries().map(([pid, p]) => [p, pid])),
    connectionsByWorker: () => {
      const conns = new Map<number, Set<number>>();
      for (const [pid, , conn] of entries()) {
        if (!conns.has(pid)) conns.set(pid, new Set());
        conns.get(pid)!.add(conn);
      }
      return new Map([...conns].map(([pid, s]) => [pid, s.size]));
    },
    stop,
  };
}
