// ports.ts: who owns a port: the uids of the sockets bound to it, read from /proc/net/{udp,tcp}{,6} of syrupd's network namespace.
import { promises as fs } from 'node:fs';
import { SyrupError } from './errors.ts';
import type { Protocol } from './protocol.ts';

const TCP_LISTEN = '0A';

/** uids of the sockets bound to `port` (TCP: listening sockets only, since clients' ephemeral ports are not ownership). */
export async function portOwners(protocol: Protocol, port: number): Promise<Set<number>> {
  const owners = new Set<number>();
  for (const file of [`/proc/net/${protocol}`, `/proc/net/${protocol}6`]) {
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...
      const cols = line.trim().split(/\s+/);
      if (cols.length < 8) continue;
      const local = cols[1]!;
      const localPort = parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (localPort !== port) continue;
      if (protocol === 'tcp' && cols[3] !== TCP_LISTEN) continue;
      owners.add(Number(cols[7]));
    }
  }
  return owners;
}

/**
 * An app owns a port when its user has a socket bound to it and no other
 * user does. Throws EPORTOWNER with the reason otherwise.
 */
export async function checkPortOwner(protocol: Protocol, port: number, uid: number): Promise<void> {
  const owners = await portOwners(protocol, port);
  if (!owners.has(uid)) {
    throw new SyrupError(
      'EPORTOWNER',
      `${protocol} port ${port} is not owned by uid ${uid}: bind a socket to it before deploying a policy for it`,
    );
  }
  const others = [...owners].filter((u) => u !== uid);
  if (others.length > 0) {
    throw new SyrupError('EPORTOWNER', `${protocol} port ${port} also has sockets of uid ${others.join(', ')}; refusing uid ${uid}`);
  }
}
