/** The timeline: one row per chunk, one bar per attempt, time across, drawn as one SVG. */
import type { AttemptRecord } from "../types.js";
import { attemptRunMs } from "../util/attempts.js";
import { DISPLAY_OUTCOMES, type DisplayOutcome } from "./classify.js";
import { COLD, COLORS, QUEUED } from "./styles.js";
import { escapeHtml, fmtTick, n1, n2, ticks } from "./text.js";
import { attemptEnd, layoutTimeline, type TimelineLayout } from "./timeline-layout.js";

/** Above this many attempts, ok attempts are binned by row groups. */
export const MAX_BARS = 20_000;

export function renderLegend(): string {
  const item = (cls: string, style: string, label: string) => `<span class="li" data-legend="${cls}"><span class="sw" style="${style}"></span>${escapeHtml(label)}</span>`;
  return `<div class="legend" data-testid="legend">${[
    item("queued", `background:${QUEUED}`, "queued (invoked → worker start)"),
    item("cold", `background:${COLD}`, "cold start (bundle loaded)"),
    ...DISPLAY_OUTCOMES.map((o) =>
      item(o, `background:${COLORS[o]}`, {
        ok: "ran: ok",
        retried: "ran: failed, retried",
        speculative: "ran: speculative copy, won",
        failed: "ran: failed",
        cancelled: "cancelled / lost race",
      }[o]),
    ),
    item("tail", `background:${COLORS.ok};opacity:.35`, "reply in transit (worker end → client)"),
  ].join("")}</div>`;
}

export function renderTimeline(attempts: readonly AttemptRecord[], outcomes: readonly DisplayOutcome[]): string {
  if (attempts.length === 0) return `<p class="sub" data-testid="timeline-empty">no attempts were made</p>`;
  const layout = layoutTimeline(attempts);
  const f = frame(layout);
  const binned = attempts.length > MAX_BARS;
  const groupSize = binned ? Math.ceil(layout.rows / 1000) : 1;
  const m = drawAttempts(attempts, outcomes, layout, f, binned ? groupSize : 0);
  const binRects = drawBins(m.bins, groupSize, layout.rows, f);
  const paths = [
    `<path class="queued" d="${m.queued.join("")}"/>`,
    ...DISPLAY_OUTCOMES.map((o) => (m.running[o].length ? `<path class="run ${o}" d="${m.running[o].join("")}"/>` : "")),
    m.cold.length ? `<path class="cold" d="${m.cold.join("")}"/>` : "",
  ];
  const { W, TOP, plotH, svgH } = f;
  return `<div class="tl"><svg data-testid="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${n1(svgH)}" width="${W}" height="${n1(svgH)}" role="img" aria-label="attempt timeline: one row per chunk, time across">
<text class="axl" x="4" y="${n1(TOP + plotH / 2)}" transform="rotate(-90 12 ${n1(TOP + plotH / 2)})" text-anchor="middle">chunk</text>
${drawAxes(layout, f).join("")}
<g class="bars">${binRects.join("")}${m.bars.join("")}${m.rare.join("")}</g>
<g class="overlay">${paths.join("")}</g>
</svg></div>${binned ? `<p class="sub" data-testid="binned-note">${attempts.length} attempts: ok attempts are drawn as one bar per group of ${groupSize} chunks (first invoke to last reply); every other attempt is drawn alone.</p>` : ""}`;
}

/** The SVG's geometry: left margin, row height and the time-to-x mapping. */
interface Frame {
  L: number;
  TOP: number;
  /** Height of one chunk row. */
  H: number;
  plotH: number;
  W: number;
  svgH: number;
  x: (t: number) => number;
}

function frame({ t0, span, rows }: TimelineLayout): Frame {
  const L = 64;
  const PW = 1080;
  const TOP = 8;
  const H = Math.min(16, Math.max(0.2, 900 / rows));
  const plotH = rows * H;
  return { L, TOP, H, plotH, W: L + PW + 12, svgH: TOP + plotH + 28, x: (t: number) => L + ((t - t0) / span) * PW };
}

type Bin = { from: number; to: number; count: number };

/** The attempts as SVG: bars (ok, then the rarer outcomes on top), overlay path segments, and bins. */
interface Marks {
  bars: string[];
  rare: string[];
  queued: string[];
  cold: string[];
  running: Record<DisplayOutcome, string[]>;
  bins: Map<number, Bin>;
}

const seg = (x0: number, y0: number, w: number, h: number) => `M${n1(x0)} ${n2(y0)}h${n2(Math.max(w, 0.3))}v${n2(h)}h${n2(-Math.max(w, 0.3))}z`;

