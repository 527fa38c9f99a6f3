// dispatcher.ts: one XDP dispatcher per interface (dispatcher.bpf.c): attaches it, gives each policy a PROG_ARRAY slot and its ports, detaches when empty.
import { netAddon, type AddonError, type MapEntry, type NativeBpfObject } from './addon.ts';
import { SyrupError } from './errors.ts';
import type { InterfaceStatus, Protocol } from './protocol.ts';
import { programStats, u32, u64Values } from './policy-object.ts';

/** Must match SYR_DISPATCH_SLOTS in dispatcher.bpf.c. */
const SLOTS = 64;
const IPPROTO: Record<Protocol, number> = { tcp: 6, udp: 17 };

function portKey(protocol: Protocol, port: number): Buffer {
  // struct syr_port_key { __u16 port; __u8 protocol; __u8 pad; }
  const b = Buffer.alloc(4);
  b.writeUInt16LE(port, 0);
  b.writeUInt8(IPPROTO[protocol], 2);
  return b;
}

interface SlotEntry {
  policy: number;
  protocol: Protocol;
  ports: number[];
}

export class InterfaceDispatcher {
  private readonly slots = new Map<number, SlotEntry>();
  private readonly portsMap: MapEntry;
  private readonly progArray: MapEntry;
  private readonly stats: MapEntry;

  private constructor(
    readonly ifname: string,
    readonly ifindex: number,
    readonly mode: 'skb' | 'drv',
    private readonly object: NativeBpfObject,
    private linkFd: number,
  ) {
    const maps = object.maps();
    const find = (name: string): MapEntry => {
      const m = maps.find((x) => x.name === name);
      if (!m) throw new SyrupError('EINTERNAL', `dispatcher has no map ${name}`);
      return m;
    };
    this.portsMap = find('syr_ports');
    this.progArray = find('syr_policies');
    this.stats = find('syr_dispatch_stats');
  }

  /** Load the dispatcher and attach it to `ifname` in `mode` through a bpf_link. */
  static attach(ifname: string, ifindex: number, mode: 'skb' | 'drv'): InterfaceDispatcher {
    const object = netAddon.BpfObject.openDispatcher();
    try {
      object.load();
      const prog = object.programs()[0]!;
      let linkFd: number;
      try {
        linkFd = netAddon.xdpLink(prog.fd, ifindex, mode);
      } catch (err) {
        const e = err as AddonError;
        const reason =
          e.code === 'EBUSY' || e.code === 'EEXIST'
            ? `it already runs an XDP program syrupd does not manage (or one in the other mode)`
            : e.code === 'EOPNOTSUPP'
              ? mode === 'drv'
                ? 'its driver has no native XDP support; use hook xdp_skb'
                : 'it does not support XDP'
              : e.message;
        throw new SyrupError('EIFACE', `cannot attach the XDP dispatcher to ${ifname} in ${mode} mode: ${reason}`);
      }
      return new InterfaceDispatcher(ifname, ifindex, mode, object, linkFd);
    } catch (err) {
      object.close();
      throw err;
    }
  }

  get empty(): boolean {
    return this.slots.size === 0;
  }

  /** Install a policy program and route its ports to it; returns the slot. */
  add(policy: number, progFd: number, protocol: Protocol, ports: number[]): number {
    let slot = 0;
    while (slot < SLOTS && this.slots.has(slot)) slot++;
    if (slot === SLOTS) throw new SyrupError('EIFACE', `${this.ifname} already runs ${SLOTS} policies`);
    // Program first, ports second: a packet never finds a port pointing at an empty slot.
    try {
      netAddon.mapUpdate(this.progArray.fd, u32(slot), u32(progFd));
    } catch (err) {
      throw new SyrupError('EBPFLOAD', `cannot install the policy in ${this.ifname}'s dispatcher: ${(err as Error).message}`);
    }
    this.slots.set(slot, { policy, protocol, ports });
    try {
      for (const port of ports) netAddon.mapUpdate(this.portsMap.fd, portKey(protocol, port), u32(slot));
    } catch (err) {
      this.remove(slot);
      throw new SyrupError('EINTERNAL', `cannot route ports to the policy: ${(err as Error).message}`);
    }
    return slot;
  }

  /** Unroute a slot's ports (their packets take XDP_PASS again) and free it. */
  remove(slot: number): void {
    const entry = this.slots.get(slot);
    if (!entry) return;
    for (const port of entry.ports) netAddon.mapDelete(this.portsMap.fd, portKey(entry.protocol, port));
    netAddon.mapDelete(this.progArray.fd, u32(slot));
    this.slots.delete(slot);
  }

  /** Detach from the interface (closing the link restores the no-XDP path) and free everything. */
  close(): void {
    if (this.linkFd >= 0) netAddon.closeFd(this.linkFd);
    this.linkFd = -1;
    this.object.close();
  }

  status(cpus: number): InterfaceStatus {
    const sum = (slot: number): number => u64Values(this.stats.fd, slot, cpus).reduce((a, b) => a + b, 0);
    const ports: InterfaceStatus['ports'] = [];
    for (const s of this.slots.values()) for (const port of s.ports) ports.push({ protocol: s.protocol, port, policy: s.policy });
    const program = programStats(this.object.programs()[0]!.fd);
    return { ifname: this.ifname, mode: this.mode, seen: sum(0), unowned: sum(1), missing: sum(2), ports, program };
  }
}
