// policy-loader.ts: turns --policy NAME|PATH into a Policy instance, with one-line errors for every way that fails.
import fs from 'node:fs';
import path from 'node:path';
import { tsImport } from 'tsx/esm/api';
import { Policy } from './policy.ts';
import { InputError } from './topology.ts';
import { createPolicy, policyNames } from '../policies/registry.ts';

function looksLikePath(spec: string): boolean {
  return spec.includes('/') || /\.(m?[jt]s|cjs)$/.test(spec);
}

/** The line of an error worth printing; for a compile error, the compiler's diagnostic with its location. */
function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const lines = msg.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (/^Transform failed with \d+ error/.test(lines[0] ?? '') && lines[1]) return lines[1];
  return lines[0] ?? 'unknown error';
}

function isClass(f: unknown): f is new (o?: Record<string, unknown>) => unknown {
  return typeof f === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(f));
}

function instantiate(candidate: unknown, options: Record<string, unknown>): unknown {
  if (isClass(candidate)) return new candidate(options);
  if (typeof candidate === 'function') return (candidate as (o: Record<string, unknown>) => unknown)(options);
  return candidate;
}

function isPolicy(p: unknown): p is Policy {
  return (
    p instanceof Policy ||
    (typeof p === 'object' && p !== null && typeof (p as Policy).schedule === 'function' && typeof (p as Policy).name === 'string')
  );
}

/** Load a policy by registry name or from a .ts/.js file exporting a Policy subclass (default or named) or a factory. */
export async function loadPolicy(spec: string, options: Record<string, unknown> = {}): Promise<Policy> {
  if (!looksLikePath(spec)) {
    if (!policyNames.includes(spec)) {
      throw new InputError(`unknown policy '${spec}' (known: ${policyNames.join(', ')}; or give a path to a .ts file)`, 'UNKNOWN_POLICY');
    }
    return createPolicy(spec, options);
  }
  const file = path.resolve(spec);
  if (!fs.existsSync(file)) throw new InputError(`policy file not found: ${spec}`, 'POLICY_NOT_FOUND');
  let mod: Record<string, unknown>;
  try {
    // tsImport compiles TypeScript on the fly and loads the file whatever the
    // module type of the directory it sits in (a plain import() would treat a
    // .ts outside an ESM package as CommonJS).
    mod = (await tsImport(file, import.meta.url)) as Record<string, unknown>;
  } catch (err) {
    throw new InputError(`policy file ${spec} failed to load: ${firstLine(err)}`, 'POLICY_LOAD_FAILED');
  }
  // Under CommonJS interop the real exports hang off `default`.
  const inner = typeof mod.default === 'object' && mod.default !== null ? (mod.default as Record<string, unknown>) : {};
  const candidates = [mod.default, inner.default, ...Object.values(mod), ...Object.values(inner)].filter(
    (v) => v !== undefined && v !== null,
  );
  const pick =
    candidates.find((c) => isClass(c) && typeof (c as { prototype: Policy }).prototype.schedule === 'function') ??
    candidates.find((c) => typeof c === 'function');
  if (!pick) throw new InputError(`policy file ${spec} exports no Policy class or factory`, 'NOT_A_POLICY');
  let policy: unknown;
  try {
    policy = instantiate(pick, options);
  } catch (err) {
    throw new InputError(`policy file ${spec}: constructing the policy failed: ${firstLine(err)}`, 'POLICY_LOAD_FAILED');
  }
  if (!isPolicy(policy)) {
    throw new InputError(`policy file ${spec} does not produce a Policy (an object with name and schedule())`, 'NOT_A_POLICY');
  }
  return policy;
}
