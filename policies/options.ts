// options.ts: reading a policy's options object: typed fields, documented defaults, and errors that name the field.
/*
 * Every policy takes one plain options object (from code, or from the CLI's
 * `--policy-opt KEY=VALUE`, which parses VALUE as JSON when it can and
 * passes a string otherwise). Values are checked when the
 * policy is constructed, so a typo or an out-of-range value stops the agent
 * before it takes any thread, with a message that names the field:
 *
 *   options.sliceUs must be a positive number or Infinity (got -5)
 *
 * Numbers may be given as numeric strings ("50", "Infinity"), booleans as
 * "true"/"false", number lists as arrays or "1,3,10,20".
 *
 * A policy declares its fields once, and readOptions() derives both the
 * list of known keys and the typed result from that declaration, so a new
 * option cannot be read without also being accepted (or the other way round):
 *
 *   const o = readOptions(options, 'shinjuku', {
 *     sliceUs: numberField(50, (n) => n > 0, 'a positive number or Infinity'),
 *     latchNext: booleanField(false),
 *   });
 */

/** Thrown for a bad option value; `code` lets the CLI print it without a stack. */
export class PolicyOptionError extends Error {
  readonly code = 'BAD_POLICY_OPTION';
  constructor(
    /** Dotted path of the offending field, e.g. "options.sliceUs". */
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'PolicyOptionError';
  }
}

/** How one field is read from the options object: its default, its check, and the error naming it. */
export type OptionField<T> = (options: Record<string, unknown>, key: string, where: string) => T;

/** The typed values readOptions() returns for a set of fields. */
export type OptionValues<F extends Record<string, OptionField<unknown>>> = { [K in keyof F]: ReturnType<F[K]> };

/**
 * Reads a policy's options against its declared fields: not an object, an
 * unknown key, or a bad value throws a PolicyOptionError naming the field.
 * Fields are read in declaration order, so the first bad one is reported.
 */
export function readOptions<F extends Record<string, OptionField<unknown>>>(
  options: unknown,
  policy: string,
  fields: F,
  where = 'options',
): OptionValues<F> {
  const o = optionsObject(options, where);
  rejectUnknown(o, Object.keys(fields), policy, where);
  const out: Record<string, unknown> = {};
  for (const [key, read] of Object.entries(fields)) out[key] = read(o, key, where);
  return out as OptionValues<F>;
}

/** A number field for readOptions(); see numberOption(). */
export function numberField(fallback: number, ok: (n: number) => boolean, must: string): OptionField<number> {
  return (o, key, where) => numberOption(o, key, fallback, ok, must, where);
}

/** A boolean field for readOptions(); see booleanOption(). */
export function booleanField(fallback: boolean): OptionField<boolean> {
  return (o, key, where) => booleanOption(o, key, fallback, where);
}

/** A number-list field for readOptions(); see numberListOption(). */
export function numberListField(fallback: readonly number[], ok: (list: number[]) => boolean, must: string): OptionField<number[]> {
  return (o, key, where) => numberListOption(o, key, fallback, ok, must, where);
}

/** The options object itself, or {} when none was given. */
export function optionsObject(options: unknown, where = 'options'): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new PolicyOptionError(where, `${where} must be an object (got ${show(options)})`);
  }
  return options as Record<string, unknown>;
}

/** Reject keys the policy does not know: a misspelt option must not silently fall back to its default. */
export function rejectUnknown(options: Record<string, unknown>, known: readonly string[], policy: string, where = 'options'): void {
  for (const key of Object.keys(options)) {
    if (options[key] !== undefined && !known.includes(key)) {
      const list = known.length > 0 ? known.join(', ') : 'none';
      throw new PolicyOptionError(`${where}.${key}`, `${where}.${key} is not an option of ${policy} (known: ${list})`);
    }
  }
}

/**
 * A number field: `fallback` when absent, else the value if `ok` accepts it.
 * `must` completes "options.X must be ..." in the error.
 */
export function numberOption(
  options: Record<string, unknown>,
  key: string,
  fallback: number,
  ok: (n: number) => boolean,
  must: string,
  where = 'options',
): number {
  const raw = options[key];
  if (raw === undefined) return fallback;
  const n = toNumber(raw);
  if (n === undefined || !ok(n)) {
    throw new PolicyOptionError(`${where}.${key}`, `${where}.${key} must be ${must} (got ${show(raw)})`);
  }
  return n;
}

/** A boolean field (true/false or "true"/"false"). */
export function booleanOption(options: Record<string, unknown>, key: string, fallback: boolean, where = 'options'): boolean {
  const raw = options[key];
  if (raw === undefined) return fallback;
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw new PolicyOptionError(`${where}.${key}`, `${where}.${key} must be true or false (got ${show(raw)})`);
}

/** A list of numbers (array or comma-separated string), each accepted by `ok`. */
export function numberListOption(
  options: Record<string, unknown>,
  key: string,
  fallback: readonly number[],
  ok: (list: number[]) => boolean,
  must: string,
  where = 'options',
): number[] {
  const raw = options[key];
  if (raw === undefined) return [...fallback];
  const items = typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) ? raw : undefined;
  const list = items?.map(toNumber);
  if (!list || list.some((n) => n === undefined) || !ok(list as number[])) {
    throw new PolicyOptionError(`${where}.${key}`, `${where}.${key} must be ${must} (got ${show(raw)})`);
  }
  return list as number[];
}

/** Numbers pass through; numeric strings (as the CLI passes them) are converted; anything else is undefined. */
function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isNaN(v) ? undefined : v;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^[+]?(inf|infinity)$/i.test(s)) return Infinity;
  if (s === '' || !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(s)) return undefined;
  return Number(s);
}

export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}
