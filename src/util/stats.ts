/** Nearest-rank quantile of an unsorted sample. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  return atRank([...values].sort((a, b) => a - b), q);
}

function atRank(sorted: readonly number[], q: number): number {
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export interface ChunkStats {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** p50/p95/p99/max from one sort (no spread of the sample into arguments: runs reach 10^5). */
export function chunkStats(times: readonly number[]): ChunkStats {
  if (times.length === 0) return { p50: 0, p95: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(times).sort();
  const s = Array.from(sorted);
  return { p50: atRank(s, 0.5), p95: atRank(s, 0.95), p99: atRank(s, 0.99), max: s[s.length - 1]! };
}
