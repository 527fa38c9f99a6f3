// configs.ts: turns a --configs entry (linux, a policy name, a policy path) into something runnable, or a reason it is skipped.
import { existsSync } from 'node:fs';
import { basename, extname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const AGENT_BIN = resolve(REPO_ROOT, 'bin/syrup-agent.js');
export const CLIENT_FILE = resolve(REPO_ROOT, 'client/index.ts');

export type ConfigSpec =
  | {
      name: string;
      kind: 'linux';
      /**
       * "linux:isolated": the worker cpus are cleared of every other movable
       * thread exactly as an agent's isolation clears an enclave's, so a Syrup
       * win over it is not isolation alone.
       */
      isolated: boolean;
    }
  | {
      name: string;
      kind: 'syrup';
      /** What the agent's --policy gets: a name from policies/ or an absolute path. */
      policy: string;
      policyFile: string;
      /** KEY=VALUE pairs for the agent's --policy-opt (from "shinjuku:sliceUs=30"). */
      policyOpts: string[];
    }
  | { name: string; kind: 'skipped'; reason: string };

const LINUX_NAMES = new Set(['linux', 'cfs', 'default']);

export function policyFileFor(name: string): string {
  return resolve(REPO_ROOT, 'policies', `${name}.ts`);
}

/**
 * Entries: "linux" (also cfs, default), a policy name ("shinjuku"), a path
 * ("./my-policy.ts"), each optionally followed by policy options
 * ("shinjuku:sliceUs=30:classes=1"); the entry as written names the series.
 */
export function resolveConfig(written: string, cwd = process.cwd()): ConfigSpec {
  const [entry, ...policyOpts] = written.split(':');
  if (LINUX_NAMES.has(entry)) {
    if (policyOpts.length === 0) return { name: 'linux', kind: 'linux', isolated: false };
    if (policyOpts.length === 1 && policyOpts[0] === 'isolated') return { name: 'linux:isolated', kind: 'linux', isolated: true };
    return { name: written, kind: 'skipped', reason: `the Linux baseline takes only ":isolated" (got "${policyOpts.join(':')}")` };
  }
  const bad = policyOpts.find((kv) => !/^[A-Za-z_]\w*=./.test(kv));
  if (bad !== undefined) return { name: written, kind: 'skipped', reason: `policy option "${bad}" is not KEY=VALUE` };
  const isPath = entry.includes('/') || /\.[cm]?[jt]s$/.test(entry);
  const policyFile = isPath ? (isAbsolute(entry) ? entry : resolve(cwd, entry)) : policyFileFor(entry);
  const name = (isPath ? basename(entry, extname(entry)) : entry) + policyOpts.map((o) => `:${o}`).join('');
  if (!existsSync(policyFile)) return { name, kind: 'skipped', reason: `policy file ${policyFile} not found` };
  if (!existsSync(AGENT_BIN)) return { name, kind: 'skipped', reason: `agent binary ${AGENT_BIN} not found` };
  if (!existsSync(CLIENT_FILE)) return { name, kind: 'skipped', reason: `client library ${CLIENT_FILE} not found` };
  return { name, kind: 'syrup', policy: isPath ? policyFile : entry, policyFile, policyOpts };
}

/**
 * Resolves every entry, Linux first: the half-of-Linux-saturation point the
 * others are compared at comes from the first Linux entry's sweep, and the
 * ratios are to it.
 */
export function resolveConfigs(entries: readonly string[], cwd = process.cwd()): ConfigSpec[] {
  const specs = entries.map((e) => resolveConfig(e, cwd));
  return [...specs.filter((s) => s.kind === 'linux'), ...specs.filter((s) => s.kind !== 'linux')];
}
