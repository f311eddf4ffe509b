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
import { renderConcurrency, renderHistogram } from "./charts.js";
import { classifyAttempts, countOutcomes } from "./classify.js";
import { CSS, SCRIPT } from "./styles.js";
import { renderSweep } from "./sweep.js";
import { renderCompare, renderCost, renderErrors, renderOutcomeCounts, renderSummaryTable } from "./summary-table.js";
import { escapeHtml } from "./text.js";
import { MAX_BARS, renderLegend, renderTimeline } from "./timeline.js";
import type { ReportInput } from "./types.js";

export type { ReportCompare } from "./types.js";

/** The report page for a run, as one HTML string. */
export function renderReport(input: ReportInput): string {
  const { summary: s, attempts } = input;
  const title = input.title ?? `fanout run ${s.runId}`;
  const outcomes = classifyAttempts(attempts);
  const counts = countOutcomes(outcomes);
  const summaryTable = renderSummaryTable(s, attempts.length);

  const parts: string[] = [];
  parts.push(`<header><h1>${escapeHtml(title)}</h1><p class="sub">${input.job ? `job <code>${escapeHtml(input.job)}</code> · ` : ""}${escapeHtml(
    `${s.backend} · ${s.chunks} chunks · ${attempts.length} attempts · ${s.status}`,
  )}</p></header>`);
  parts.push(`<section class="cols"><div><h2>Summary</h2>${summaryTable}</div><div>${renderCompare(input, s)}${renderCost(input.cost)}${renderOutcomeCounts(counts)}</div></section>`);
  parts.push(renderSweep(input.sweep));
  if (input.notes?.length) parts.push(`<section><ul class="notes">${input.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul></section>`);
  if (input.errors?.length) parts.push(renderErrors(input.errors));
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
