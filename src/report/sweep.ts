/**
 * The memory sweep's section of a bench report (`fanout bench --memory 1024,1769,3008`): one
 * row per tier with its chunk times and estimated cost, the fastest and recommended marked.
 * Test hooks: the table is `[data-testid=sweep]`, each row `[data-testid=sweep-row]` with
 * `data-memory`, `data-mean-ms` and `data-cost-per-chunk`, and `data-fastest` /
 * `data-recommended` on the rows that are.
 */
import type { SweepReport } from "../bench/sweep.js";
import { fmtUsd } from "../bench/cost.js";
import { fmtMs } from "../util/format.js";
import { escapeHtml } from "./text.js";

/** The sweep table as HTML (empty without a sweep). */
export function renderSweep(r: SweepReport | undefined): string {
  if (!r) return "";
  const head = ["memory", "chunk mean", "p50", "p95", "sample wall", "attempts", "peak RSS", "est. cost / chunk", "est. cost (sample)"];
  const rows = r.tiers.map((t) => {
    const flags = `${t.memoryMb === r.fastestMb ? ' data-fastest="true"' : ""}${t.memoryMb === r.recommendedMb ? ' data-recommended="true"' : ""}`;
    const cells = [`${t.memoryMb} MB`, fmtMs(t.chunkMs.mean), fmtMs(t.chunkMs.p50), fmtMs(t.chunkMs.p95), fmtMs(t.wallMs), String(t.attempts), t.peakMb === undefined ? "–" : `${t.peakMb} MB`, fmtUsd(t.costPerChunk), fmtUsd(t.cost)];
    return `<tr data-testid="sweep-row" data-memory="${t.memoryMb}" data-mean-ms="${t.chunkMs.mean}" data-cost-per-chunk="${t.costPerChunk}"${flags}>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`;
  });
  return `<section><h2>Memory sweep</h2><p class="sub">${escapeHtml(`chunks ${r.sample.join(", ")} (${r.sample.length} of ${r.chunks}) on each tier, on ${r.backend}`)}</p>
<table data-testid="sweep"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>
<p data-testid="sweep-recommended">${escapeHtml(`recommended: --memory ${r.recommendedMb} (the cheapest within ${Math.round(r.within * 100)}% of the fastest, ${r.fastestMb} MB)`)}</p>
<p class="sub">${escapeHtml(r.basis)}</p><p class="sub">${escapeHtml(r.costBasis)}</p></section>`;
}
