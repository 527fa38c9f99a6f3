// docs-links.test.ts: every relative link in the README and docs/ points at a file that exists, and every #anchor at a heading of it.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers/live.ts';

/*
 * The README is kept to one screen and links out for everything else, so a
 * moved or renamed page breaks silently unless something follows the links.
 * Anchors use GitHub's slugs: lower case, punctuation dropped, spaces to '-'.
 */
const pages = ['README.md', 'bench/README.md', 'bench/analysis.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

function slugs(file: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (m) out.add(m[1].trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  }
  return out;
}

function links(text: string): string[] {
  // Code spans and fences are not links.
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((l) => !/^(https?:|mailto:)/.test(l));
}

for (const page of pages) {
  t.test(page, async (t) => {
    const file = path.join(ROOT, page);
    const found = links(fs.readFileSync(file, 'utf8'));
    for (const link of found) {
      const [target, anchor] = link.split('#');
      const dest = target === '' ? file : path.resolve(path.dirname(file), target);
      t.ok(fs.existsSync(dest), `${page}: ${link} exists`);
      if (anchor && dest.endsWith('.md') && fs.existsSync(dest)) t.ok(slugs(dest).has(anchor), `${page}: ${link} names a heading of ${path.relative(ROOT, dest)}`);
    }
    if (page === 'README.md') t.ok(found.length >= 8, 'the README links out to the docs');
  });
}
