/**
 * The run report: one self-contained HTML file (inline CSS, SVG and a few lines of script; no
 * network, no fonts) with the summary, a timeline of every attempt, concurrency over time and
 * a histogram of chunk run times. Built as a string so it costs nothing to load: at 5,000
 * chunks the timeline is one SVG of 5,000 <rect>s plus a handful of combined <path>s, and a
 * single delegated listener shows the details of the bar under the pointer.
 *
 * Test hooks: every attempt bar is `[data-testid=bar]` with `data-outcome` (ok | retried |
 * speculative | failed | cancelled); the summary table is `[data-testid=summary]` with rows
 * `[data-testid=summary-row][data-key]`. Above MAX_BARS attempts the ok attempts are drawn as
 * `[data-testid=bar-bin]` (one per group of chunk rows, `data-count` attempts each) and only
 * the others stay individual bars.
 */
import type { CostEstimate } from "../bench/cost.js";
import type { AttemptRecord, RunSummary } from "../types.js";
import { fmtMs } from "../util/format.js";

export type DisplayOutcome = "ok" | "retried" | "speculative" | "failed" | "cancelled";
const DISPLAY_OUTCOMES: readonly DisplayOutcome[] = ["ok", "retried", "speculative", "failed", "cancelled"];

/** A baseline the run is compared with (fanout bench). */
export interface ReportCompare {
  /** e.g. "sequential, in-process" */
  label: string;
  wallMs: number;
  sumChunkMs?: number;
  /** Set when the baseline ran only some chunks and its wall time is extrapolated. */
  sample?: { ran: number; chunks: number };
  /** Whether the baseline and the run gave deeply equal results; undefined = not compared. */
  resultsEqual?: boolean;
  note?: string;
}

export interface ReportInput {
  summary: RunSummary;
  attempts: AttemptRecord[];
  title?: string;
  compare?: ReportCompare;
  cost?: CostEstimate;
  /** The job file, shown in the header. */
  job?: string;
  /** Errors of failed chunks (messages are shown escaped). */
  errors?: { index: number; kind?: string; message: string }[];
  notes?: string[];
}

/** Above this many attempts, ok attempts are binned by row groups. */
const MAX_BARS = 20_000;

const COLORS: Record<DisplayOutcome, string> = {
  ok: "#2e9d5b",
  retried: "#e8a317",
  speculative: "#3d7dd8",
  failed: "#d93f3f",
  cancelled: "#8a8f98",
};
const QUEUED = "#c9ced6";
const COLD = "#6b2fbf";

/**
 * How each attempt is drawn: ok; speculative (a speculative copy that won); cancelled (lost a
 * speculative race, or was cancelled); retried (failed, and its chunk was tried again
 * afterwards); failed (failed, and nothing came after it).
 */
export function classifyAttempts(attempts: readonly AttemptRecord[]): DisplayOutcome[] {
  const lastInvoke = new Map<number, number>();
  for (const a of attempts) lastInvoke.set(a.index, Math.max(lastInvoke.get(a.index) ?? -Infinity, a.invokedAt));
  const lastAttempt = new Map<number, number>();
  for (const a of attempts) lastAttempt.set(a.index, Math.max(lastAttempt.get(a.index) ?? 0, a.attempt));
  return attempts.map((a) => {
    if (a.outcome === "cancelled") return "cancelled";
    if (a.outcome === "ok") {
      if (!a.won) return "cancelled";
      return a.speculative ? "speculative" : "ok";
    }
    const later = a.attempt < lastAttempt.get(a.index)! || a.invokedAt < lastInvoke.get(a.index)!;
    return later ? "retried" : "failed";
  });
}

export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

const n1 = (v: number) => (Math.round(v * 10) / 10).toString();
const n2 = (v: number) => (Math.round(v * 100) / 100).toString();

/** Round tick steps (1, 2, 5 x 10^k) covering [0, max] with about `count` ticks. */
function ticks(max: number, count = 6): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(v);
  return out;
}

