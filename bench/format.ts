// format.ts: number formatting shared by the markdown table and the plot (thousands separators, ratios, microseconds).

export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Microseconds as an integer, or "-" when there was no sample. */
export function us(n: number, count = 1): string {
  return count > 0 ? int(n) : '-';
}

export function ratio(r: number | null): string {
  if (r === null || !Number.isFinite(r)) return '-';
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}x`;
}

/** 1500 -> "1.5k", 250 -> "250". */
export function rate(n: number): string {
  if (n >= 1000) return `${Number((n / 1000).toFixed(n >= 10000 ? 0 : 1))}k`;
  return String(Math.round(n));
}
