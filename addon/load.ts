// load.ts: loads one of this repository's built native addons (build/Release/NAME.node) with an actionable error.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (addon/ is one level below). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const require = createRequire(import.meta.url);

/** Throws an Error with .code 'ADDON_MISSING' that says how to build it. */
export function loadAddon<T>(name: string): T {
  const file = path.join(repoRoot, 'build', 'Release', `${name}.node`);
  try {
    return require(file) as T;
  } catch (err) {
    const e = new Error(
      `cannot load the native addon ${file}: ${(err as Error).message}. Run 'npm install' (it builds the addon and the BPF objects).`,
    ) as Error & { code: string };
    e.code = 'ADDON_MISSING';
    throw e;
  }
}
