// daemon.ts: SyrupDaemon, the long-running server behind syrupd: connections, per-request handling, policy and dispatcher bookkeeping.
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { netAddon } from './addon.ts';
import { PolicyCompiler } from './compiler.ts';
import { authorizeTarget, pidfdPid, type FdSource } from './attach.ts';
import { Deployment, type Caller, type DeployContext } from './deployment.ts';
import { InterfaceDispatcher } from './dispatcher.ts';
import { SyrupError } from './errors.ts';
import { encodeLine, LineFramer } from './framing.ts';
import type { SyrupdOptions } from './options.ts';
import { valueBytes } from './map-types.ts';
import { PinTree } from './pins.ts';
import { parseRequest, type ListResult, type Request, type Response } from './protocol.ts';

interface Connection {
  id: number;
  socket: net.Socket;
  caller: Caller;
  policies: Set<number>;
  /** Requests of one connection are answered in order. */
  chain: Promise<void>;
  closed: boolean;
}

/** Node keeps the fd of an accepted Unix socket on its internal handle; SO_PEERCRED needs it. */
function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new SyrupError('EINTERNAL', 'cannot find the fd of a client connection');
  return fd;
}

/** How often a target-deployed policy checks that its target is alive. */
const TARGET_POLL_MS = 250;

export class SyrupDaemon {
  private server: net.Server | null = null;
  private readonly connections = new Set<Connection>();
  private readonly policies = new Map<number, Deployment>();
  private readonly policyConn = new Map<number, Connection>();
  /** Policies deployed onto a target process: the watch that removes them when it exits, and its pidfd. */
  private readonly targets = new Map<number, { timer: NodeJS.Timeout; pidfd: number }>();
  private readonly dispatchers = new Map<string, InterfaceDispatcher>();
  private readonly claims = new Map<string, number>();
  private readonly pins: PinTree;
  private readonly compiler: PolicyCompiler;
  private readonly possibleCpus = netAddon.possibleCpus();
  private nextPolicy = 1;
  private nextConn = 1;

  constructor(
    readonly options: SyrupdOptions,
    private readonly log: Logger,
  ) {
    this.pins = new PinTree(options.pinRoot);
    this.compiler = new PolicyCompiler({
      cacheDir: options.cacheDir,
      clang: options.clang,
      timeoutMs: options.compileTimeoutMs,
    });
  }

