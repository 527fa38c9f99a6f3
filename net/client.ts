// client.ts: the TypeScript client API of syrupd: connect, deployPolicy(), maps, executors, listing and removal.
import { promises as fs } from 'node:fs';
import net from 'node:net';
import { type Decoded, type TypeSpec } from './codec.ts';
import { SyrupError, type SyrupErrorCode } from './errors.ts';
import { encodeLine, LineFramer, DEFAULT_MAX_MESSAGE_BYTES } from './framing.ts';
import { HOOK_NAMES, type HookName } from './hooks.ts';
import { PolicyMap, type MapTypes } from './maps.ts';
import { groupSocketFds } from './reuseport.ts';
import { SYRUPD_DEFAULTS } from './options.ts';
import type { ListResult, PolicyDescription, PolicyStatus, Protocol, Response } from './protocol.ts';

/** Something that stands for an executor: an fd, or an object holding one (XskSocket, dgram.Socket, net.Server). */
export type ExecutorRef = number | object;

export interface DeployOptions {
  /** Path of the policy's C file (read by the client; syrupd never opens app files). */
  file: string;
  hook: HookName;
  /** The port the policy schedules (or `ports` for several, XDP hooks only). */
  port?: number;
  ports?: number[];
  /** Default 'udp'. */
  protocol?: Protocol;
  /** Interface for xdp_skb, xdp_drv, cpu_redirect, xdp_offload. */
  ifname?: string;
  /** socket_select: the SO_REUSEPORT group's sockets; xdp_*: AF_XDP sockets. Index i = executor i. */
  executors?: ExecutorRef[];
}

export interface ConnectOptions {
  /** syrupd's socket. Default: $SYRUPD_SOCKET, else /run/syrup/syrupd.sock. */
  socketPath?: string;
}

/** The fd behind a Node socket/server (an internal field; Node has no public accessor). */
export function fdOf(ref: ExecutorRef, what = 'executor'): number {
  if (typeof ref === 'number') return ref;
  if ('fd' in ref && typeof (ref as { fd: unknown }).fd === 'number') return (ref as { fd: number }).fd;
  const known = groupSocketFds.get(ref);
  if (known !== undefined) return known;
  const handle = (ref as { _handle?: { fd?: number } })._handle;
  if (handle && typeof handle.fd === 'number' && handle.fd >= 0) return handle.fd;
  throw new SyrupError('EBADREQUEST', `${what} has no file descriptor (is the socket bound / listening?)`);
}

