// plot.ts: the p99-latency-vs-offered-load SVG of the network benchmark, one line per configuration, log latency axis, SLO dashed.
import type { SweepResult } from './sweep.ts';

const W = 760;
const H = 460;
const M = { left: 76, right: 170, top: 40, bottom: 56 };
const COLORS: Record<string, string> = { hash: '#444444', round_robin: '#1f77b4', least_loaded: '#d62728' };

export function renderP99Plot(sweeps: SweepResult[], sloUs: number, capacity: number): string {
  const pts = sweeps.flatMap((s) => s.points);
  const xMax = Math.max(...pts.map((p) => p.offered)) * 1.05;
  const yMin = Math.max(1, Math.min(...pts.map((p) => p.p99)) / 1.5);
  const yMax = Math.max(sloUs * 2, ...pts.map((p) => p.p99)) * 1.5;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (v: number): number => M.left + (v / xMax) * pw;
  const y = (v: number): number => M.top + ph - ((Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="22" font-size="14">p99 server latency vs offered load (capacity ${Math.round(capacity)} req/s)</text>`,
    `<line x1="${M.left}" y1="${M.top + ph}" x2="${M.left + pw}" y2="${M.top + ph}" stroke="black"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + ph}" stroke="black"/>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (xMax / 5) * i;
    out.push(`<text x="${x(v)}" y="${M.top + ph + 18}" text-anchor="middle">${Math.round(v / 1000)}k</text>`);
  }
  for (let e = Math.ceil(Math.log10(yMin)); e <= Math.log10(yMax); e++) {
    const v = 10 ** e;
    out.push(`<line x1="${M.left}" y1="${y(v)}" x2="${M.left + pw}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${v >= 1000 ? `${v / 1000} ms` : `${v} us`}</text>`);
  }
  out.push(`<text x="${M.left + pw / 2}" y="${H - 14}" text-anchor="middle">offered load (req/s)</text>`);
  out.push(`<line x1="${M.left}" y1="${y(sloUs)}" x2="${M.left + pw}" y2="${y(sloUs)}" stroke="#888" stroke-dasharray="6,4"/>`);
  out.push(`<text x="${M.left + pw + 6}" y="${y(sloUs) + 4}" fill="#888">SLO ${Math.round(sloUs)} us</text>`);
  sweeps.forEach((s, i) => {
    const color = COLORS[s.policy] ?? '#2ca02c';
    const line = s.points.map((p) => `${x(p.offered).toFixed(1)},${y(p.p99).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${line}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of s.points) out.push(`<circle cx="${x(p.offered).toFixed(1)}" cy="${y(p.p99).toFixed(1)}" r="3" fill="${color}"/>`);
    out.push(`<rect x="${M.left + pw + 10}" y="${M.top + 20 * i}" width="14" height="3" fill="${color}"/>`);
    out.push(`<text x="${M.left + pw + 30}" y="${M.top + 20 * i + 5}">${s.policy === 'hash' ? 'kernel hash' : s.policy}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
