// registry.ts: built-in policies by name, for syrup-agent --policy NAME.
import type { Policy } from '../agent/policy.ts';
import { FifoPolicy } from './fifo.ts';

type Factory = (options: Record<string, unknown>) => Policy;

const factories: Record<string, Factory> = {
  fifo: () => new FifoPolicy(),
};

export const policyNames: string[] = Object.keys(factories);

export function createPolicy(name: string, options: Record<string, unknown> = {}): Policy {
  const f = factories[name];
  if (!f) throw Object.assign(new Error(`unknown policy '${name}'`), { code: 'UNKNOWN_POLICY' });
  return f(options);
}
