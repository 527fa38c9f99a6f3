// reuseport.ts: creating an app's SO_REUSEPORT group (UDP dgram sockets or TCP servers) that a socket_select policy schedules.
import dgram from 'node:dgram';
import net from 'node:net';
import { netAddon } from './addon.ts';
import { MAX_EXECUTORS } from './hooks.ts';

export interface ReuseportGroupOptions {
  protocol: 'udp' | 'tcp';
  port: number;
  /** Number of sockets (executors). */
  count: number;
  /** Default '0.0.0.0' (or '::' with family 6). */
  address?: string;
  /** Default 4. */
  family?: 4 | 6;
  /** TCP listen backlog. Default 511. */
  backlog?: number;
}

export interface UdpGroup {
  protocol: 'udp';
  sockets: dgram.Socket[];
  fds: number[];
  close(): Promise<void>;
}

export interface TcpGroup {
  protocol: 'tcp';
  servers: net.Server[];
  fds: number[];
  close(): Promise<void>;
}

/** fds of the sockets this module created, so fdOf() need not reach into Node internals for them. */
export const groupSocketFds = new WeakMap<object, number>();

function validate(o: ReuseportGroupOptions): void {
  if (o.protocol !== 'udp' && o.protocol !== 'tcp') throw new TypeError("options.protocol must be 'udp' or 'tcp'");
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new TypeError('options.port must be an integer 1..65535');
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > MAX_EXECUTORS) throw new TypeError(`options.count must be an integer 1..${MAX_EXECUTORS}`);
  if (o.family !== undefined && o.family !== 4 && o.family !== 6) throw new TypeError('options.family must be 4 or 6');
}

/**
 * `count` sockets bound to the same port with SO_REUSEPORT. Node 20 cannot
 * set SO_REUSEPORT, so the addon creates and binds them and Node adopts each
 * fd (dgram bind({fd}) / server.listen({fd})); the fds stay valid for as
 * long as the Node objects are open.
 */
export async function createReuseportGroup(options: ReuseportGroupOptions & { protocol: 'udp' }): Promise<UdpGroup>;
export async function createReuseportGroup(options: ReuseportGroupOptions & { protocol: 'tcp' }): Promise<TcpGroup>;
export async function createReuseportGroup(options: ReuseportGroupOptions): Promise<UdpGroup | TcpGroup> {
  validate(options);
  const family = options.family ?? 4;
  const address = options.address ?? (family === 4 ? '0.0.0.0' : '::');
  const fds: number[] = [];
  for (let i = 0; i < options.count; i++) {
    try {
      fds.push(netAddon.reuseportSocket(options.protocol, family, address, options.port, options.backlog ?? 511));
    } catch (err) {
      for (const fd of fds) netAddon.closeFd(fd);
      throw err;
    }
  }
  const adopt = <H extends dgram.Socket | net.Server>(create: () => H, start: (h: H, fd: number, done: () => void) => void) =>
    adoptAll(fds, (fd) => new Promise<H>((resolve, reject) => {
      const h = create();
      h.once('error', reject);
      start(h, fd, () => {
        h.off('error', reject);
        groupSocketFds.set(h, fd);
        resolve(h);
      });
    }));
  if (options.protocol === 'udp') {
    const sockets = await adopt(() => dgram.createSocket(family === 4 ? 'udp4' : 'udp6'), (s, fd, done) => s.bind({ fd }, done));
    return { protocol: 'udp', sockets, fds, close: () => closeAll(sockets) };
  }
  const servers = await adopt(() => net.createServer(), (s, fd, done) => s.listen({ fd }, done));
  return { protocol: 'tcp', servers, fds, close: () => closeAll(servers) };
}

function closeAll(handles: readonly (dgram.Socket | net.Server)[]): Promise<void> {
  return Promise.all(handles.map((h) => new Promise<void>((r) => h.close(() => r())))).then(() => undefined);
}

/**
 * Hand each fd to a Node handle. If one refuses, the handles that did take
 * theirs are closed before the error goes up (the refused fd stays with its
 * failed handle, which may already have closed it: closing it again here
 * could hit an unrelated fd that reused the number).
 */
async function adoptAll<H extends dgram.Socket | net.Server>(fds: readonly number[], adopt: (fd: number) => Promise<H>): Promise<H[]> {
  const settled = await Promise.allSettled(fds.map(adopt));
  const handles = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await closeAll(handles);
    throw failed.reason;
  }
  return handles;
}
