// protocol.ts: the syrupd request/response messages and their validation (every error names the offending field).
import { SyrupError } from './errors.ts';
import { HOOK_NAMES, MAX_EXECUTORS, type HookName } from './hooks.ts';
import type { BpfMapInfo } from './map-types.ts';

export type Protocol = 'udp' | 'tcp';

export interface DeployRequest {
  op: 'deploy';
  /** Name of the policy file, used in diagnostics and the pin directory name. */
  file: string;
  /** The policy's C source (sent inline: syrupd never reads files on the app's behalf). */
  source: string;
  hook: HookName;
  /** Ports the policy schedules (socket_select: exactly one). */
  ports: number[];
  protocol: Protocol;
  /** Interface for the XDP hooks. */
  ifname?: string;
  /** The app's own fds (sockets, AF_XDP sockets), in executor-index order; with `target`, fds of the target (empty: found by syrupd). */
  executors: number[];
  /**
   * socket_select only: deploy onto the SO_REUSEPORT group of this process
   * (one the requester did not write or start, e.g. nginx), which the
   * requester may act on (same uid, or root). The policy then lives until it
   * is removed or the target exits, not with the requester's connection.
   */
  target?: number;
}

export interface PolicyRef {
  policy: number;
}

export type Request = { id: number } & (
  | DeployRequest
  | ({ op: 'remove' } & PolicyRef)
  | ({ op: 'setExecutor'; index: number; fd: number } & PolicyRef)
  | { op: 'list' }
  | ({ op: 'mapGet'; map: string; key: string } & PolicyRef)
  | ({ op: 'mapSet'; map: string; key: string; value: string } & PolicyRef)
  | ({ op: 'mapDelete'; map: string; key: string } & PolicyRef)
  | ({ op: 'mapKeys'; map: string } & PolicyRef)
);

export type RequestOp = Request['op'];

/** A map of a deployed policy as syrupd describes it: the kernel's facts (less the id, which is the daemon's business) and where it is pinned. */
export interface MapDescription extends Omit<BpfMapInfo, 'id'> {
  /** Pinned path under the BPF filesystem (readable only by the owner). */
  path: string;
}

export interface PolicyDescription {
  id: number;
  name: string;
  hook: HookName;
  file: string;
  ports: number[];
  protocol: Protocol;
  ifname?: string;
  uid: number;
  pid: number;
  pinDir: string;
  executors: number;
  /** Deployed onto another process (request.target): its pid, and the fds of its group's sockets, in executor order. */
  target?: number;
  executorFds?: number[];
  maps: MapDescription[];
  deployedAt: string;
}

export interface PolicyCounters {
  /** Decisions per executor index (index = position). */
  executors: number[];
  pass: number;
  drop: number;
  /** Decisions naming an executor the app never registered (fell back to PASS). */
  noExecutor: number;
  /** cpu_redirect: packets whose stack processing ran on each cpu. */
  cpuPackets?: number[];
}

/** Kernel run-time statistics of a BPF program (run time stays 0 unless kernel.bpf_stats_enabled is on). */
export interface ProgramStats {
  id: number;
  runTimeNs: number;
  runCount: number;
}

export interface PolicyStatus extends PolicyDescription {
  counters: PolicyCounters;
  /**
   * The policy's program. For XDP hooks it is tail-called, and the kernel
   * accounts its runs to the interface's dispatcher program instead.
   */
  program: ProgramStats;
}

export interface InterfaceStatus {
  ifname: string;
  mode: 'skb' | 'drv';
  seen: number;
  unowned: number;
  missing: number;
  ports: { protocol: Protocol; port: number; policy: number }[];
  /** The dispatcher program (its run time includes the policies it tail-calls). */
  program: ProgramStats;
}

export interface ListResult {
  policies: PolicyStatus[];
  interfaces: InterfaceStatus[];
}

export type Response =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { code: string; message: string; details?: string } };

const OPS: readonly string[] = ['deploy', 'remove', 'setExecutor', 'list', 'mapGet', 'mapSet', 'mapDelete', 'mapKeys'];

function bad(message: string): never {
  throw new SyrupError('EBADREQUEST', message);
}

function int(o: Record<string, unknown>, field: string, min: number, max: number): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    bad(`request.${field} must be an integer ${min}..${max}`);
  return v;
}

function str(o: Record<string, unknown>, field: string, maxLen = 4096): string {
  const v = o[field];
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLen)
    bad(`request.${field} must be a non-empty string of at most ${maxLen} characters`);
  return v;
}

