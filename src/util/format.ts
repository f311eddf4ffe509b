// Numbers for people, one copy for the CLI, bench and the HTML report.

/**
 * A duration for people; rounded once, to the precision shown, so it never says "60 s".
 * Under a millisecond it keeps two decimals (a report's bin width can be 0.25 ms); a value
 * that is not a number shows as "–" (no chunk finished, so no percentile).
 */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  if (ms > 0 && ms < 1) return `${ms.toFixed(2)} ms`;
  if (Math.round(ms) < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const cs = Math.round(ms / 10);
  if (cs < 1000) return `${(cs / 100).toFixed(2)} s`;
  const ds = Math.round(ms / 100);
  if (ds < 600) return `${(ds / 10).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
