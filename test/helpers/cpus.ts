// cpus.ts: the cpus the live tests take, named in one place: one enclave cpu and one agent cpu, SYRUP_TEST_CPUS="ENCLAVE,AGENT" (default "0,1").
import { formatCpuList, onlineCpus } from '../../agent/topology.ts';

/*
 * A live test takes ENCLAVE_CPU for its enclave and spins its agent on
 * AGENT_CPU; tests that need both for enclaves (two enclaves side by side)
 * say so where they use them. Nothing else assumes which cpu is which, so
 * `SYRUP_TEST_CPUS=1,0 npm test` runs the same tests with the roles swapped,
 * and a larger machine can give the tests cpus away from cpu 0.
 */
function pick(): { enclave: number; agent: number } {
  const raw = process.env.SYRUP_TEST_CPUS ?? '0,1';
  const m = /^(\d+),(\d+)$/.exec(raw.trim());
  const online = onlineCpus();
  if (!m || m[1] === m[2] || !online.includes(Number(m[1])) || !online.includes(Number(m[2]))) {
    throw new Error(`SYRUP_TEST_CPUS must be two different online cpus "ENCLAVE,AGENT" (online: ${formatCpuList(online)}; got ${JSON.stringify(raw)})`);
  }
  return { enclave: Number(m[1]), agent: Number(m[2]) };
}

const picked = pick();
/** The cpu a live test's enclave takes. */
export const ENCLAVE_CPU = picked.enclave;
/** The cpu its agent spins on. */
export const AGENT_CPU = picked.agent;
/** `--enclave cpus=ENCLAVE_CPU --agent-cpu AGENT_CPU`, for startAgent(). */
export const ENCLAVE_ARGS: readonly string[] = ['--enclave', `cpus=${ENCLAVE_CPU}`, '--agent-cpu', String(AGENT_CPU)];
/** Every online cpu, as the kernel writes the list ("0-1"). */
export const ALL_CPUS = formatCpuList(onlineCpus());
/** What isolation leaves everything else: every online cpu but the enclave's. */
export const REST_CPUS = formatCpuList(onlineCpus().filter((c) => c !== ENCLAVE_CPU));
