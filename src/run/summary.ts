/** The summary of a run from the executor's outcome: counts, times and speedup. */
import type { Backend } from "../compute/types.js";
import type { ExecuteOutcome } from "../exec/executor.js";
import { attemptRunMs } from "../util/attempts.js";
import { chunkStats } from "../util/stats.js";
import type { AttemptRecord, RunManifest, RunOptionsResolved, RunSummary } from "../types.js";

export function summarize(
  manifest: RunManifest,
  backend: Pick<Backend, "name" | "memoryMb" | "arch">,
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
    backend: backend.name,
    memoryMb: backend.memoryMb,
    ...(backend.arch ? { arch: backend.arch } : {}),
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
    timeoutMs: opts.timeoutMs,
    wallMs,
    dispatchMs: o.lastInvokeAt - o.firstInvokeAt,
    sumChunkMs: sum,
    speedup: wallMs > 0 ? sum / wallMs : 0,
    chunkMs: chunkStats(times),
    ...(o.throttle.throttled ? { throttle: { throttled: o.throttle.throttled, limitFound: o.throttle.final, ceiling: o.throttle.ceiling } } : {}),
    ...(o.speculation.copies ? { speculation: o.speculation } : {}),
    ...peakMemory(o.attempts, opts.memoryMb),
    ...escalations(o.attempts, backend.memoryMb),
    ...depsFigures(manifest, o.attempts),
    ...(o.stoppedEarly ? { stoppedEarly: o.stoppedEarly } : {}),
  };
}

/** The run's external packages, and what fetching, checking and unpacking their archive cost the workers. */
function depsFigures(manifest: RunManifest, attempts: readonly AttemptRecord[]): Pick<RunSummary, "deps"> {
  const d = manifest.deps;
  if (!d) return {};
  const ms = attempts.flatMap((a) => (a.depsMs === undefined ? [] : [a.depsMs]));
  const { platform, packedBytes, unpackedBytes } = d;
  return {
    deps: {
      packages: Object.keys(d.packages),
      ...(platform ? { platform } : {}),
      ...(packedBytes !== undefined ? { packedBytes } : {}),
      ...(unpackedBytes !== undefined ? { unpackedBytes } : {}),
      unpacks: ms.length,
      unpackMaxMs: ms.length ? Math.max(...ms) : 0,
    },
  };
}

/** Peak RSS over the attempts whose workers reported it, against the memory setting. */
function peakMemory(attempts: readonly AttemptRecord[], limitMb: number): Pick<RunSummary, "memory"> {
  const peaks: number[] = [];
  for (const a of attempts) if (a.memory) peaks.push(a.memory.peakRssMb);
  if (peaks.length === 0) return {};
  const s = chunkStats(peaks);
  return { memory: { p50Mb: s.p50, p95Mb: s.p95, maxMb: s.max, limitMb } };
}

/** Chunks `--oom-retry` moved up from `fromMb`, counted by the highest tier each reached. */
function escalations(attempts: readonly AttemptRecord[], fromMb: number): Pick<RunSummary, "escalated"> {
  const top = new Map<number, number>();
  for (const a of attempts) if (a.memoryMb) top.set(a.index, Math.max(top.get(a.index) ?? 0, a.memoryMb));
  if (top.size === 0) return {};
  const byTier = new Map<number, number>();
  for (const mb of top.values()) byTier.set(mb, (byTier.get(mb) ?? 0) + 1);
  return { escalated: [...byTier].sort(([a], [b]) => a - b).map(([toMb, chunks]) => ({ fromMb, toMb, chunks })) };
}

/** Below this share of the memory setting at its peak, a run hears that less would do. */
const MEMORY_ROOMY = 0.4;

/**
 * A notice for a run whose workers peaked under 40% of their memory: a setting with half as
 * much headroom again above the peak (in 64 MB steps, Lambda's minimum 128 MB), and what it
 * saves per second of chunk time, as Lambda bills memory times duration. Lambda gives CPU in
 * proportion to memory, so a CPU-bound chunk may run longer: the notice says to measure.
 */
export function memoryNotice(s: RunSummary): string | undefined {
  const m = s.memory;
  if (!m || m.maxMb <= 0 || m.maxMb >= m.limitMb * MEMORY_ROOMY) return undefined;
  const smaller = Math.max(128, Math.ceil((m.maxMb * 1.5) / 64) * 64);
  if (smaller >= m.limitMb) return undefined;
  const saves = Math.round((1 - smaller / m.limitMb) * 100);
  return `memory: workers peaked at ${m.maxMb} MB of ${m.limitMb} MB (${Math.round((m.maxMb / m.limitMb) * 100)}%); --memory ${smaller} would bill ${saves}% less per chunk-second on Lambda (CPU shrinks with memory there: compare times before settling)`;
}
