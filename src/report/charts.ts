/** The two small charts: attempts in flight over time, and a histogram of chunk run times. */
import type { AttemptRecord, RunSummary } from "../types.js";
import { attemptRunMs } from "../util/attempts.js";
import { fmtMs } from "../util/format.js";
import { escapeHtml, fmtTick, n1, ticks } from "./text.js";

/**
 * A step function of how many intervals are open: [time, count from then on], one point per
 * distinct time. An interval closing at the moment another opens is not counted twice.
 
 * @public tests import it from dist/, which knip cannot follow
 */
export function concurrencySteps(intervals: readonly (readonly [from: number, to: number])[]): [number, number][] {
  const ev: [number, number][] = [];
  for (const [a, b] of intervals) ev.push([a, 1], [b, -1]);
  ev.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  const pts: [number, number][] = [];
  let v = 0;
  for (const [t, d] of ev) {
    v += d;
    if (pts.length && pts[pts.length - 1]![0] === t) pts[pts.length - 1]![1] = v;
    else pts.push([t, v]);
  }
  return pts;
}

/** Attempts in flight (invoke to reply) and running in a worker (start to end) over time. */
export function renderConcurrency(attempts: readonly AttemptRecord[]): string {
  const W = 560;
  const H = 200;
  const L = 44;
  const B = 24;
  if (attempts.length === 0) return `<p class="sub">no attempts</p>`;
  const inflight = concurrencySteps(attempts.map((a) => [a.invokedAt, a.returnedAt]));
  const run = concurrencySteps(attempts.filter((a) => a.startedAt !== undefined && a.endedAt !== undefined).map((a) => [a.startedAt!, a.endedAt!]));
  const t0 = inflight[0]![0];
  const t1 = Math.max(inflight[inflight.length - 1]![0], run.length ? run[run.length - 1]![0] : 0);
  const span = Math.max(1, t1 - t0);
  let peak = 0;
  for (const p of inflight) peak = Math.max(peak, p[1]);
  for (const p of run) peak = Math.max(peak, p[1]);
  const x = (t: number) => L + ((t - t0) / span) * (W - L - 8);
  const y = (v: number) => 8 + (1 - v / Math.max(1, peak)) * (H - 8 - B);
  const path = (pts: [number, number][]) => {
    // Many thousands of steps: keep the maximum per pixel column, which preserves peaks.
    let use = pts;
    if (pts.length > 4000) {
      const cols = new Map<number, number>();
      for (const [t, v] of pts) {
        const c = Math.round(x(t));
        cols.set(c, Math.max(cols.get(c) ?? 0, v));
      }
      use = [...cols.entries()].sort((a, b) => a[0] - b[0]).map(([c, v]) => [t0 + ((c - L) / (W - L - 8)) * span, v]);
    }
    let d = `M${n1(x(t0))} ${n1(y(0))}`;
    for (const [t, v] of use) d += `H${n1(x(t))}V${n1(y(v))}`;
    return d + `H${n1(x(t1))}`;
  };
  const axis: string[] = [];
  for (const v of ticks(peak, 4)) axis.push(`<line class="grid" x1="${L}" x2="${W - 8}" y1="${n1(y(v))}" y2="${n1(y(v))}"/><text class="tick" x="${L - 6}" y="${n1(y(v) + 4)}" text-anchor="end">${v}</text>`);
  for (const t of ticks(span, 5)) axis.push(`<text class="tick" x="${n1(x(t0 + t))}" y="${H - 6}" text-anchor="middle">${escapeHtml(fmtTick(t, span))}</text>`);
  return `<svg data-testid="concurrency" data-peak="${peak}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="attempts in flight over time">
${axis.join("")}<path class="conc inflight" d="${path(inflight)}"/>${run.length ? `<path class="conc running" d="${path(run)}"/>` : ""}
</svg><div class="legend small"><span class="li"><span class="sw line" style="border-color:#3d7dd8"></span>in flight (invoke → reply)</span><span class="li"><span class="sw line" style="border-color:#2e9d5b"></span>running in a worker</span><span class="li">peak ${peak}</span></div>`;
}