  async start(): Promise<void> {
    await this.pins.init();
    const stale = await this.pins.clearStale();
    if (stale.length > 0) this.log.warn({ stale }, 'removed pins left by a previous syrupd');
    await fs.mkdir(path.dirname(this.options.socketPath), { recursive: true, mode: 0o755 });
    await fs.rm(this.options.socketPath, { force: true });
    const server = net.createServer((s) => this.accept(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Any local user may ask; what each may do is decided per request from its credentials.
    await fs.chmod(this.options.socketPath, 0o666);
    this.log.info({ socket: this.options.socketPath, pinRoot: this.options.pinRoot }, 'syrupd listening');
  }

  /** Stop accepting, remove every policy (restoring default behaviour), close connections. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    // close() only completes once every connection is gone, so hang them up first.
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const c of this.connections) c.socket.destroy();
    await closed;
    for (const dep of [...this.policies.values()]) await this.removePolicy(dep);
    for (const d of this.dispatchers.values()) d.close();
    this.dispatchers.clear();
    await fs.rm(this.options.socketPath, { force: true });
    await fs.rmdir(this.options.pinRoot).catch(() => undefined);
  }

  private accept(socket: net.Socket): void {
    let caller: Caller;
    try {
      const fd = socketFd(socket);
      const cred = netAddon.peerCred(fd);
      caller = { ...cred, pidfd: netAddon.peerPidfd(fd) };
    } catch (err) {
      this.log.warn({ err }, 'cannot identify a client; dropping it');
      socket.destroy();
      return;
    }
    const conn: Connection = { id: this.nextConn++, socket, caller, policies: new Set(), chain: Promise.resolve(), closed: false };
    this.connections.add(conn);
    this.log.debug({ conn: conn.id, uid: caller.uid, pid: caller.pid }, 'client connected');
    const framer = new LineFramer(this.options.maxMessageBytes);
    socket.on('data', (chunk: Buffer) => {
      for (const item of framer.push(chunk)) {
        if (typeof item === 'string') {
          if (item.trim() !== '') conn.chain = conn.chain.then(() => this.handleLine(conn, item));
        } else {
          // An oversized request has no id we could read; answers keep request order, so id 0 is unambiguous.
          conn.chain = conn.chain.then(() => {
            this.log.warn({ conn: conn.id, pid: caller.pid }, item.message);
            this.reply(conn, { id: 0, ok: false, error: item.toJSON() });
          });
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      conn.closed = true;
      this.connections.delete(conn);
      // Let in-flight requests finish first, then the app's policies go with it.
      conn.chain = conn.chain.then(() => this.dropConnection(conn));
    });
  }

  private async dropConnection(conn: Connection): Promise<void> {
    for (const id of [...conn.policies]) {
      const dep = this.policies.get(id);
      if (dep) {
        await this.removePolicy(dep);
        this.log.info({ policy: id, pid: conn.caller.pid }, 'app disconnected; policy removed');
      }
    }
    conn.policies.clear();
    try {
      netAddon.closeFd(conn.caller.pidfd);
    } catch {
      // already closed
    }
  }

  private reply(conn: Connection, response: Response): void {
    if (!conn.socket.destroyed && conn.socket.writable) conn.socket.write(encodeLine(response));
  }

  private async handleLine(conn: Connection, line: string): Promise<void> {
    let id = 0;
    try {
      const req = parseRequest(line);
      id = req.id;
      const result = await this.handle(conn, req);
      this.reply(conn, { id, ok: true, result: result ?? null });
    } catch (err) {
      if (id === 0) id = leniantId(line);
      const e =
        err instanceof SyrupError ? err : new SyrupError('EINTERNAL', `internal error: ${(err as Error)?.message ?? String(err)}`);
      if (e.code === 'EINTERNAL') this.log.error({ err, conn: conn.id }, 'request failed');
      else this.log.info({ conn: conn.id, pid: conn.caller.pid, code: e.code }, e.message);
      this.reply(conn, { id, ok: false, error: e.toJSON() });
    }
  }

  private owned(conn: Connection, policyId: number): Deployment {
    const dep = this.policies.get(policyId);
    if (!dep || (conn.caller.uid !== 0 && dep.caller.uid !== conn.caller.uid))
      throw new SyrupError('ENOPOLICY', `no policy ${policyId} of uid ${conn.caller.uid}`);
    return dep;
  }

  private async handle(conn: Connection, req: Request): Promise<unknown> {
    switch (req.op) {
      case 'deploy': {
        // A target is checked before anything is compiled or loaded for it.
        const target = req.target !== undefined ? authorizeTarget(conn.caller, req.target) : undefined;
        let dep: Deployment;
        let cached: boolean;
        try {
          const compiled = await this.compiler.compile(req.hook, req.file, req.source, conn.caller);
          cached = compiled.cached;
          dep = new Deployment(this.nextPolicy++, req, conn.caller, this.context(), target);
          await dep.deploy(compiled.objectPath);
        } catch (err) {
          if (target) netAddon.closeFd(target.pidfd);
          throw err;
        }
        if (target) {
          // Not the requester's: it lives until removed or until the target exits.
          this.policies.set(dep.id, dep);
          this.watchTarget(dep, target);
        } else {
          if (conn.closed) {
            await dep.remove();
            throw new SyrupError('ENOPOLICY', 'the app disconnected during deployment');
          }
          this.policies.set(dep.id, dep);
          this.policyConn.set(dep.id, conn);
          conn.policies.add(dep.id);
        }
        this.log.info(
          { policy: dep.id, hook: req.hook, ports: req.ports, ifname: req.ifname, uid: conn.caller.uid, pid: conn.caller.pid, target: req.target, cached },
          'policy deployed',
        );
        return dep.describe();
      }
      case 'remove': {
        const dep = this.owned(conn, req.policy);
        await this.removePolicy(dep);
        this.log.info({ policy: dep.id, by: conn.caller.pid }, 'policy removed');
        return {};
      }
      case 'setExecutor': {
        const dep = this.owned(conn, req.policy);
        if (this.policyConn.get(dep.id) !== conn)
          throw new SyrupError('EPERM', `policy ${dep.id} can only get executors from the connection that deployed it`);
        dep.setExecutor(req.index, req.fd);
        return {};
      }
      case 'list':
        return this.list();
      case 'mapGet': {
        const m = this.owned(conn, req.policy).userMap(req.map, 'read');
        const key = sized(req.key, m.keySize, 'request.key');
        const v = netAddon.mapLookup(m.fd, key, valueBytes(m.type, m.valueSize, this.possibleCpus));
        return { value: v ? v.toString('base64') : null };
      }
      case 'mapSet': {
        const m = this.owned(conn, req.policy).userMap(req.map, 'write');
        const key = sized(req.key, m.keySize, 'request.key');
        const value = sized(req.value, valueBytes(m.type, m.valueSize, this.possibleCpus), 'request.value');
        try {
          netAddon.mapUpdate(m.fd, key, value);
        } catch (err) {
          throw new SyrupError('EBADREQUEST', `cannot update map ${req.map}: ${(err as Error).message}`);
        }
        return {};
      }
      case 'mapDelete': {
        const m = this.owned(conn, req.policy).userMap(req.map, 'write');
        try {
          return { deleted: netAddon.mapDelete(m.fd, sized(req.key, m.keySize, 'request.key')) };
        } catch (err) {
          throw new SyrupError('EBADREQUEST', `cannot delete from map ${req.map}: ${(err as Error).message}`);
        }
      }
      case 'mapKeys': {
        const m = this.owned(conn, req.policy).userMap(req.map, 'read');
        const keys: string[] = [];
        let k: Buffer | null = null;
        while ((k = netAddon.mapNextKey(m.fd, k, m.keySize)) !== null && keys.length < 65536) keys.push(k.toString('base64'));
        return { keys };
      }
    }
  }

  list(): ListResult {
    return {
      policies: [...this.policies.values()].map((d) => d.status()),
      interfaces: [...this.dispatchers.values()].map((d) => d.status(this.possibleCpus)),
    };
  }

  /**
   * A policy deployed onto a target goes when the target does: its group's
   * sockets close with it, and what is left (pins, the claim) is undone. A
   * pidfd turns readable when its process exits; fdinfo is polled instead of
   * poll(2) because Node has no way to wait on an arbitrary fd.
   */
  private watchTarget(dep: Deployment, target: FdSource): void {
    const timer = setInterval(() => {
      // removePolicy() clears this timer first, so a policy removed meanwhile is never removed twice.
      if (pidfdPid(target.pidfd) !== -1) return;
      this.log.info({ policy: dep.id, target: target.pid }, 'target exited; policy removed');
      void this.removePolicy(dep).catch((err: unknown) => this.log.warn({ err }, 'removing a policy of an exited target failed'));
    }, TARGET_POLL_MS);
    timer.unref();
    this.targets.set(dep.id, { timer, pidfd: target.pidfd });
  }

  /** Listed until fully undone, so "gone from the list" means detached and unpinned. */
  private async removePolicy(dep: Deployment): Promise<void> {
    const watch = this.targets.get(dep.id);
    if (watch) {
      clearInterval(watch.timer);
      this.targets.delete(dep.id);
    }
    try {
      await dep.remove();
    } finally {
      if (watch) netAddon.closeFd(watch.pidfd);
    }
    this.policies.delete(dep.id);
    const conn = this.policyConn.get(dep.id);
    conn?.policies.delete(dep.id);
    this.policyConn.delete(dep.id);
  }

  private context(): DeployContext {
    return {
      pins: this.pins,
      possibleCpus: this.possibleCpus,
      claims: this.claims,
      warn: (message, err) => this.log.warn({ err }, message),
      dispatcher: (ifname, ifindex, mode) => {
        const existing = this.dispatchers.get(ifname);
        if (existing) {
          if (mode !== 'any' && existing.mode !== mode)
            throw new SyrupError(
              'EIFACE',
              `${ifname} already runs Syrup's dispatcher in ${existing.mode} mode; a ${mode}-mode policy cannot join it`,
            );
          return existing;
        }
        const d = InterfaceDispatcher.attach(ifname, ifindex, mode === 'any' ? 'skb' : mode);
        this.dispatchers.set(ifname, d);
        this.log.info({ ifname, mode: d.mode }, 'dispatcher attached');
        return d;
      },
      releaseDispatcher: (d) => {
        if (!d.empty || this.dispatchers.get(d.ifname) !== d) return;
        this.dispatchers.delete(d.ifname);
        d.close();
        this.log.info({ ifname: d.ifname }, 'dispatcher detached');
      },
    };
  }
}

function sized(b64: string, size: number, field: string): Buffer {
  const b = Buffer.from(b64, 'base64');
  if (b.length !== size) throw new SyrupError('EBADREQUEST', `${field} must be ${size} bytes (got ${b.length})`);
  return b;
}

/** Best-effort request id of a line that failed validation, so the client can match the error. */
function leniantId(line: string): number {
  try {
    const id = (JSON.parse(line) as { id?: unknown }).id;
    return typeof id === 'number' && Number.isInteger(id) && id > 0 ? id : 0;
  } catch {
    return 0;
  }
}