function base64(o: Record<string, unknown>, field: string): string {
  const v = str(o, field, 1 << 16);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v)) bad(`request.${field} must be base64`);
  return v;
}

const PORT_MAX = 65535;

/** Parse one request line; throws SyrupError (EBADREQUEST / EUNKNOWNOP / EUNKNOWNHOOK). */
export function parseRequest(line: string): Request {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    bad(`request is not valid JSON (${(err as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad('request must be a JSON object');
  const o = raw as Record<string, unknown>;
  const id = int(o, 'id', 0, Number.MAX_SAFE_INTEGER);
  const op = o.op;
  if (typeof op !== 'string' || !OPS.includes(op))
    throw new SyrupError('EUNKNOWNOP', `request.op must be one of ${OPS.join(', ')} (got ${JSON.stringify(op)})`);
  switch (op) {
    case 'list':
      return { id, op };
    case 'remove':
      return { id, op, policy: int(o, 'policy', 1, 2 ** 31) };
    case 'setExecutor':
      return {
        id,
        op,
        policy: int(o, 'policy', 1, 2 ** 31),
        index: int(o, 'index', 0, MAX_EXECUTORS - 1),
        fd: int(o, 'fd', 0, 2 ** 31 - 1),
      };
    case 'mapGet':
    case 'mapDelete':
      return { id, op, policy: int(o, 'policy', 1, 2 ** 31), map: str(o, 'map', 64), key: base64(o, 'key') };
    case 'mapSet':
      return {
        id,
        op,
        policy: int(o, 'policy', 1, 2 ** 31),
        map: str(o, 'map', 64),
        key: base64(o, 'key'),
        value: base64(o, 'value'),
      };
    case 'mapKeys':
      return { id, op, policy: int(o, 'policy', 1, 2 ** 31), map: str(o, 'map', 64) };
    default:
      return { id, ...parseDeploy(o) };
  }
}

function parseDeploy(o: Record<string, unknown>): DeployRequest {
  const hook = o.hook;
  if (typeof hook !== 'string' || !(HOOK_NAMES as readonly string[]).includes(hook))
    throw new SyrupError(
      'EUNKNOWNHOOK',
      `request.hook must be one of ${HOOK_NAMES.join(', ')} (got ${JSON.stringify(hook)})`,
    );
  const file = str(o, 'file', 4096);
  const source = str(o, 'source', 1 << 20);
  let ports: number[];
  if (o.ports !== undefined) {
    if (!Array.isArray(o.ports) || o.ports.length === 0 || o.ports.length > 64)
      bad('request.ports must be an array of 1..64 ports');
    ports = o.ports.map((p, i) => {
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > PORT_MAX)
        bad(`request.ports[${i}] must be an integer 1..${PORT_MAX}`);
      return p;
    });
    if (new Set(ports).size !== ports.length) bad('request.ports must not repeat a port');
  } else {
    ports = [int(o, 'port', 1, PORT_MAX)];
  }
  const protocol = o.protocol ?? 'udp';
  if (protocol !== 'udp' && protocol !== 'tcp') bad(`request.protocol must be 'udp' or 'tcp'`);
  let executors: number[] = [];
  if (o.executors !== undefined) {
    if (!Array.isArray(o.executors) || o.executors.length > MAX_EXECUTORS) bad(`request.executors must be an array of at most ${MAX_EXECUTORS} fds`);
    executors = o.executors.map((fd, i) => {
      if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 2 ** 31 - 1)
        bad(`request.executors[${i}] must be a file descriptor number`);
      return fd;
    });
  }
  const req: DeployRequest = { op: 'deploy', file, source, hook: hook as HookName, ports, protocol, executors };
  if (o.target !== undefined) {
    if (hook !== 'socket_select') bad('request.target is only for socket_select (the other hooks schedule an interface, not a process)');
    req.target = int(o, 'target', 1, 2 ** 22);
  }
  if (hook === 'socket_select') {
    if (ports.length !== 1) bad('request.ports must hold exactly one port for socket_select');
    if (executors.length === 0 && req.target === undefined) bad('request.executors must list the sockets of the SO_REUSEPORT group (or request.target name the process that holds them)');
  } else {
    const ifname = str(o, 'ifname', 15);
    if (!/^[A-Za-z0-9_.:-]+$/.test(ifname)) bad('request.ifname is not a valid interface name');
    req.ifname = ifname;
  }
  return req;
}
