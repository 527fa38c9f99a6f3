// doc-section.ts: replace one marked section of a markdown file (each benchmark owns its own markers in docs/benchmarks.md).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Put body between begin and end in file (appending the section if absent); other sections are left alone. */
export function replaceSection(file: string, begin: string, end: string, body: string, skeleton = '# Benchmarks\n'): void {
  mkdirSync(dirname(file), { recursive: true });
  const current = existsSync(file) ? readFileSync(file, 'utf8') : skeleton;
  const section = `${begin}\n${body.trim()}\n${end}`;
  const b = current.indexOf(begin);
  const e = current.indexOf(end);
  const next = b >= 0 && e > b ? current.slice(0, b) + section + current.slice(e + end.length) : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}
