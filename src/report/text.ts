/** How values are written into the page: escaped text, SVG coordinates, axis ticks (durations: util/format.ts). */

export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

export const n1 = (v: number) => (Math.round(v * 10) / 10).toString();
export const n2 = (v: number) => (Math.round(v * 100) / 100).toString();

/** Round tick steps (1, 2, 5 x 10^k) covering [0, max] with about `count` ticks. */
export function ticks(max: number, count = 6): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(v);
  return out;
}

export function fmtTick(ms: number, spanMs: number): string {
  if (spanMs < 2000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  return `${spanMs < 20_000 ? s.toFixed(1) : Math.round(s)} s`;
}