export class SyrupClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closedError: SyrupError | null = null;

  private constructor(private readonly socket: net.Socket) {
    const framer = new LineFramer(DEFAULT_MAX_MESSAGE_BYTES * 16);
    socket.on('data', (chunk: Buffer) => {
      for (const line of framer.push(chunk)) {
        if (typeof line !== 'string') {
          this.fail(new SyrupError('ECONNECTION', `syrupd sent an oversized response: ${line.message}`));
          continue;
        }
        let r: Response;
        try {
          r = JSON.parse(line) as Response;
        } catch (err) {
          // Not syrupd (or a broken one) at the other end: the conversation cannot go on.
          this.fail(new SyrupError('ECONNECTION', `syrupd sent a response that is not JSON: ${(err as Error).message}`));
          this.socket.destroy();
          return;
        }
        this.onResponse(r);
      }
    });
    socket.on('error', (err) => this.fail(new SyrupError('ECONNECTION', `syrupd connection failed: ${err.message}`)));
    socket.on('close', () => this.fail(new SyrupError('ECONNECTION', 'syrupd closed the connection')));
  }

  static connect(options: ConnectOptions = {}): Promise<SyrupClient> {
    const socketPath = options.socketPath ?? process.env.SYRUPD_SOCKET ?? SYRUPD_DEFAULTS.socketPath;
    return new Promise((resolve, reject) => {
      const s = net.createConnection(socketPath);
      s.once('connect', () => {
        s.removeAllListeners('error');
        resolve(new SyrupClient(s));
      });
      s.once('error', (err) =>
        reject(new SyrupError('ECONNECTION', `cannot reach syrupd at ${socketPath}: ${err.message} (is syrupd running?)`)),
      );
    });
  }

  private onResponse(r: Response): void {
    // id 0 answers a request whose id syrupd could not read (e.g. an oversized
    // one); syrupd answers in order, so it is the oldest one still pending.
    const id = r.id === 0 ? this.pending.keys().next().value : r.id;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p || id === undefined) return;
    this.pending.delete(id);
    if (r.ok) p.resolve(r.result);
    else p.reject(new SyrupError(r.error.code as SyrupErrorCode, r.error.message, r.error.details));
  }

  private fail(err: SyrupError): void {
    if (!this.closedError) this.closedError = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Send one raw request; resolves with the daemon's result or rejects with its SyrupError. */
  request(op: string, args: Record<string, unknown> = {}): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(encodeLine({ ...args, id, op }));
    });
  }

  /** Compile, load and attach a policy file at a hook. It stays deployed while this client is connected. */
  async deployPolicy(options: DeployOptions): Promise<Policy> {
    if (!(HOOK_NAMES as readonly string[]).includes(options.hook))
      throw new SyrupError('EUNKNOWNHOOK', `options.hook must be one of ${HOOK_NAMES.join(', ')}`);
    if (typeof options.file !== 'string') throw new SyrupError('EBADREQUEST', 'options.file must be a path');
    let source: string;
    try {
      source = await fs.readFile(options.file, 'utf8');
    } catch (err) {
      throw new SyrupError('EBADREQUEST', `options.file cannot be read: ${(err as Error).message}`);
    }
    const args: Record<string, unknown> = {
      file: options.file,
      source,
      hook: options.hook,
      protocol: options.protocol ?? 'udp',
      executors: (options.executors ?? []).map((e, i) => fdOf(e, `options.executors[${i}]`)),
    };
    if (options.ports !== undefined) args.ports = options.ports;
    else args.port = options.port;
    if (options.ifname !== undefined) args.ifname = options.ifname;
    const d = (await this.request('deploy', args)) as PolicyDescription;
    return new Policy(this, d);
  }

  async listPolicies(): Promise<ListResult> {
    return (await this.request('list')) as ListResult;
  }

  /** Let the process exit even while this connection is open. */
  unref(): void {
    this.socket.unref();
  }

  /** Close the connection: syrupd removes every policy this client deployed. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }
}

/** A deployed policy. */
export class Policy {
  private readonly openMaps: PolicyMap<TypeSpec, TypeSpec>[] = [];

  constructor(
    private readonly client: SyrupClient,
    readonly description: PolicyDescription,
  ) {}

  get id(): number {
    return this.description.id;
  }

  get pinDir(): string {
    return this.description.pinDir;
  }

  /** Open one of the policy's maps (SYR_MAP in the policy file) with key/value types checked against its sizes. */
  openMap<K extends TypeSpec, V extends TypeSpec>(name: string, types: MapTypes<K, V>): PolicyMap<K, V> {
    const d = this.description.maps.find((m) => m.name === name);
    if (!d)
      throw new SyrupError('ENOMAP', `policy ${this.id} has no map ${name} (maps: ${this.description.maps.map((m) => m.name).join(', ')})`);
    const m = PolicyMap.open(d, this.id, { request: (op, args) => this.client.request(op, args) }, types);
    this.openMaps.push(m as unknown as PolicyMap<TypeSpec, TypeSpec>);
    return m;
  }

  /** Replace executor `index` with another of the app's sockets. */
  async setExecutor(index: number, executor: ExecutorRef): Promise<void> {
    await this.client.request('setExecutor', { policy: this.id, index, fd: fdOf(executor) });
  }

  async status(): Promise<PolicyStatus> {
    const list = await this.client.listPolicies();
    const s = list.policies.find((p) => p.id === this.id);
    if (!s) throw new SyrupError('ENOPOLICY', `policy ${this.id} is no longer deployed`);
    return s;
  }

  /** Detach and unpin: the hook behaves as before the policy was deployed. */
  async remove(): Promise<void> {
    for (const m of this.openMaps) m.close();
    await this.client.request('remove', { policy: this.id });
  }
}

export type { Decoded, TypeSpec };

let defaultClient: Promise<SyrupClient> | null = null;

/**
 * deployPolicy({ file, hook, port | ifname, ... }) on a process-wide
 * connection to syrupd (opened on first use; its policies are removed when
 * the process exits).
 */
export async function deployPolicy(options: DeployOptions & ConnectOptions): Promise<Policy> {
  if (!defaultClient) {
    defaultClient = SyrupClient.connect(options);
    defaultClient.catch(() => (defaultClient = null));
  }
  const client = await defaultClient;
  // The process-wide connection must not keep the app alive by itself.
  client.unref();
  return client.deployPolicy(options);
}
