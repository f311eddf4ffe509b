import { fmtUsd } from "./cost.js";
import type { BenchReport } from "./bench.js";
import type { SweepReport } from "./sweep.js";
import { fmtMs as fmt } from "../util/format.js";

/** The human table: one line per figure, baseline and run side by side. */
export function benchTable(r: BenchReport): string[] {
  const b = r.baseline;
  const rows: [string, string, string][] = [
    ["wall", `${fmt(b.wallMs)}${b.sampled ? " (est.)" : ""}`, fmt(r.run.wallMs)],
    ["speedup", "", `${r.speedup.toFixed(2)}x`],
    ["parallel efficiency", "", `${(r.efficiency * 100).toFixed(1)}% (speedup / ${r.parallelism} chunks at once: min(concurrency ${r.concurrency}, chunks ${r.chunks}${r.backend === "local" ? ", processes" : ""}))`],
    ["sum of chunk time", `${fmt(b.sumChunkMs)}${b.sampled ? " (est.)" : ""}`, fmt(r.run.sumChunkMs)],
    ["dispatch time", "", fmt(r.run.dispatchMs)],
    ["cold starts", "", String(r.run.coldStarts)],
    ["chunk p50 / p95", `${fmt(b.chunkMs.p50)} / ${fmt(b.chunkMs.p95)}`, `${fmt(r.run.chunkMs.p50)} / ${fmt(r.run.chunkMs.p95)}`],
    ["chunk p99 / max", `${fmt(b.chunkMs.p99)} / ${fmt(b.chunkMs.max)}`, `${fmt(r.run.chunkMs.p99)} / ${fmt(r.run.chunkMs.max)}`],
    ["stragglers (> 2x median)", "", String(r.stragglers)],
    ["speculative re-runs (won)", "", `${r.run.speculated} (${r.run.speculationWins})`],
    ["retries", "", String(r.run.retries)],
    [`est. AWS cost (${r.cost.memoryMb} MB ${r.cost.arch})`, "", `${fmtUsd(r.cost.total)} = ${fmtUsd(r.cost.lambdaDuration)} duration + ${fmtUsd(r.cost.lambdaRequests)} requests + ${fmtUsd(r.cost.s3PutCost + r.cost.s3GetCost)} S3`],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(b.label.length, ...rows.map((x) => x[1].length));
  const line = (a: string, c: string, d: string) => `${a.padEnd(w0)}  ${c.padEnd(w1)}  ${d}`.trimEnd();
  return [
    `fanout bench ${r.job} · ${r.chunks} chunks · ${r.backend} (concurrency ${r.concurrency}) vs ${b.label} baseline`,
    line("", b.label, r.backend),
    ...rows.map(([a, c, d]) => line(a, c, d)),
    ...(b.note ? [`note: baseline ${b.note}`] : []),
    `${r.resultsEqual === true ? "✓ " : r.resultsEqual === false ? "✗ " : ""}${r.comparison}`,
    `cost: ${r.cost.basis}`,
  ];
}

/** The memory sweep's table: one line per tier, then the fastest and the recommended tier. */
export function sweepTable(r: SweepReport): string[] {
  const head = ["memory", "chunk mean", "p50", "p95", "sample wall", "attempts", "peak RSS", "est. cost/chunk", "est. cost (sample)"];
  const rows = r.tiers.map((t) => [
    `${t.memoryMb} MB`,
    fmt(t.chunkMs.mean),
    fmt(t.chunkMs.p50),
    fmt(t.chunkMs.p95),
    fmt(t.wallMs),
    String(t.attempts),
    t.peakMb === undefined ? "–" : `${t.peakMb} MB`,
    fmtUsd(t.costPerChunk),
    fmtUsd(t.cost),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const mark = (mb: number) => [mb === r.fastestMb ? "fastest" : "", mb === r.recommendedMb ? "recommended" : ""].filter(Boolean).join(", ");
  return [
    `fanout bench ${r.job} · memory sweep on ${r.backend} · chunks ${r.sample.join(", ")} (${r.sample.length} of ${r.chunks}) on each tier`,
    line(head),
    ...rows.map((row, i) => `${line(row)}${mark(r.tiers[i]!.memoryMb) ? `  ← ${mark(r.tiers[i]!.memoryMb)}` : ""}`),
    `recommended: --memory ${r.recommendedMb} (the cheapest within ${Math.round(r.within * 100)}% of the fastest, ${r.fastestMb} MB)`,
    `note: ${r.basis}`,
    `cost: ${r.costBasis}`,
  ];
}
