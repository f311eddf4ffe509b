/** The tables beside the timeline: the run's summary, outcome counts, the baseline, the cost, errors. */
import type { CostEstimate } from "../bench/cost.js";
import type { RunSummary } from "../types.js";
import { DISPLAY_OUTCOMES, type DisplayOutcome } from "./classify.js";
import { COLORS } from "./styles.js";
import { fmtMs } from "../util/format.js";
import { escapeHtml } from "./text.js";
import type { ReportInput } from "./types.js";

/** The run's summary as key/value rows; `data-value` carries the raw number for tests. */
export function renderSummaryTable(s: RunSummary, attempts: number): string {
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
    ["attempts", "attempts", String(attempts), attempts],
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
    ["lostCopyMs", "time of speculative copies that lost", fmtMs(s.speculation?.lostMs ?? 0), s.speculation?.lostMs ?? 0],
    ["throttled", "throttled (429s) · in-flight limit found", s.throttle ? `${s.throttle.throttled} · ${s.throttle.limitFound} of ${s.throttle.ceiling}` : "0", s.throttle?.throttled ?? 0],
    ["peakMemoryMb", "peak memory p50 / p95 / max (of setting)", s.memory ? `${s.memory.p50Mb} / ${s.memory.p95Mb} / ${s.memory.maxMb} MB (of ${s.memory.limitMb} MB)` : "—", s.memory?.maxMb ?? 0],
    // A run resumed with --rebuild mixes builds of the job: how many results each one made.
    ["builds", "chunk results by job build", (s.builds ?? []).map((b) => `${b.chunks} by bundle ${b.bundleSha256.slice(0, 12)}`).join(" · ") || "—", s.builds?.length ?? 1],
  ];
  return `<table class="kv" data-testid="summary"><tbody>${summaryRows
    .map(
      ([k, label, v, raw]) =>
        `<tr data-testid="summary-row" data-key="${escapeHtml(k)}"${raw !== undefined ? ` data-value="${escapeHtml(raw)}"` : ""}><th>${escapeHtml(label)}</th><td>${escapeHtml(v)}</td></tr>`,
    )
    .join("")}</tbody></table>`;
}

/** Errors of failed chunks, the first 200. */
export function renderErrors(errors: NonNullable<ReportInput["errors"]>): string {
  return `<section><h2>Errors</h2><table class="grid" data-testid="errors"><thead><tr><th>chunk</th><th>kind</th><th>message</th></tr></thead><tbody>${errors
    .slice(0, 200)
    .map((e) => `<tr><td>${escapeHtml(e.index)}</td><td>${escapeHtml(e.kind ?? "")}</td><td><code>${escapeHtml(e.message)}</code></td></tr>`)
    .join("")}</tbody></table>${errors.length > 200 ? `<p class="sub">${errors.length - 200} more not shown</p>` : ""}</section>`;
}

export function renderOutcomeCounts(counts: Record<DisplayOutcome, number>): string {
  return `<h2>Attempts by outcome</h2><table class="grid" data-testid="outcomes"><tbody>${DISPLAY_OUTCOMES.map(
    (o) => `<tr data-outcome="${o}" data-count="${counts[o]}"><th><span class="sw" style="background:${COLORS[o]}"></span>${o}</th><td>${counts[o]}</td></tr>`,
  ).join("")}</tbody></table>`;
}

export function renderCompare(input: ReportInput, s: RunSummary): string {
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

export function renderCost(c: CostEstimate | undefined): string {
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