function fmtTick(ms: number, spanMs: number): string {
  if (spanMs < 2000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  return `${spanMs < 20_000 ? s.toFixed(1) : Math.round(s)} s`;
}

/** Run time of an attempt as the summary counts it: worker start..end, else invoke..return. */
function runMs(a: AttemptRecord): number {
  return (a.endedAt ?? a.returnedAt) - (a.startedAt ?? a.invokedAt);
}

export function renderReport(input: ReportInput): string {
  const { summary: s, attempts } = input;
  const title = input.title ?? `fanout run ${s.runId}`;
  const outcomes = classifyAttempts(attempts);
  const counts = Object.fromEntries(DISPLAY_OUTCOMES.map((o) => [o, 0])) as Record<DisplayOutcome, number>;
  for (const o of outcomes) counts[o]++;
  const parallel = Math.max(1, Math.min(s.concurrency, s.chunks));
  const efficiency = s.speedup / parallel;

  const summaryRows: [key: string, label: string, value: string, raw?: number][] = [
    ["runId", "run", s.runId],
    ["backend", "backend", s.backend],
    ["status", "status", s.status],
    ["chunks", "chunks", String(s.chunks), s.chunks],
    ["succeeded", "succeeded", String(s.succeeded), s.succeeded],
    ["failed", "failed", String(s.failed), s.failed],
    ["skipped", "resumed from the store", String(s.skipped), s.skipped],
    ["attempts", "attempts", String(attempts.length), attempts.length],
    ["concurrency", "concurrency", String(s.concurrency), s.concurrency],
    ["wallMs", "wall time", fmtMs(s.wallMs), s.wallMs],
    ["sumChunkMs", "sum of chunk time", fmtMs(s.sumChunkMs), s.sumChunkMs],
    ["speedup", "speedup (chunk time / wall)", `${s.speedup.toFixed(2)}x`, s.speedup],
    ["efficiency", `efficiency (speedup / ${parallel})`, `${(efficiency * 100).toFixed(1)}%`, efficiency],
    ["dispatchMs", "dispatch time (first to last invoke)", fmtMs(s.dispatchMs), s.dispatchMs],
    ["coldStarts", "cold starts", String(s.coldStarts), s.coldStarts],
    ["p50", "chunk time p50", fmtMs(s.chunkMs.p50), s.chunkMs.p50],
    ["p95", "chunk time p95", fmtMs(s.chunkMs.p95), s.chunkMs.p95],
    ["p99", "chunk time p99", fmtMs(s.chunkMs.p99), s.chunkMs.p99],
    ["max", "chunk time max", fmtMs(s.chunkMs.max), s.chunkMs.max],
    ["retries", "retries", String(s.retries), s.retries],
    ["speculated", "speculative copies / won", `${s.speculated} / ${s.speculationWins}`, s.speculated],
    // A run resumed with --rebuild mixes builds of the job: how many results each one made.
    ["builds", "chunk results by job build", (s.builds ?? []).map((b) => `${b.chunks} by bundle ${b.bundleSha256.slice(0, 12)}`).join(" · ") || "—", s.builds?.length ?? 1],
  ];
  const summaryTable = `<table class="kv" data-testid="summary"><tbody>${summaryRows
    .map(
      ([k, label, v, raw]) =>
        `<tr data-testid="summary-row" data-key="${escapeHtml(k)}"${raw !== undefined ? ` data-value="${escapeHtml(raw)}"` : ""}><th>${escapeHtml(label)}</th><td>${escapeHtml(v)}</td></tr>`,
    )
    .join("")}</tbody></table>`;

  const parts: string[] = [];
  parts.push(`<header><h1>${escapeHtml(title)}</h1><p class="sub">${input.job ? `job <code>${escapeHtml(input.job)}</code> · ` : ""}${escapeHtml(
    `${s.backend} · ${s.chunks} chunks · ${attempts.length} attempts · ${s.status}`,
  )}</p></header>`);
  parts.push(`<section class="cols"><div><h2>Summary</h2>${summaryTable}</div><div>${renderCompare(input, s)}${renderCost(input.cost)}${renderOutcomeCounts(counts)}</div></section>`);
  if (input.notes?.length) parts.push(`<section><ul class="notes">${input.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul></section>`);
  if (input.errors?.length) {
    parts.push(
      `<section><h2>Errors</h2><table class="grid" data-testid="errors"><thead><tr><th>chunk</th><th>kind</th><th>message</th></tr></thead><tbody>${input.errors
        .slice(0, 200)
        .map((e) => `<tr><td>${escapeHtml(e.index)}</td><td>${escapeHtml(e.kind ?? "")}</td><td><code>${escapeHtml(e.message)}</code></td></tr>`)
        .join("")}</tbody></table>${input.errors.length > 200 ? `<p class="sub">${input.errors.length - 200} more not shown</p>` : ""}</section>`,
    );
  }
  parts.push(`<section><h2>Timeline</h2>${renderLegend()}${renderTimeline(attempts, outcomes)}</section>`);
  parts.push(`<section class="cols"><div><h2>Concurrency over time</h2>${renderConcurrency(attempts)}</div><div><h2>Chunk run times</h2>${renderHistogram(attempts, s)}</div></section>`);
  parts.push(`<footer>fanout report · generated ${escapeHtml(new Date().toISOString())} · times are epoch ms from the client (invoke, reply) and the worker (start, end)</footer>`);

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style></head>
<body data-testid="report" data-attempts="${attempts.length}" data-mode="${attempts.length > MAX_BARS ? "binned" : "bars"}">
${parts.join("\n")}
<div id="tip" role="tooltip" hidden></div>
<script>${SCRIPT}</script>
</body></html>
`;
}

function renderOutcomeCounts(counts: Record<DisplayOutcome, number>): string {
  return `<h2>Attempts by outcome</h2><table class="grid" data-testid="outcomes"><tbody>${DISPLAY_OUTCOMES.map(
    (o) => `<tr data-outcome="${o}" data-count="${counts[o]}"><th><span class="sw" style="background:${COLORS[o]}"></span>${o}</th><td>${counts[o]}</td></tr>`,
  ).join("")}</tbody></table>`;
}

function renderCompare(input: ReportInput, s: RunSummary): string {
  const c = input.compare;
  if (!c) return "";
  const speedup = s.wallMs > 0 ? c.wallMs / s.wallMs : 0;
  const parallel = Math.max(1, Math.min(s.concurrency, s.chunks));
  const rows: [string, string][] = [
    [`baseline (${c.label}) wall`, `${fmtMs(c.wallMs)}${c.sample ? ` (extrapolated from ${c.sample.ran} of ${c.sample.chunks} chunks)` : ""}`],
    [`${s.backend} run wall`, fmtMs(s.wallMs)],
    ["speedup vs baseline", `${speedup.toFixed(2)}x`],
    [`parallel efficiency (speedup / ${parallel})`, `${((speedup / parallel) * 100).toFixed(1)}%`],
  ];
  if (c.sumChunkMs !== undefined) rows.push(["baseline sum of chunk time", fmtMs(c.sumChunkMs)]);
  rows.push(["results", c.resultsEqual === undefined ? "not compared" : c.resultsEqual ? "equal" : "DIFFERENT"]);
  if (c.note) rows.push(["note", c.note]);
  return `<h2>Against the baseline</h2><table class="kv" data-testid="compare"${c.resultsEqual === false ? ' data-mismatch="true"' : ""}><tbody>${rows
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td${v === "DIFFERENT" ? ' class="bad"' : ""}>${escapeHtml(v)}</td></tr>`)
    .join("")}</tbody></table>`;
}

function renderCost(c: CostEstimate | undefined): string {
  if (!c) return "";
  const usd = (v: number) => (v === 0 ? "$0" : v >= 0.01 ? `$${v.toFixed(4)}` : `$${v.toPrecision(3)}`);
  const rows: [string, string][] = [
    ["Lambda duration", `${usd(c.lambdaDuration)} (${c.gbSeconds.toPrecision(4)} GB-s)`],
    ["Lambda requests", `${usd(c.lambdaRequests)} (${c.invocations})`],
    ["S3 PUT/LIST", `${usd(c.s3PutCost)} (${c.s3Puts})`],
    ["S3 GET", `${usd(c.s3GetCost)} (${c.s3Gets})`],
    ["total", usd(c.total)],
  ];
  return `<h2>Estimated AWS cost</h2><table class="kv" data-testid="cost"><tbody>${rows
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join("")}</tbody></table><p class="sub">${escapeHtml(c.basis)}</p>`;
}

function renderLegend(): string {
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

function renderTimeline(attempts: readonly AttemptRecord[], outcomes: readonly DisplayOutcome[]): string {
  if (attempts.length === 0) return `<p class="sub" data-testid="timeline-empty">no attempts were made</p>`;
  let t0 = Infinity;
  let t1 = -Infinity;
  let rows = 0;
  for (const a of attempts) {
    t0 = Math.min(t0, a.invokedAt);
    t1 = Math.max(t1, a.returnedAt, a.endedAt ?? 0);
    rows = Math.max(rows, a.index + 1);
  }
  const span = Math.max(1, t1 - t0);
  const L = 64;
  const PW = 1080;
  const TOP = 8;
  const H = Math.min(16, Math.max(0.2, 900 / rows));
  const plotH = rows * H;
  const W = L + PW + 12;
  const svgH = TOP + plotH + 28;
  const x = (t: number) => L + ((t - t0) / span) * PW;

  // Lanes: attempts of a chunk that overlap in time (speculative copies) share its row.
  const order = attempts.map((_, i) => i).sort((a, b) => attempts[a]!.index - attempts[b]!.index || attempts[a]!.invokedAt - attempts[b]!.invokedAt);
  const lane = new Array<number>(attempts.length).fill(0);
  const lanes = new Map<number, number>();
  let laneEnds: number[] = [];
  let cur = -1;
  for (const i of order) {
    const a = attempts[i]!;
    if (a.index !== cur) {
      if (cur >= 0) lanes.set(cur, laneEnds.length);
      cur = a.index;
      laneEnds = [];
    }
    let l = laneEnds.findIndex((end) => end <= a.invokedAt);
    if (l === -1) {
      l = laneEnds.length;
      laneEnds.push(0);
    }
    laneEnds[l] = Math.max(a.returnedAt, a.endedAt ?? 0);
    lane[i] = l;
  }
  if (cur >= 0) lanes.set(cur, laneEnds.length);

  const binned = attempts.length > MAX_BARS;
  const bars: string[] = [];
  const rare: string[] = [];
  const queued: string[] = [];
  const cold: string[] = [];
  const running: Record<DisplayOutcome, string[]> = { ok: [], retried: [], speculative: [], failed: [], cancelled: [] };
  const groupSize = binned ? Math.ceil(rows / 1000) : 1;
  const bins = new Map<number, { from: number; to: number; count: number }>();
  const seg = (x0: number, y0: number, w: number, h: number) => `M${n1(x0)} ${n2(y0)}h${n2(Math.max(w, 0.3))}v${n2(h)}h${n2(-Math.max(w, 0.3))}z`;

  for (let i = 0; i < attempts.length; i++) {
    const a = attempts[i]!;
    const o = outcomes[i]!;
    const nl = lanes.get(a.index) ?? 1;
    const h = H / nl;
    const y = TOP + a.index * H + lane[i]! * h;
    const gap = h > 3 ? Math.min(1.5, h * 0.15) : 0;
    const end = Math.max(a.returnedAt, a.endedAt ?? 0);
    if (binned && o === "ok") {
      const g = Math.floor(a.index / groupSize);
      const b = bins.get(g);
      if (b) {
        b.from = Math.min(b.from, a.invokedAt);
        b.to = Math.max(b.to, end);
        b.count++;
      } else bins.set(g, { from: a.invokedAt, to: end, count: 1 });
      continue;
    }
    // In a dense timeline the rare outcomes stay visible: at least 2 px tall, drawn on top.
    const hh = o === "ok" ? Math.max(0.2, h - gap) : Math.max(2, h - gap);
    const yy = o === "ok" ? y + gap / 2 : Math.min(y + gap / 2, TOP + plotH - hh);
    const xs = x(a.invokedAt);
    const w = Math.max(0.5, x(end) - xs);
    const q = a.startedAt !== undefined ? Math.max(0, a.startedAt - a.invokedAt) : undefined;
    const r = runMs(a);
    (o === "ok" ? bars : rare).push(
      `<rect data-testid="bar" data-outcome="${o}" data-kind="${escapeHtml(a.outcome)}" data-index="${a.index}" data-attempt="${a.attempt}"${a.speculative ? ' data-spec="1"' : ""}${a.coldStart ? ' data-cold="1"' : ""} data-q="${q === undefined ? "" : Math.round(q)}" data-r="${Math.round(r)}" data-t="${Math.round(a.returnedAt - a.invokedAt)}" class="b ${o}" x="${n1(xs)}" y="${n2(yy)}" width="${n2(w)}" height="${n2(hh)}"/>`,
    );
    if (a.startedAt !== undefined && a.startedAt > a.invokedAt) queued.push(seg(xs, yy, x(a.startedAt) - xs, hh));
    if (a.startedAt !== undefined && a.endedAt !== undefined) running[o].push(seg(x(a.startedAt), yy, x(a.endedAt) - x(a.startedAt), hh));
    else if (a.startedAt === undefined) running[o].push(seg(xs, yy, w, hh));
    if (a.coldStart) cold.push(seg(xs, yy, Math.min(3, w), hh));
  }
  const binRects: string[] = [];
  for (const [g, b] of bins) {
    const first = g * groupSize;
    const last = Math.min(rows, first + groupSize) - 1;
    binRects.push(
      `<rect data-testid="bar-bin" data-outcome="ok" data-count="${b.count}" data-index="${first}-${last}" class="b ok solid" x="${n1(x(b.from))}" y="${n2(TOP + first * H)}" width="${n2(Math.max(0.5, x(b.to) - x(b.from)))}" height="${n2((last - first + 1) * H)}"/>`,
    );
  }

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
  const paths = [
    `<path class="queued" d="${queued.join("")}"/>`,
    ...DISPLAY_OUTCOMES.map((o) => (running[o].length ? `<path class="run ${o}" d="${running[o].join("")}"/>` : "")),
    cold.length ? `<path class="cold" d="${cold.join("")}"/>` : "",
  ];
  return `<div class="tl"><svg data-testid="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${n1(svgH)}" width="${W}" height="${n1(svgH)}" role="img" aria-label="attempt timeline: one row per chunk, time across">
<text class="axl" x="4" y="${n1(TOP + plotH / 2)}" transform="rotate(-90 12 ${n1(TOP + plotH / 2)})" text-anchor="middle">chunk</text>
${axis.join("")}
<g class="bars">${binRects.join("")}${bars.join("")}${rare.join("")}</g>
<g class="overlay">${paths.join("")}</g>
</svg></div>${binned ? `<p class="sub" data-testid="binned-note">${attempts.length} attempts: ok attempts are drawn as one bar per group of ${groupSize} chunks (first invoke to last reply); every other attempt is drawn alone.</p>` : ""}`;
}

function renderConcurrency(attempts: readonly AttemptRecord[]): string {
  const W = 560;
  const H = 200;
  const L = 44;
  const B = 24;
  if (attempts.length === 0) return `<p class="sub">no attempts</p>`;
  // +1 at invoke, -1 at reply: attempts in flight; and the same for worker start..end: running.
  const steps = (pairs: [number, number][]) => {
    const ev: [number, number][] = [];
    for (const [a, b] of pairs) ev.push([a, 1], [b, -1]);
    ev.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
    const pts: [number, number][] = [];
    let v = 0;
    for (const [t, d] of ev) {
      v += d;
      if (pts.length && pts[pts.length - 1]![0] === t) pts[pts.length - 1]![1] = v;
      else pts.push([t, v]);
    }
    return pts;
  };
  const inflight = steps(attempts.map((a) => [a.invokedAt, a.returnedAt]));
  const run = steps(attempts.filter((a) => a.startedAt !== undefined && a.endedAt !== undefined).map((a) => [a.startedAt!, a.endedAt!]));
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

function renderHistogram(attempts: readonly AttemptRecord[], s: RunSummary): string {
  const W = 560;
  const H = 200;
  const L = 44;
  const B = 24;
  let times = attempts.filter((a) => a.won).map(runMs);
  if (times.length === 0) times = attempts.map(runMs);
  if (times.length === 0) return `<p class="sub">no chunk times</p>`;
  let hi = 0;
  let lo = Infinity;
  for (const t of times) {
    hi = Math.max(hi, t);
    lo = Math.min(lo, t);
  }
  // A narrow spread (all chunks alike) gets a zoomed axis instead of one fat bar at the right.
  const tk = ticks(hi - lo, 5);
  const step = tk.length > 1 ? tk[1]! : 1;
  const min = lo > 0.4 * hi ? Math.floor(lo / step) * step : 0;
  const max = Math.max(min + 1, hi);
  const nb = Math.min(40, Math.max(5, Math.ceil(Math.sqrt(times.length))));
  const width = (max - min) / nb;
  const counts = new Array<number>(nb).fill(0);
  for (const t of times) counts[Math.min(nb - 1, Math.max(0, Math.floor((t - min) / width)))]!++;
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

const CSS = `
:root{--fg:#1d2330;--mut:#5d6675;--line:#e3e6eb;--bg:#fff}
*{box-sizing:border-box}
body{margin:0;padding:20px 28px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:20px;margin:0 0 2px}h2{font-size:15px;margin:18px 0 8px}
.sub{color:var(--mut);margin:2px 0 8px;font-size:13px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;padding:1px 4px;border-radius:3px;word-break:break-all}
.cols{display:flex;flex-wrap:wrap;gap:12px 40px}.cols>div{min-width:320px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
table.kv th,table.grid th{text-align:left;font-weight:500;color:var(--mut);padding:3px 16px 3px 0}
table.kv td{padding:3px 0;text-align:right;font-weight:600}
table.grid td{padding:3px 10px 3px 0}
tr+tr>*{border-top:1px solid var(--line)}
.bad{color:#d93f3f}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:4px 0 8px;font-size:12px;color:var(--mut)}
.legend.small{margin-top:2px}
.li{display:inline-flex;align-items:center;gap:6px}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.li .sw{margin-right:0}
.sw.line{height:0;border-top:2px solid;border-radius:0;width:16px}
.tl{overflow:auto;max-width:100%;border:1px solid var(--line);border-radius:4px}
svg{display:block;max-width:none}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:var(--mut)}
.grid{stroke:var(--line);stroke-width:1}
.b{fill-opacity:.35}.b.solid{fill-opacity:.85}
.b.ok,.run.ok{fill:${COLORS.ok}}.b.retried,.run.retried{fill:${COLORS.retried}}.b.speculative,.run.speculative{fill:${COLORS.speculative}}
.b.failed,.run.failed{fill:${COLORS.failed}}.b.cancelled,.run.cancelled{fill:${COLORS.cancelled}}
.overlay{pointer-events:none}.queued{fill:${QUEUED}}.cold{fill:${COLD}}
.conc{fill:none;stroke-width:1.5}.conc.inflight{stroke:#3d7dd8}.conc.running{stroke:#2e9d5b}
.hist{fill:#3d7dd8;fill-opacity:.8}.pmark{stroke-width:1.5;stroke-dasharray:4 3}
.b:hover{stroke:#000;stroke-width:1}
#tip{position:fixed;pointer-events:none;background:#1d2330;color:#fff;font-size:12px;padding:6px 8px;border-radius:4px;white-space:pre;z-index:9}
footer{margin-top:24px;color:var(--mut);font-size:12px}
ul.notes{margin:4px 0;padding-left:18px;color:var(--mut)}
`;

/** One listener for the whole timeline: details of the bar under the pointer. */
const SCRIPT = `(function(){var t=document.getElementById("tip"),s=document.querySelector('[data-testid="timeline"]');if(!s||!t)return;
function ms(v){return v===""?"-":(+v<1000?v+" ms":(v/1000).toFixed(2)+" s")}
s.addEventListener("mousemove",function(e){var d=e.target&&e.target.dataset;if(!d||!d.outcome){t.hidden=true;return}
t.textContent=d.count?("chunks "+d.index+"\\n"+d.count+" ok attempts"):("chunk "+d.index+" · attempt "+d.attempt+(d.spec?" (speculative)":"")+"\\n"+d.outcome+(d.kind!==d.outcome?" ("+d.kind+")":"")+(d.cold?" · cold start":"")+"\\nqueued "+ms(d.q)+" · ran "+ms(d.r)+" · total "+ms(d.t));
t.hidden=false;t.style.left=Math.min(e.clientX+12,innerWidth-240)+"px";t.style.top=(e.clientY+12)+"px"});
s.addEventListener("mouseleave",function(){t.hidden=true})})();`;