/**
 * Histogram bins for run times: 5 to 40 equal bins (about the square root of the count); a
 * narrow spread (all chunks alike) gets a zoomed axis instead of one fat bar at the right.
 
 * @public tests import it from dist/, which knip cannot follow
 */
export function histogramBins(times: readonly number[]): { min: number; max: number; width: number; counts: number[] } {
  let hi = 0;
  let lo = Infinity;
  for (const t of times) {
    hi = Math.max(hi, t);
    lo = Math.min(lo, t);
  }
  const tk = ticks(hi - lo, 5);
  const step = tk.length > 1 ? tk[1]! : 1;
  const min = lo > 0.4 * hi ? Math.floor(lo / step) * step : 0;
  const max = Math.max(min + 1, hi);
  const nb = Math.min(40, Math.max(5, Math.ceil(Math.sqrt(times.length))));
  const width = (max - min) / nb;
  const counts = new Array<number>(nb).fill(0);
  for (const t of times) counts[Math.min(nb - 1, Math.max(0, Math.floor((t - min) / width)))]!++;
  return { min, max, width, counts };
}

/** Winning attempts' run times (all attempts' if none won), with the summary's p50, p95 and p99 marked. */
export function renderHistogram(attempts: readonly AttemptRecord[], s: RunSummary): string {
  const W = 560;
  const H = 200;
  const L = 44;
  const B = 24;
  let times = attempts.filter((a) => a.won).map(attemptRunMs);
  if (times.length === 0) times = attempts.map(attemptRunMs);
  if (times.length === 0) return `<p class="sub">no chunk times</p>`;
  const { min, max, width, counts } = histogramBins(times);
  const top = Math.max(...counts);
  const x = (v: number) => L + ((v - min) / (max - min)) * (W - L - 8);
  const y = (c: number) => 8 + (1 - c / top) * (H - 8 - B);
  const rects = counts
    .map(
      (c, i) =>
        `<rect data-testid="hist-bin" data-count="${c}" data-from="${n1(min + i * width)}" data-to="${n1(min + (i + 1) * width)}" class="hist" x="${n1(x(min + i * width) + 0.5)}" y="${n1(y(c))}" width="${n1(Math.max(0.5, x(min + width) - L - 1))}" height="${n1(H - B - y(c))}"/>`,
    )
    .join("");
  const pcts = [
    ["p50", s.chunkMs.p50, "#1d2330"],
    ["p95", s.chunkMs.p95, "#e8a317"],
    ["p99", s.chunkMs.p99, "#d93f3f"],
  ] as const;
  const marks = pcts
    .filter(([, v]) => v >= min && v <= max)
    .map(([k, v, c]) => `<line class="pmark" data-p="${k}" stroke="${c}" x1="${n1(x(v))}" x2="${n1(x(v))}" y1="8" y2="${H - B}"/>`)
    .join("");
  const axis: string[] = [];
  for (const v of ticks(top, 4)) axis.push(`<text class="tick" x="${L - 6}" y="${n1(y(v) + 4)}" text-anchor="end">${v}</text>`);
  for (const t of ticks(max - min, 5)) axis.push(`<text class="tick" x="${n1(x(min + t))}" y="${H - 6}" text-anchor="middle">${escapeHtml(fmtTick(min + t, max))}</text>`);
  return `<svg data-testid="histogram" data-n="${times.length}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="histogram of chunk run times">
${axis.join("")}${rects}${marks}</svg><div class="legend small"><span class="li">${times.length} winning attempts · bin ${escapeHtml(fmtMs(width))}</span>${pcts
    .map(([k, v, c]) => `<span class="li"><span class="sw line" style="border-color:${c};border-top-style:dashed"></span>${k} ${escapeHtml(fmtMs(v))}</span>`)
    .join("")}</div>`;
}
