// enclave.ts: owning an enclave from the agent side: claim it, expose its channel, give it back.
import { native, type AgentHandle, type ShimCounters } from './native.ts';
import type { AgentOptions } from './options.ts';
import { ShimChannel } from './shim-channel.ts';

export class AgentEnclave {
  readonly channel: ShimChannel;
  private handle: AgentHandle | undefined;

  private constructor(handle: AgentHandle, readonly options: AgentOptions) {
    this.handle = handle;
    this.channel = new ShimChannel(handle, options.cpus);
  }

  /**
   * Create the region and pins, load and attach the BPF programs. Throws
   * (with .code AGENT_ALIVE, CPU_OVERLAP, BPF_FAILED, ...) when it cannot.
   */
  static open(o: AgentOptions): AgentEnclave {
    const handle = native.agentOpen({
      name: o.name,
      cpus: o.cpus,
      agentCpu: o.agentCpu,
      preemptSigno: o.preemptSigno,
      maxTasks: o.maxTasks,
      regionMode: o.regionMode,
      latchTimeoutNs: o.latchTimeoutMs * 1e6,
      reorderTimeoutNs: o.reorderTimeoutMs * 1e6,
      upgrade: o.upgrade,
      handoverTimeoutNs: 5e9,
      preemptGraceNs: o.preemptGraceUs * 1e3,
      idlePollNs: o.idlePollUs * 1e3,
    });
    return new AgentEnclave(handle, o);
  }

  counters(): ShimCounters | undefined {
    return this.handle ? native.agentCounters(this.handle) : undefined;
  }

  /** Live upgrade, old side: park running threads and let the new agent take everything over. */
  handover(): void {
    if (!this.handle) return;
    const h = this.handle;
    this.handle = undefined;
    native.agentHandover(h);
  }

  /** Detach every task (they run under Linux from now on) and remove the enclave. Idempotent. */
  close(): void {
    if (!this.handle) return;
    const h = this.handle;
    this.handle = undefined;
    native.agentClose(h);
  }
}
