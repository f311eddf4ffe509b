/** The summary of a run from the executor's outcome: counts, times and speedup. */
import type { Backend } from "../compute/types.js";
import type { ExecuteOutcome } from "../exec/executor.js";
import { attemptRunMs } from "../util/attempts.js";
import { chunkStats } from "../util/stats.js";
import type { AttemptRecord, ResultEnvelope, RunManifest, RunOptionsResolved, RunSummary } from "../types.js";

export function summarize(
  manifest: RunManifest,
  backend: Pick<Backend, "name" | "memoryMb" | "arch">,
  o: ExecuteOutcome,
  skipped: number,
  t0: number,
  opts: RunOptionsResolved,
  now = Date.now(),
): RunSummary {
  const won = o.attempts.filter((a) => a.won);
  const times = won.map(attemptRunMs);
  const sum = times.reduce((a, b) => a + b, 0);
  const wallMs = now - t0;
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

/** The executor's figures one driver generation keeps beside its attempt records. */
type GenerationFigures = Pick<ExecuteOutcome, "retries" | "speculated" | "speculationWins" | "stoppedEarly" | "firstInvokeAt" | "lastInvokeAt" | "throttle" | "speculation">;

/**
 * One driver generation's share of a detached run (`runs/<id>/attempts/<generation>.jsonl`):
 * when it began, the chunks already done then, its figures and its attempt records.
 */
export interface GenerationLog {
  generation: number;
  startedAt: number;
  done: number[];
  figures: GenerationFigures;
  attempts: AttemptRecord[];
}

/** A generation's log from its outcome; without one (it is starting), empty figures. */
export function generationLog(generation: number, startedAt: number, done: Iterable<number>, o?: ExecuteOutcome): GenerationLog {
  const figures: GenerationFigures = o
    ? { retries: o.retries, speculated: o.speculated, speculationWins: o.speculationWins, stoppedEarly: o.stoppedEarly, firstInvokeAt: o.firstInvokeAt, lastInvokeAt: o.lastInvokeAt, throttle: o.throttle, speculation: o.speculation }
    : { retries: 0, speculated: 0, speculationWins: 0, stoppedEarly: 0, firstInvokeAt: 0, lastInvokeAt: 0, throttle: { throttled: 0, lowest: 0, final: 0, ceiling: 0 }, speculation: { copies: 0, won: 0, lostMs: 0 } };
  return { generation, startedAt, done: [...done].sort((a, b) => a - b), figures, attempts: o?.attempts ?? [] };
}

/**
 * A generation that handed over, without the attempts its handover stopped (of chunks it did
 * not finish, which the next generation runs): one client running the whole run makes none.
 */
export function withoutHandover(log: GenerationLog): GenerationLog {
  const won = new Set(log.attempts.filter((a) => a.won).map((a) => a.index));
  const attempts = log.attempts.filter((a) => a.outcome !== "cancelled" || won.has(a.index));
  // What the handover stopped is not told apart in the count: count the races lost, which remain.
  const stoppedEarly = attempts.filter((a) => a.outcome === "cancelled").length;
  return { ...log, attempts, figures: { ...log.figures, stoppedEarly } };
}

/**
 * The winning attempt of a chunk whose generation died before it wrote its log, rebuilt from
 * the result the worker stored: the worker's own start and end stand for the client's times.
 */
export function attemptFromEnvelope(e: ResultEnvelope): AttemptRecord {
  const t = e.timing;
  return {
    index: e.index,
    attempt: e.attempt,
    speculative: false,
    invokedAt: t.startedAt,
    startedAt: t.startedAt,
    endedAt: t.endedAt,
    returnedAt: t.endedAt,
    coldStart: t.coldStart,
    outcome: "ok",
    won: true,
    ...(t.handlerMs !== undefined ? { handlerMs: t.handlerMs } : {}),
    ...(t.initMs !== undefined ? { initMs: t.initMs } : {}),
    ...(e.memory ? { memory: e.memory } : {}),
    ...(t.depsMs !== undefined ? { depsMs: t.depsMs } : {}),
  };
}

/** Chunks done before the last generation began that no logged attempt won nor the first generation found done. */
export function unrecordedWins(logs: readonly GenerationLog[]): number[] {
  const sorted = [...logs].sort((a, b) => a.generation - b.generation);
  const before = new Set(sorted[0]?.done ?? []);
  const won = new Set(sorted.flatMap((l) => l.attempts.filter((a) => a.won).map((a) => a.index)));
  return (sorted.at(-1)?.done ?? []).filter((i) => !before.has(i) && !won.has(i));
}

/**
 * A detached run's outcome as if one client had run it, from every generation's log (the last
 * one's from `last`, its own outcome): attempts and counts added up, the chunks earlier
 * generations finished counted as succeeded, and `skipped` only those done before the first
 * generation began (a resume's).
 */
export function wholeRun(logs: readonly GenerationLog[], last: ExecuteOutcome): { outcome: ExecuteOutcome; skipped: number; startedAt: number } {
  const sorted = [...logs].sort((a, b) => a.generation - b.generation);
  const first = sorted[0]!;
  const final = sorted.at(-1)!;
  const before = new Set(first.done);
  const sum = (f: (g: GenerationFigures) => number) => sorted.reduce((n, l) => n + f(l.figures), 0);
  const invoked = sorted.map((l) => l.figures).filter((f) => f.firstInvokeAt > 0);
  const outcome: ExecuteOutcome = {
    ...last,
    stored: new Set([...last.stored, ...final.done.filter((i) => !before.has(i))]),
    attempts: sorted.flatMap((l) => l.attempts),
    retries: sum((f) => f.retries),
    speculated: sum((f) => f.speculated),
    speculationWins: sum((f) => f.speculationWins),
    stoppedEarly: sum((f) => f.stoppedEarly),
    firstInvokeAt: invoked.length ? Math.min(...invoked.map((f) => f.firstInvokeAt)) : 0,
    lastInvokeAt: invoked.length ? Math.max(...invoked.map((f) => f.lastInvokeAt)) : 0,
    throttle: { ...last.throttle, throttled: sum((f) => f.throttle.throttled), lowest: Math.min(...sorted.map((l) => l.figures.throttle.lowest || Infinity), last.throttle.lowest) },
    speculation: { copies: sum((f) => f.speculation.copies), won: sum((f) => f.speculation.won), lostMs: sum((f) => f.speculation.lostMs) },
  };
  return { outcome, skipped: before.size, startedAt: first.startedAt };
}
