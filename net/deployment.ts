// deployment.ts: one deployed policy: load, pin, attach at its hook, register executors, report counters, and undo all of it on removal.
import os from 'node:os';
import path from 'node:path';
import { netAddon, type AddonError, type MapEntry, type NativeBpfObject } from './addon.ts';
import { discoverGroup, type FdSource } from './attach.ts';
import type { InterfaceDispatcher } from './dispatcher.ts';
import { SyrupError } from './errors.ts';
import { HOOKS, MAX_EXECUTORS, type HookSpec } from './hooks.ts';
import type { PinTree } from './pins.ts';
import { checkPortOwner } from './ports.ts';
import { loadPolicyObject, programStats, u32, u64Values } from './policy-object.ts';
import type { DeployRequest, MapDescription, PolicyCounters, PolicyDescription, PolicyStatus } from './protocol.ts';

const COUNT_PASS = MAX_EXECUTORS;
const COUNT_DROP = MAX_EXECUTORS + 1;
const COUNT_NO_EXECUTOR = MAX_EXECUTORS + 2;
const CPUMAP_QSIZE = 2048;

/** The app on the other end of a syrupd connection. */
export interface Caller {
  uid: number;
  gid: number;
  pid: number;
  /** pidfd of the app, taken when it connected (immune to pid reuse). */
  pidfd: number;
}

/** What a deployment needs from the daemon around it. */
export interface DeployContext {
  pins: PinTree;
  /** Possible cpus: the stride of per-CPU map values. */
  possibleCpus: number;
  /** The interface's dispatcher, attached on first use; EIFACE on a mode conflict. */
  dispatcher(ifname: string, ifindex: number, mode: 'skb' | 'drv' | 'any'): InterfaceDispatcher;
  /** Detach the dispatcher if no policy uses it any more. */
  releaseDispatcher(d: InterfaceDispatcher): void;
  /** Claim keys (hook target) held by live policies, to refuse a second policy on the same target. */
  claims: Map<string, number>;
  /** Report a failed undo step (removal goes on with the others). */
  warn(message: string, err: unknown): void;
}

/** Duplicate one of the app's fds into syrupd (the app proves it holds the socket by naming it; a target's were found by discoverGroup). */
function takeFd(source: FdSource, fd: number, what: string): number {
  try {
    return netAddon.pidfdGetfd(source.pidfd, fd);
  } catch (err) {
    throw new SyrupError('EEXECUTOR', `${what} (fd ${fd}) cannot be taken from pid ${source.pid}: ${(err as Error).message}`);
  }
}

function ifindexOf(ifname: string): number {
  try {
    return netAddon.ifindex(ifname);
  } catch {
    throw new SyrupError('EIFACE', `no interface named ${ifname} in syrupd's network namespace`);
  }
}

export class Deployment {
  readonly spec: HookSpec;
  readonly name: string;
  readonly deployedAt = new Date();
  pinDir = '';
  private object: NativeBpfObject | null = null;
  private programFd = -1;
  private maps: MapEntry[] = [];
  private pinned: MapDescription[] = [];
  private counterObject: NativeBpfObject | null = null;
  private executorCount = 0;
  /** The executor fds, in the fd table of `source`: the request's, or the target's group as found. */
  private executorFds: number[] = [];
  /** Whose fds the executors are: the app's, or (request.target) the process it was deployed onto. */
  readonly source: FdSource;
  /** Undo steps, run last-first by remove(). */
  private readonly undo: (() => void | Promise<void>)[] = [];
  private removal: Promise<void> | null = null;

