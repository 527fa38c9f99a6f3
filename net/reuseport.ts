// reuseport.ts: creating an app's SO_REUSEPORT group (UDP dgram sockets or TCP servers) that a socket_select policy schedules.
import dgram from 'node:dgram';
import net from 'node:net';
import { netAddon } from './addon.ts';

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
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > 64) throw new TypeError('options.count must be an integer 1..64');
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
  if (options.protocol === 'udp') {
    const sockets = await Promise.all(
      fds.map(
        (fd) =>
          new Promise<dgram.Socket>((resolve, reject) => {
            const s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
            s.once('error', reject);
            s.bind({ fd }, () => {
              s.off('error', reject);
              groupSocketFds.set(s, fd);
              resolve(s);
            });
          }),
      ),
    );
    return {
      protocol: 'udp',
      sockets,
      fds,
      close: () => Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined),
    };
  }
  const servers = await Promise.all(
    fds.map(
      (fd) =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen({ fd }, () => {
            s.off('error', reject);
            groupSocketFds.set(s, fd);
            resolve(s);
          });
        }),
    ),
  );
  return {
    protocol: 'tcp',
    servers,
    fds,
    close: () => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined),
  };
}