/** Draws every attempt; with `groupSize` > 0 ok attempts are only counted into bins of that many rows. */
function drawAttempts(attempts: readonly AttemptRecord[], outcomes: readonly DisplayOutcome[], layout: TimelineLayout, f: Frame, groupSize: number): Marks {
  const m: Marks = { bars: [], rare: [], queued: [], cold: [], running: { ok: [], retried: [], speculative: [], failed: [], cancelled: [] }, bins: new Map() };
  const { TOP, H, plotH, x } = f;
  for (let i = 0; i < attempts.length; i++) {
    const a = attempts[i]!;
    const o = outcomes[i]!;
    if (groupSize > 0 && o === "ok") {
      addToBin(m.bins, Math.floor(a.index / groupSize), a);
      continue;
    }
    const nl = layout.lanes.get(a.index) ?? 1;
    const h = H / nl;
    const y = TOP + a.index * H + layout.lane[i]! * h;
    const gap = h > 3 ? Math.min(1.5, h * 0.15) : 0;
    const end = attemptEnd(a);
    // In a dense timeline the rare outcomes stay visible: at least 2 px tall, drawn on top.
    const hh = o === "ok" ? Math.max(0.2, h - gap) : Math.max(2, h - gap);
    const yy = o === "ok" ? y + gap / 2 : Math.min(y + gap / 2, TOP + plotH - hh);
    const xs = x(a.invokedAt);
    const w = Math.max(0.5, x(end) - xs);
    (o === "ok" ? m.bars : m.rare).push(barRect(a, o, xs, yy, w, hh));
    if (a.startedAt !== undefined && a.startedAt > a.invokedAt) m.queued.push(seg(xs, yy, x(a.startedAt) - xs, hh));
    if (a.startedAt !== undefined && a.endedAt !== undefined) m.running[o].push(seg(x(a.startedAt), yy, x(a.endedAt) - x(a.startedAt), hh));
    else if (a.startedAt === undefined) m.running[o].push(seg(xs, yy, w, hh));
    if (a.coldStart) m.cold.push(seg(xs, yy, Math.min(3, w), hh));
  }
  return m;
}

function addToBin(bins: Map<number, Bin>, g: number, a: AttemptRecord): void {
  const end = attemptEnd(a);
  const b = bins.get(g);
  if (b) {
    b.from = Math.min(b.from, a.invokedAt);
    b.to = Math.max(b.to, end);
    b.count++;
  } else bins.set(g, { from: a.invokedAt, to: end, count: 1 });
}

/** One attempt's bar, with the data the tooltip script and the tests read. */
function barRect(a: AttemptRecord, o: DisplayOutcome, xs: number, yy: number, w: number, hh: number): string {
  const q = a.startedAt !== undefined ? Math.max(0, a.startedAt - a.invokedAt) : undefined;
  const r = attemptRunMs(a);
  return `<rect data-testid="bar" data-outcome="${o}" data-kind="${escapeHtml(a.outcome)}" data-index="${a.index}" data-attempt="${a.attempt}"${a.speculative ? ' data-spec="1"' : ""}${a.coldStart ? ' data-cold="1"' : ""} data-q="${q === undefined ? "" : Math.round(q)}" data-r="${Math.round(r)}" data-t="${Math.round(a.returnedAt - a.invokedAt)}"${a.memory ? ` data-mem="${a.memory.peakRssMb} MB RSS · ${a.memory.peakHeapMb} MB heap"` : ""} class="b ${o}" x="${n1(xs)}" y="${n2(yy)}" width="${n2(w)}" height="${n2(hh)}"/>`;
}

function drawBins(bins: Map<number, Bin>, groupSize: number, rows: number, { TOP, H, x }: Frame): string[] {
  const binRects: string[] = [];
  for (const [g, b] of bins) {
    const first = g * groupSize;
    const last = Math.min(rows, first + groupSize) - 1;
    binRects.push(
      `<rect data-testid="bar-bin" data-outcome="ok" data-count="${b.count}" data-index="${first}-${last}" class="b ok solid" x="${n1(x(b.from))}" y="${n2(TOP + first * H)}" width="${n2(Math.max(0.5, x(b.to) - x(b.from)))}" height="${n2((last - first + 1) * H)}"/>`,
    );
  }
  return binRects;
}

/** Time ticks along the bottom and chunk numbers down the left (every row when rows are tall enough). */
function drawAxes({ t0, span, rows }: TimelineLayout, { L, TOP, H, plotH, x }: Frame): string[] {
  const axis: string[] = [];
  for (const t of ticks(span, 8)) {
    const xx = x(t0 + t);
    axis.push(`<line class="grid" x1="${n1(xx)}" x2="${n1(xx)}" y1="${TOP}" y2="${n1(TOP + plotH)}"/><text class="tick" x="${n1(xx)}" y="${n1(TOP + plotH + 16)}" text-anchor="middle">${escapeHtml(fmtTick(t, span))}</text>`);
  }
  const labelEvery = Math.max(1, Math.ceil(12 / H));
  const rowTicks = rows <= 1 ? [0] : ticks(rows - 1, Math.min(rows, Math.floor(plotH / 14))).filter((v) => Number.isInteger(v));
  for (const r of labelEvery === 1 ? Array.from({ length: rows }, (_, i) => i) : rowTicks) {
    axis.push(`<text class="tick" x="${L - 6}" y="${n1(TOP + r * H + H / 2 + 4)}" text-anchor="end">${r}</text>`);
  }
  return axis;
}