  constructor(
    readonly id: number,
    readonly request: DeployRequest,
    readonly caller: Caller,
    private readonly ctx: DeployContext,
    target?: FdSource,
  ) {
    this.source = target ?? { pid: caller.pid, pidfd: caller.pidfd };
    this.spec = HOOKS[request.hook];
    const base = path.basename(request.file).replace(/\.c$/, '').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 48);
    this.name = `${id}-${base || 'policy'}`;
  }

  /** Everything after compilation. On failure, whatever was done is undone before the error propagates. */
  async deploy(objectPath: string): Promise<void> {
    try {
      await this.deployUnsafe(objectPath);
    } catch (err) {
      await this.remove();
      throw err;
    }
  }

  private claim(key: string, what: string): void {
    const holder = this.ctx.claims.get(key);
    if (holder !== undefined)
      throw new SyrupError('EPORTCLAIMED', `${what} is already scheduled by policy ${holder}; remove it first`);
    this.ctx.claims.set(key, this.id);
    this.undo.push(() => {
      if (this.ctx.claims.get(key) === this.id) this.ctx.claims.delete(key);
    });
  }

  private async deployUnsafe(objectPath: string): Promise<void> {
    const req = this.request;
    const attach = this.spec.attach;
    const ifindex = req.ifname !== undefined ? ifindexOf(req.ifname) : 0;

    if (attach.kind === 'offload' && req.ports.length !== 1)
      throw new SyrupError('EBADREQUEST', 'request.ports must hold exactly one port for xdp_offload');
    // socket_select proves ownership by handing over the group's sockets; the
    // XDP hooks see a whole interface, so the app must own each port it claims.
    if (attach.kind !== 'reuseport') for (const p of req.ports) await checkPortOwner(req.protocol, p, this.caller.uid);

    // Claims are taken synchronously (no await between check and set), so two
    // concurrent deploys for the same target cannot both pass.
    if (attach.kind === 'reuseport') this.claim(`reuseport/${req.protocol}/${req.ports[0]}`, `${req.protocol} port ${req.ports[0]}`);
    else if (attach.kind === 'offload') this.claim(`offload/${req.ifname}`, `offload on ${req.ifname}`);
    else for (const p of req.ports) this.claim(`xdp/${req.ifname}/${req.protocol}/${p}`, `${req.protocol} port ${p} on ${req.ifname}`);
    if (this.spec.executors === 'cpus' || this.spec.executors === 'none') {
      if (req.executors.length > 0) throw new SyrupError('EBADREQUEST', `request.executors is not used by hook ${req.hook}`);
    }
    this.executorFds =
      req.target !== undefined && req.executors.length === 0 ? discoverGroup(this.source, req.protocol, req.ports[0]!) : [...req.executors];
    this.executorCount = this.spec.executors === 'cpus' ? os.cpus().length : this.executorFds.length;

    const rodata: Record<string, Buffer> = { syr_executor_count: u32(Math.max(1, this.executorCount)) };
    if (attach.kind === 'offload') {
      const port = Buffer.alloc(2);
      port.writeUInt16LE(req.ports[0]!);
      rodata.syr_owned_port = port;
      rodata.syr_owned_protocol = Buffer.from([req.protocol === 'tcp' ? 6 : 17]);
    }
    let loaded;
    try {
      loaded = loadPolicyObject(objectPath, {
        program: this.spec.program,
        rodata,
        offloadIfindex: attach.kind === 'offload' ? ifindex : undefined,
      });
    } catch (err) {
      if (attach.kind === 'offload' && err instanceof SyrupError && err.code !== 'EVERIFIER')
        throw new SyrupError('ENOOFFLOAD', `interface ${req.ifname} cannot offload XDP programs (${err.message})`, err.details);
      throw err;
    }
    this.object = loaded.object;
    this.programFd = loaded.program.fd;
    this.maps = loaded.maps;
    this.undo.push(() => {
      this.object?.close();
      this.object = null;
    });

    this.pinDir = await this.ctx.pins.policyDir(this.caller.uid, this.caller.gid, this.name);
    this.undo.push(() => this.ctx.pins.removePolicyDir(this.pinDir));
    for (const m of this.maps) {
      const p = await this.ctx.pins.pinMap(m.fd, this.pinDir, m.name, this.caller.uid, this.caller.gid);
      this.pinned.push({ name: m.name, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags, path: p });
    }
    if (this.removal) throw new SyrupError('ENOPOLICY', 'the app disconnected during deployment');

    if (this.spec.executors === 'sockets') this.attachReuseport(loaded.program.fd);
    else if (this.spec.executors === 'xsk') {
      this.executorFds.forEach((fd, i) => this.setExecutor(i, fd));
      this.attachDispatcher(loaded.program.fd, ifindex);
    } else if (this.spec.executors === 'cpus') {
      this.fillCpumap();
      this.attachDispatcher(loaded.program.fd, ifindex);
    } else {
      this.attachOffload(loaded.program.fd, ifindex);
    }
  }

  private map(name: string): MapEntry {
    const m = this.maps.find((x) => x.name === name);
    if (!m) throw new SyrupError('ENOMAP', `policy ${this.id} has no map ${name}`);
    return m;
  }

  /** Socket select: verify the app's sockets, fill the socket array, attach to the group. */
  private attachReuseport(progFd: number): void {
    const req = this.request;
    const port = req.ports[0]!;
    const executors = this.map('syr_executors');
    const dups: number[] = [];
    try {
      this.executorFds.forEach((fd, i) => {
        const what = `request.executors[${i}] (fd ${fd})`;
        const dup = takeFd(this.source, fd, `request.executors[${i}]`);
        dups.push(dup);
        this.putExecutor(executors, i, dup, what);
      });
      try {
        netAddon.attachReuseport(dups[0]!, progFd);
      } catch (err) {
        throw new SyrupError('EEXECUTOR', `cannot attach the policy to the SO_REUSEPORT group of port ${port}: ${(err as Error).message}`);
      }
      const appFds = [...this.executorFds];
      const inodes = dups.map((d) => netAddon.socketInfo(d).inode);
      this.undo.push(() => this.detachReuseport(appFds, inodes));
    } finally {
      for (const d of dups) netAddon.closeFd(d);
    }
  }

  /**
   * The group keeps the program until a socket detaches it or the group dies.
   * Reach the group again through any of the app's sockets that is still the
   * same socket; if none is (the app closed them or exited), the group and
   * its program are already gone.
   */
  private detachReuseport(appFds: number[], inodes: number[]): void {
    for (const fd of appFds) {
      let dup: number;
      try {
        dup = netAddon.pidfdGetfd(this.source.pidfd, fd);
      } catch {
        continue;
      }
      try {
        const info = netAddon.socketInfo(dup);
        if (inodes.includes(info.inode)) {
          netAddon.detachReuseport(dup);
          return;
        }
      } catch {
        // not a socket any more
      } finally {
        netAddon.closeFd(dup);
      }
    }
  }

  /** Put the app's socket `fd` (its own fd number) at executor `index`. */
  setExecutor(index: number, fd: number): void {
    if (this.spec.executors !== 'sockets' && this.spec.executors !== 'xsk')
      throw new SyrupError('EBADREQUEST', `hook ${this.request.hook} has no socket executors`);
    const executors = this.map('syr_executors');
    const dup = takeFd(this.source, fd, `executor ${index}`);
    try {
      this.putExecutor(executors, index, dup, `executor ${index} (fd ${fd})`);
    } finally {
      netAddon.closeFd(dup);
    }
  }

  /**
   * Check the app's socket (`dup`, our copy; `what` names it in errors) and put
   * it at executor `index`. One check for deployment and setExecutor alike: a
   * socket_select executor is a UDP socket, or a listening TCP one, bound to
   * the policy's port; an xdp one is whatever the XSKMAP accepts.
   */
  private putExecutor(executors: MapEntry, index: number, dup: number, what: string): void {
    const req = this.request;
    const sockets = this.spec.executors === 'sockets';
    if (sockets) {
      let info: ReturnType<typeof netAddon.socketInfo>;
      try {
        info = netAddon.socketInfo(dup);
      } catch (err) {
        throw new SyrupError('EEXECUTOR', `${what} is not a socket: ${(err as Error).message}`);
      }
      const port = req.ports[0]!;
      if (info.protocol !== req.protocol || info.port !== port || (req.protocol === 'tcp' && !info.listening))
        throw new SyrupError('EEXECUTOR', `${what} must be a ${req.protocol === 'tcp' ? 'listening TCP' : 'UDP'} socket bound to port ${port}`);
    }
    try {
      netAddon.mapUpdate(executors.fd, u32(index), sockets ? bigU64(dup) : u32(dup));
    } catch (err) {
      throw new SyrupError('EEXECUTOR', `${what} is not ${sockets ? 'in an SO_REUSEPORT group' : 'a bound AF_XDP socket'}: ${(err as Error).message}`);
    }
  }

  /** cpu_redirect: one CPUMAP entry per online cpu, each running this policy's counting program. */
  private fillCpumap(): void {
    const counter = netAddon.BpfObject.openCpuCounter();
    this.counterObject = counter;
    this.undo.push(() => {
      counter.close();
      this.counterObject = null;
    });
    counter.load();
    const prog = counter.programs()[0]!;
    const cpumap = this.map('syr_executors');
    for (let cpu = 0; cpu < this.executorCount && cpu < MAX_EXECUTORS; cpu++) {
      const v = Buffer.alloc(8);
      v.writeUInt32LE(CPUMAP_QSIZE, 0);
      v.writeInt32LE(prog.fd, 4);
      netAddon.mapUpdate(cpumap.fd, u32(cpu), v);
    }
  }

  private attachDispatcher(progFd: number, ifindex: number): void {
    const attach = this.spec.attach;
    if (attach.kind !== 'dispatcher') return;
    const d = this.ctx.dispatcher(this.request.ifname!, ifindex, attach.mode);
    let slot: number;
    try {
      slot = d.add(this.id, progFd, this.request.protocol, this.request.ports);
    } catch (err) {
      this.ctx.releaseDispatcher(d);
      throw err;
    }
    this.undo.push(() => {
      d.remove(slot);
      this.ctx.releaseDispatcher(d);
    });
  }

  private attachOffload(progFd: number, ifindex: number): void {
    let link: number;
    try {
      link = netAddon.xdpLink(progFd, ifindex, 'hw');
    } catch (err) {
      throw new SyrupError('ENOOFFLOAD', `interface ${this.request.ifname} cannot offload XDP programs (${(err as AddonError).message})`);
    }
    this.undo.push(() => netAddon.closeFd(link));
  }

  /**
   * Map handle for daemon-side map access (apps without BPF rights). The
   * wrapper's own maps (syr_*) are read-only there: syr_executors holds fds of
   * syrupd's own fd table, and a write would act with syrupd's authority.
   */
  userMap(name: string, access: 'read' | 'write'): MapEntry {
    const m = this.map(name);
    if (access === 'write' && name.startsWith('syr_')) {
      throw new SyrupError('EPERM', `map ${name} belongs to syrupd's wrapper of policy ${this.id}; requests may read it, not change it`);
    }
    return m;
  }

  describe(): PolicyDescription {
    const r = this.request;
    const d: PolicyDescription = {
      id: this.id,
      name: this.name,
      hook: r.hook,
      file: r.file,
      ports: r.ports,
      protocol: r.protocol,
      uid: this.caller.uid,
      pid: this.caller.pid,
      pinDir: this.pinDir,
      executors: this.executorCount,
      ...(r.target !== undefined ? { target: r.target, executorFds: [...this.executorFds] } : {}),
      maps: this.pinned,
      deployedAt: this.deployedAt.toISOString(),
    };
    if (r.ifname !== undefined) d.ifname = r.ifname;
    return d;
  }

  counters(): PolicyCounters {
    const cpus = this.ctx.possibleCpus;
    const c: PolicyCounters = { executors: [], pass: 0, drop: 0, noExecutor: 0 };
    const counters = this.maps.find((m) => m.name === 'syr_counters' || m.name === 'syr_offload_counters');
    if (!counters || !this.object) return c;
    const perCpu = counters.name === 'syr_counters';
    const read = (slot: number): number => u64Values(counters.fd, slot, perCpu ? cpus : 1).reduce((a, b) => a + b, 0);
    if (!perCpu) return { executors: [read(2)], pass: read(0), drop: read(1), noExecutor: 0 };
    for (let i = 0; i < Math.min(Math.max(this.executorCount, 1), MAX_EXECUTORS); i++) c.executors.push(read(i));
    c.pass = read(COUNT_PASS);
    c.drop = read(COUNT_DROP);
    c.noExecutor = read(COUNT_NO_EXECUTOR);
    if (this.counterObject) {
      const m = this.counterObject.maps().find((x) => x.name === 'syr_cpu_packets')!;
      c.cpuPackets = u64Values(m.fd, 0, cpus);
    }
    return c;
  }

  status(): PolicyStatus {
    return { ...this.describe(), counters: this.counters(), program: programStats(this.object ? this.programFd : -1) };
  }

  /** Detach, unpin, free: the hook behaves as if the policy never existed. Idempotent. */
  remove(): Promise<void> {
    // Concurrent callers (explicit removal racing the app's disconnect) share one run.
    this.removal ??= this.undoAll();
    return this.removal;
  }

  private async undoAll(): Promise<void> {
    while (this.undo.length > 0) {
      const step = this.undo.pop()!;
      try {
        await step();
      } catch (err) {
        // keep undoing the rest: a half-removed policy is worse than a logged failure
        this.ctx.warn(`policy ${this.id}: a removal step failed`, err);
      }
    }
  }
}

function bigU64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}
