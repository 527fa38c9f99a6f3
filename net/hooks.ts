// hooks.ts: the network hooks Syrup can deploy a policy at, and what each one needs (wrapper, executor map, XDP mode).

/** How many executors a policy can have. Must match SYR_MAX_EXECUTORS in syrup.h and wrap_counters.h's slot layout. */
export const MAX_EXECUTORS = 64;

export const HOOK_NAMES = ['socket_select', 'xdp_skb', 'xdp_drv', 'cpu_redirect', 'xdp_offload'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export interface HookSpec {
  name: HookName;
  /** Wrapper translation unit in net/bpf/ that #includes the user's policy. */
  wrapper: string;
  /** Program the wrapper defines. */
  program: string;
  /** What an executor index selects. */
  executors: 'sockets' | 'xsk' | 'cpus' | 'none';
  /**
   * How the program reaches packets: a reuseport group, a slot of the
   * interface's dispatcher (attached in `mode`; cpu_redirect joins whichever
   * mode the interface already uses, generic by default), or offloaded alone.
   */
  attach: { kind: 'reuseport' } | { kind: 'dispatcher'; mode: 'skb' | 'drv' | 'any' } | { kind: 'offload' };
}

export const HOOKS: Record<HookName, HookSpec> = {
  socket_select: {
    name: 'socket_select',
    wrapper: 'wrap_socket_select.bpf.c',
    program: 'syr_socket_select',
    executors: 'sockets',
    attach: { kind: 'reuseport' },
  },
  xdp_skb: {
    name: 'xdp_skb',
    wrapper: 'wrap_xdp.bpf.c',
    program: 'syr_xdp',
    executors: 'xsk',
    attach: { kind: 'dispatcher', mode: 'skb' },
  },
  xdp_drv: {
    name: 'xdp_drv',
    wrapper: 'wrap_xdp.bpf.c',
    program: 'syr_xdp',
    executors: 'xsk',
    attach: { kind: 'dispatcher', mode: 'drv' },
  },
  cpu_redirect: {
    name: 'cpu_redirect',
    wrapper: 'wrap_cpu_redirect.bpf.c',
    program: 'syr_cpu_redirect',
    executors: 'cpus',
    attach: { kind: 'dispatcher', mode: 'any' },
  },
  xdp_offload: {
    name: 'xdp_offload',
    wrapper: 'wrap_offload.bpf.c',
    program: 'syr_offload',
    executors: 'none',
    attach: { kind: 'offload' },
  },
};
