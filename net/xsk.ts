// xsk.ts: AF_XDP sockets for xdp_skb / xdp_drv policies: receive-only, copy mode, several sockets sharing one UMEM on one queue.
import { netAddon, type NativeXskSocket } from './addon.ts';
import { MAX_EXECUTORS } from './hooks.ts';

export interface XskGroupOptions {
  ifname: string;
  /** NIC queue the sockets bind to. Default 0. */
  queue?: number;
  /** Number of sockets (executors). */
  count: number;
  /** UMEM frames (power of two). Default 2048. */
  frames?: number;
}

/**
 * `count` AF_XDP sockets on one (interface, queue). The kernel allows one UMEM
 * per queue, so socket 0 owns it and the others share it; the policy's XSKMAP
 * index then picks which socket's RX ring a frame lands in. Needs CAP_NET_RAW.
 */
export class XskGroup {
  readonly sockets: NativeXskSocket[] = [];

  constructor(options: XskGroupOptions) {
    if (typeof options.ifname !== 'string' || options.ifname === '') throw new TypeError('options.ifname must be an interface name');
    if (!Number.isInteger(options.count) || options.count < 1 || options.count > MAX_EXECUTORS)
      throw new TypeError(`options.count must be an integer 1..${MAX_EXECUTORS}`);
    const frames = options.frames ?? 2048;
    if (!Number.isInteger(frames) || frames < 64 || (frames & (frames - 1)) !== 0)
      throw new TypeError('options.frames must be a power of two of at least 64');
    const ifindex = netAddon.ifindex(options.ifname);
    const queue = options.queue ?? 0;
    try {
      const owner = new netAddon.XskSocket(ifindex, queue, frames, 2048);
      this.sockets.push(owner);
      for (let i = 1; i < options.count; i++) this.sockets.push(new netAddon.XskSocket(ifindex, queue, frames, 2048, owner));
    } catch (err) {
      this.close();
      throw err;
    }
  }

  get fds(): number[] {
    return this.sockets.map((s) => s.fd);
  }

  /** Frames received so far by socket `index` (up to `max`), waiting up to timeoutMs for the first. */
  receive(index: number, max = 256, timeoutMs = 0): Buffer[] {
    const s = this.sockets[index];
    if (!s) throw new RangeError(`no AF_XDP socket ${index}`);
    return s.receive(max, timeoutMs);
  }

  close(): void {
    // Sharers first: the owner's UMEM must outlive them.
    for (const s of [...this.sockets].reverse()) s.close();
    this.sockets.length = 0;
  }
}
