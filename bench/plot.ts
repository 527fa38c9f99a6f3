// plot.ts: the latency-vs-throughput SVG, hand-written: one line per configuration, GET p99 on a log axis, the SLO as a dashed line.
import { int, rate } from './format.ts';
import type { BenchReport } from './results.ts';

const W = 880;
const H = 540;
const M = { left: 80, right: 190, top: 60, bottom: 64 };
const PALETTE: Record<string, string> = { linux: '#444444', fifo: '#1f77b4', shinjuku: '#d62728', sjf: '#2ca02c' };
const EXTRA = ['#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceStep(span: number, ticks: number): number {
  const raw = span / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

interface Series {
  name: string;
  color: string;
  pts: { x: number; y: number; met: boolean }[];
}

export function renderPlot(r: BenchReport): string {
  let extra = 0;
  const series: Series[] = r.configs
    .filter((c) => c.points.some((p) => p.get.count > 0))
    .map((c) => ({
      name: c.name,
      color: PALETTE[c.name] ?? EXTRA[extra++ % EXTRA.length],
      pts: [...c.points]
        .filter((p) => p.get.count > 0)
        .sort((a, b) => a.rate - b.rate)
        .map((p) => ({ x: p.achieved, y: Math.max(1, p.get.p99), met: p.sloMet })),
    }));

  const slo = r.options.sloUs;
  const xs = series.flatMap((s) => s.pts.map((p) => p.x));
  const ys = series.flatMap((s) => s.pts.map((p) => p.y));
  // A sweep that spans decades (the default one does: the Linux SLO knee sits
  // at a few percent of capacity) gets a log x axis too, or its low end,
  // where the saturation points are, collapses into the y axis.
  const xMinData = Math.min(...(xs.length ? xs : [1]));
  const xMaxData = Math.max(1, ...xs);
  const logX = xMinData > 0 && xMaxData / xMinData > 30;
  const xStep = niceStep(xMaxData * 1.05, 8);
  const xTop = logX ? 10 ** Math.ceil(Math.log10(xMaxData)) : Math.ceil((xMaxData * 1.05) / xStep) * xStep;
  const xBottom = logX ? 10 ** Math.floor(Math.log10(xMinData)) : 0;
  const xTicks: number[] = [];
  if (logX) {
    for (let d = xBottom; d <= xTop * 1.0001; d *= 10) for (const m of [1, 2, 5]) if (d * m <= xTop * 1.0001) xTicks.push(d * m);
  } else {
    for (let x = 0; x <= xTop + 1e-9; x += xStep) xTicks.push(x);
  }
  const yLo = 10 ** Math.floor(Math.log10(Math.min(slo, ...(ys.length ? ys : [slo]))));
  const yHi = 10 ** Math.ceil(Math.log10(Math.max(slo * 2, ...(ys.length ? ys : [slo]))));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const X = (x: number) =>
    logX ? M.left + ((Math.log10(x) - Math.log10(xBottom)) / (Math.log10(xTop) - Math.log10(xBottom))) * pw : M.left + (x / xTop) * pw;
  const Y = (y: number) => M.top + ph - ((Math.log10(y) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * ph;
  const f = (n: number) => n.toFixed(1);

  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  o.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  o.push(`<text x="${M.left}" y="24" font-size="16" font-weight="bold">RocksDB-like load: GET p99 latency vs throughput</text>`);
  const sub = `${r.host.cpus} cpus (workers on ${r.layout.workerCpus.length}), ${r.workers} workers, GET ${r.options.getUs} us + RANGE ${r.options.rangeUs} us at ${r.options.rangeFrac * 100} %${r.options.quick ? ', quick mode' : ''}`;
  o.push(`<text x="${M.left}" y="42" fill="#555">${esc(sub)}</text>`);

  // Grid and axes.
  o.push(`<g stroke="#e5e5e5" stroke-width="1">`);
  for (const x of xTicks) o.push(`<line x1="${f(X(x))}" y1="${M.top}" x2="${f(X(x))}" y2="${M.top + ph}"/>`);
  for (let d = yLo; d <= yHi * 1.0001; d *= 10) {
    for (const m of [1, 2, 5]) {
      const y = d * m;
      if (y > yHi * 1.0001) break;
      o.push(`<line x1="${M.left}" y1="${f(Y(y))}" x2="${M.left + pw}" y2="${f(Y(y))}"${m === 1 ? ' stroke="#cccccc"' : ''}/>`);
    }
  }
  o.push(`</g>`);
  o.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  o.push(`<g text-anchor="middle" fill="#333">`);
  for (const x of xTicks) o.push(`<text x="${f(X(x))}" y="${M.top + ph + 18}">${esc(rate(x))}</text>`);
  o.push(`<text x="${M.left + pw / 2}" y="${H - 18}">achieved throughput (requests/s${logX ? ', log scale' : ''})</text>`);
  o.push(`</g>`);
  o.push(`<g text-anchor="end" fill="#333">`);
  for (let d = yLo; d <= yHi * 1.0001; d *= 10) o.push(`<text x="${M.left - 8}" y="${f(Y(d) + 4)}">${esc(d >= 1000 ? `${int(d / 1000)} ms` : `${int(d)} us`)}</text>`);
  o.push(`</g>`);
  o.push(`<text transform="translate(20 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="#333">GET p99 latency (log scale)</text>`);

  // SLO.
  o.push(`<line x1="${M.left}" y1="${f(Y(slo))}" x2="${M.left + pw}" y2="${f(Y(slo))}" stroke="#b00" stroke-width="1.5" stroke-dasharray="6 4"/>`);
  o.push(`<text x="${M.left + pw - 4}" y="${f(Y(slo) - 6)}" text-anchor="end" fill="#b00">SLO ${esc(int(slo))} us</text>`);

  // Series.
  for (const s of series) {
    const path = s.pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${f(X(p.x))} ${f(Y(p.y))}`).join(' ');
    o.push(`<g><title>${esc(s.name)}</title>`);
    o.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const p of s.pts) {
      o.push(`<circle cx="${f(X(p.x))}" cy="${f(Y(p.y))}" r="3.5" fill="${p.met ? s.color : '#ffffff'}" stroke="${s.color}" stroke-width="1.5"/>`);
    }
    o.push(`</g>`);
  }

  // Legend.
  const lx = M.left + pw + 16;
  let ly = M.top + 10;
  o.push(`<g>`);
  for (const s of series) {
    const sat = r.configs.find((c) => c.name === s.name)?.saturation;
    o.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`);
    o.push(`<circle cx="${lx + 12}" cy="${ly}" r="3.5" fill="${s.color}"/>`);
    o.push(`<text x="${lx + 32}" y="${ly + 4}">${esc(s.name)}</text>`);
    o.push(`<text x="${lx + 32}" y="${ly + 18}" fill="#666" font-size="11">${esc(sat ? `sat. ${rate(sat.achieved)} req/s` : 'sat. below sweep')}</text>`);
    ly += 36;
  }
  o.push(`<text x="${lx}" y="${ly + 4}" fill="#666" font-size="11">hollow: SLO missed</text>`);
  o.push(`</g>`);
  o.push(`</svg>`);
  return o.join('\n') + '\n';
}
