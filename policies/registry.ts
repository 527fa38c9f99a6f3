// registry.ts: the built-in policies by name (what `syrup-agent --policy NAME` accepts), and building one from options.
import type { Policy } from '../agent/policy.ts';
import { EdfPolicy } from './edf.ts';
import { FifoPolicy } from './fifo.ts';
import { MfqPolicy } from './mfq.ts';
import { optionsObject, readOptions } from './options.ts';
import { RATE_GROUP_OPTION_KEYS, RateGroups } from './rate-groups.ts';
import { ShinjukuPolicy } from './shinjuku.ts';
import { SjfPolicy } from './sjf.ts';

/** Builds a policy from its options; throws a PolicyOptionError (code BAD_POLICY_OPTION) for a bad value. */
export type PolicyFactory = (options: Record<string, unknown>) => Policy;

export const POLICY_NAMES = ['fifo', 'shinjuku', 'sjf', 'mfq', 'edf'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];
/** The same list as plain strings (agent/cli.ts and agent/policy-loader.ts use it). */
export const policyNames: string[] = [...POLICY_NAMES];

export const POLICIES: Readonly<Record<PolicyName, PolicyFactory>> = {
  fifo: (options) => {
    readOptions(options, 'fifo', {});
    return new FifoPolicy();
  },
  shinjuku: (options) => new ShinjukuPolicy(options),
  sjf: (options) => new SjfPolicy(options),
  mfq: (options) => new MfqPolicy(options),
  edf: (options) => new EdfPolicy(options),
};

/** Thrown for a policy name that is not built in. */
export class UnknownPolicyError extends Error {
  readonly code = 'UNKNOWN_POLICY';
  constructor(readonly policy: string) {
    super(`unknown policy ${JSON.stringify(policy)} (built in: ${POLICY_NAMES.join(', ')})`);
    this.name = 'UnknownPolicyError';
  }
}

export function isPolicyName(name: string): name is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(name);
}

/**
 * The named policy with its options. CPU-rate groups work with every policy:
 * when the options carry `groups` (and optionally `windowMs`), those two are
 * taken out and the policy is wrapped in RateGroups; the rest go to the policy.
 */
export function createPolicy(name: string, options: Record<string, unknown> = {}): Policy {
  if (!isPolicyName(name)) throw new UnknownPolicyError(name);
  const all = optionsObject(options);
  const own: Record<string, unknown> = {};
  const rate: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) {
    if (RATE_GROUP_OPTION_KEYS.includes(k)) rate[k] = v;
    else own[k] = v;
  }
  const policy = POLICIES[name](own);
  return Object.keys(rate).length > 0 ? new RateGroups(policy, rate) : policy;
}
