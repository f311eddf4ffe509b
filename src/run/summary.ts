/** The summary of a run from the executor's outcome: counts, times and speedup. */
import type { ExecuteOutcome } from "../exec/executor.js";
import { attemptRunMs } from "../util/attempts.js";
import { chunkStats } from "../util/stats.js";
import type { RunManifest, RunOptionsResolved, RunSummary } from "../types.js";

export function summarize(
  manifest: RunManifest,
  backend: string,
  o: ExecuteOutcome,
  skipped: number,
  t0: number,
  opts: RunOptionsResolved,
): RunSummary {
  const won = o.attempts.filter((a) => a.won);
  const times = won.map(attemptRunMs);
  const sum = times.reduce((a, b) => a + b, 0);
  const wallMs = Date.now() - t0;
  return {
    runId: manifest.runId,
    backend,
    status: o.failures.size ? "failed" : o.stopped === "aborted" ? "aborted" : "succeeded",
    chunks: manifest.chunks,
    succeeded: o.values.size + o.stored.size + skipped,
    failed: o.failures.size,
    skipped,
    retries: o.retries,
    speculated: o.speculated,
    speculationWins: o.speculationWins,
    coldStarts: o.attempts.filter((a) => a.coldStart).length,
    concurrency: opts.concurrency,
    wallMs,
    dispatchMs: o.lastInvokeAt - o.firstInvokeAt,
    sumChunkMs: sum,
    speedup: wallMs > 0 ? sum / wallMs : 0,
    chunkMs: chunkStats(times),
    ...(o.throttle.throttled ? { throttle: { throttled: o.throttle.throttled, limitFound: o.throttle.final, ceiling: o.throttle.ceiling } } : {}),
    ...(o.speculation.copies ? { speculation: o.speculation } : {}),
    ...(o.stoppedEarly ? { stoppedEarly: o.stoppedEarly } : {}),
  };
}
