// addon.ts: typed loader of the syrup_net native addon (BPF objects, maps, sockets, XDP, AF_XDP).
import { loadAddon, repoRoot } from '../addon/load.ts';
import type { BpfMapInfo } from './map-types.ts';

export interface ProgramEntry {
  name: string;
  section: string;
  fd: number;
  type: number;
}

export interface MapEntry {
  name: string;
  fd: number;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  internal: boolean;
}

export interface NativeBpfObject {
  setRodata(name: string, value: Buffer): void;
  setIfindex(ifindex: number): void;
  /** Throws with .code EVERIFIER (and .verifierLog) or EBPFLOAD, plus .log. */
  load(): void;
  programs(): ProgramEntry[];
  maps(): MapEntry[];
  close(): void;
}

export interface SocketInfo {
  inode: number;
  domain: number;
  protocol: 'udp' | 'tcp' | 'other';
  listening: boolean;
  family: 0 | 4 | 6;
  address?: string;
  port?: number;
}

export interface NativeXskSocket {
  readonly fd: number;
  receive(max: number, timeoutMs?: number): Buffer[];
  close(): void;
}

export interface NetAddon {
  BpfObject: {
    openFile(path: string): NativeBpfObject;
    openDispatcher(): NativeBpfObject;
    openCpuCounter(): NativeBpfObject;
  };
  XskSocket: new (
    ifindex: number,
    queue: number,
    frames: number,
    frameSize: number,
    owner?: NativeXskSocket,
  ) => NativeXskSocket;
  mapLookup(fd: number, key: Buffer, valueSize: number): Buffer | null;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags?: number): void;
  mapDelete(fd: number, key: Buffer): boolean;
  mapNextKey(fd: number, key: Buffer | null, keySize: number): Buffer | null;
  mapInfo(fd: number): BpfMapInfo;
  progInfo(fd: number): { id: number; name: string; type: number; runTimeNs: number; runCount: number };
  objGet(path: string): number;
  objPin(fd: number, path: string): void;
  closeFd(fd: number): void;
  enableRunStats(): number;
  possibleCpus(): number;
  mapMmap(fd: number, length: number): ArrayBuffer;
  reuseportSocket(protocol: 'udp' | 'tcp', family: 4 | 6, address: string, port: number, backlog: number): number;
  socketInfo(fd: number): SocketInfo;
  attachReuseport(socketFd: number, progFd: number): void;
  detachReuseport(socketFd: number): boolean;
  peerCred(fd: number): { pid: number; uid: number; gid: number };
  peerPidfd(fd: number): number;
  pidfdGetfd(pidfd: number, targetFd: number): number;
  pidfdOpen(pid: number): number;
  ifindex(ifname: string): number;
  xdpLink(progFd: number, ifindex: number, mode: 'skb' | 'drv' | 'hw'): number;
  xdpAttachedId(ifindex: number, mode: 'skb' | 'drv' | 'hw'): number;
}

export { repoRoot };

export const netAddon: NetAddon = loadAddon<NetAddon>('syrup_net');

/** Error thrown by the addon: .code is an errno name or a Syrup code. */
export type AddonError = Error & { code?: string; errno?: number; log?: string; verifierLog?: string };
