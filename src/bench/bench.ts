/**
 * `fanout bench` as a library: run a job against a baseline (the same map over every chunk in
 * this process, one after another; or the local backend), check both give the same result,
 * and measure what the parallel run bought: speedup, efficiency, where the time went, and
 * what the run would cost on Lambda. cli/commands/bench.ts parses the flags and prints.
 */
import { ARCHES, estimateCost, estimateS3Requests, type Arch, type CostEstimate } from "./cost.js";
import { UsageError } from "../errors.js";
import { chunkStats, quantile, type ChunkStats } from "../util/stats.js";
import { checkBackend, DEFAULTS, localPoolSize, oneOf, type AwsOptions, type BackendName } from "../options.js";
import type { RunResult } from "../run/run.js";
import type { SequentialResult } from "./sequential.js";
import type { AttemptRecord } from "../types.js";
import { fmtMs as fmt } from "../util/format.js";

export type BaselineKind = "sequential" | "local";
export const BASELINES: readonly BaselineKind[] = ["sequential", "local"];

export interface BenchOptions {
  chunks?: number;
  backend?: BackendName;
  baseline?: BaselineKind;
  /** Sequential baseline only: run this many evenly spaced chunks and extrapolate. */
  baselineSample?: number;
  concurrency?: number;
  /** Lambda memory for the run and the cost estimate, MB. */
  memory?: number;
  arch?: Arch;
  speculate?: boolean;
  store?: string;
  /** Worker processes of the local backend; default one per core. */
  processes?: number;
  cwd?: string;
  aws?: AwsOptions;
  /** Progress lines (stderr in the CLI). */
  onNotice?: (line: string) => void;
}

/** One side of the comparison, as the table shows it. */
interface BenchSide {
  label: string;
  wallMs: number;
  sumChunkMs: number;
  chunkMs: ChunkStats;
}

export interface BenchReport {
  job: string;
  chunks: number;
  backend: string;
  concurrency: number;
  baseline: BenchSide & {
    kind: BaselineKind;
    /** The wall time is extrapolated from a sample of chunks. */
    sampled: boolean;
    chunksRun: number;
    measuredWallMs: number;
    note?: string;
  };
  run: BenchSide & {
    runId: string;
    dispatchMs: number;
    coldStarts: number;
    retries: number;
    speculated: number;
    speculationWins: number;
    attempts: number;
  };
  /** baseline wall / run wall */
  speedup: number;
  /**
   * Chunks that can run at once: min(concurrency, chunks), and on the local backend also the
   * pool's processes (chunks that wait on I/O can overlap more, so efficiency may pass 100%).
   */
  parallelism: number;
  /** speedup / parallelism */
  efficiency: number;
  /** Chunks whose winning attempt ran more than 2x the median chunk time. */
  stragglers: number;
  /** true: deeply equal; false: different; undefined: not compared (see `comparison`). */
  resultsEqual: boolean | undefined;
  comparison: string;
  cost: CostEstimate;
}

export interface BenchOutcome {
  report: BenchReport;
  runResult: RunResult;
  sequential?: SequentialResult;
}

function runMs(a: AttemptRecord): number {
  return (a.endedAt ?? a.returnedAt) - (a.startedAt ?? a.invokedAt);
}

/**
 * Chunks whose winning attempt ran more than `factor` x the median winning chunk time (and at
 * least `minExtraMs` longer than it, so 3 ms chunks among 1 ms ones do not count).
 */
export function countStragglers(attempts: readonly AttemptRecord[], factor = 2, minExtraMs = 10): number {
  const times = attempts.filter((a) => a.won).map(runMs);
  const median = quantile(times, 0.5);
  return times.filter((t) => t > factor * median && t - median >= minExtraMs).length;
}

/** Run the baseline, then the job on the target backend, and compare. Does not print. */
export async function runBench(job: string, opts: BenchOptions = {}): Promise<BenchOutcome> {
  const baselineKind = oneOf("baseline", opts.baseline ?? "sequential", BASELINES);
  if (opts.baselineSample !== undefined && baselineKind !== "sequential") throw new UsageError("--baseline-sample applies to --baseline sequential only");
  const arch = oneOf("arch", opts.arch ?? "x86_64", ARCHES);
  const backend = checkBackend(opts.backend);
  const notice = opts.onNotice ?? (() => {});
  const common = {
    ...(opts.chunks !== undefined ? { chunks: opts.chunks } : {}),
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.memory !== undefined ? { memory: opts.memory } : {}),
    ...(opts.speculate !== undefined ? { speculate: opts.speculate } : {}),
    ...(opts.store ? { store: opts.store } : {}),
    ...(opts.processes !== undefined ? { processes: opts.processes } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  };
  // Loaded here, not at start-up: they bring esbuild and the executor with them.
  const { run } = await import("../run/run.js");
  const { deepEqual, firstDifference, runSequential } = await import("./sequential.js");

  let sequential: SequentialResult | undefined;
  let baselineRun: RunResult | undefined;
  if (baselineKind === "sequential") {
    notice(`baseline: ${job}'s map over ${opts.baselineSample ? `${opts.baselineSample} evenly spaced chunks` : "every chunk"}, one after another in this process`);
    sequential = await runSequential(job, {
      ...(opts.chunks !== undefined ? { chunks: opts.chunks } : {}),
      ...(opts.baselineSample !== undefined ? { sample: opts.baselineSample } : {}),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
  } else {
    notice(`baseline: ${job} on the local backend`);
    baselineRun = await run(job, { ...common, backend: "local", onNotice: notice });
  }

  notice(`run: ${job} on ${backend}`);
  const res = await run(job, { ...common, backend, ...(opts.aws ? { aws: opts.aws } : {}), onNotice: notice });
  const s = res.summary;

  // Are the results the same?
  let resultsEqual: boolean | undefined;
  let comparison: string;
  if (sequential && !sequential.sampled) {
    resultsEqual = deepEqual(sequential.result, res.result);
    comparison = resultsEqual ? "results equal: the sequential and the parallel result are deeply equal" : `results DIFFER: ${firstDifference(sequential.result, res.result, "result")} (sequential vs ${backend})`;
  } else if (sequential) {
    const cmp = await compareSampledChunks(res.runId, sequential, backend, opts);
    resultsEqual = cmp.equal;
    comparison = cmp.text;
  } else {
    resultsEqual = deepEqual(baselineRun!.result, res.result);
    comparison = resultsEqual ? `results equal: the local and the ${backend} result are deeply equal` : `results DIFFER: ${firstDifference(baselineRun!.result, res.result, "result")} (local vs ${backend})`;
  }

  const chunks = s.chunks;
  const baselineWall = sequential ? sequential.wallMs : baselineRun!.summary.wallMs;
  const speedup = s.wallMs > 0 ? baselineWall / s.wallMs : 0;
  const parallelism = parallelismOf(backend, s.concurrency, chunks, opts.processes);
  const efficiency = speedup / parallelism;
  const memoryMb = opts.memory ?? DEFAULTS.memoryMb;
  const req = estimateS3Requests(res.attempts);
  const cost = estimateCost({ attempts: res.attempts, memoryMb, arch, s3Puts: req.puts, s3Gets: req.gets });

  const baseline: BenchReport["baseline"] = sequential
    ? {
        kind: "sequential",
        label: "sequential",
        wallMs: sequential.wallMs,
        measuredWallMs: sequential.measuredWallMs,
        sumChunkMs: sequential.sampled ? (sequential.sumChunkMs * sequential.chunks) / Math.max(1, sequential.ran.length) : sequential.sumChunkMs,
        chunkMs: chunkStats(sequential.chunkMs),
        sampled: sequential.sampled,
        chunksRun: sequential.ran.length,
        ...(sequential.sampled
          ? { note: `sampled: ran ${sequential.ran.length} of ${sequential.chunks} evenly spaced chunks and extrapolated the wall time (measured ${fmt(sequential.measuredWallMs)})` }
          : {}),
      }
    : {
        kind: "local",
        label: "local",
        wallMs: baselineRun!.summary.wallMs,
        measuredWallMs: baselineRun!.summary.wallMs,
        sumChunkMs: baselineRun!.summary.sumChunkMs,
        chunkMs: baselineRun!.summary.chunkMs,
        sampled: false,
        chunksRun: baselineRun!.summary.chunks,
      };
  const report: BenchReport = {
    job,
    chunks,
    backend: s.backend,
    concurrency: s.concurrency,
    baseline,
    run: {
      label: s.backend,
      runId: s.runId,
      wallMs: s.wallMs,
      sumChunkMs: s.sumChunkMs,
      chunkMs: s.chunkMs,
      dispatchMs: s.dispatchMs,
      coldStarts: s.coldStarts,
      retries: s.retries,
      speculated: s.speculated,
      speculationWins: s.speculationWins,
      attempts: res.attempts.length,
    },
    speedup,
    parallelism,
    efficiency,
    stragglers: countStragglers(res.attempts),
    resultsEqual,
    comparison,
    cost,
  };
  return { report, runResult: res, ...(sequential ? { sequential } : {}) };
}

/** How many chunks can run at once; see BenchReport.parallelism. */
export function parallelismOf(backend: BackendName, concurrency: number, chunks: number, processes?: number): number {
  const pool = backend === "local" ? localPoolSize(processes) : Infinity;
  return Math.max(1, Math.min(concurrency, chunks, pool));
}

/** With a sampled baseline there is no whole result to compare: compare the sampled chunks. */
async function compareSampledChunks(
  runId: string,
  seq: SequentialResult,
  backend: BackendName,
  opts: BenchOptions,
): Promise<{ equal: boolean | undefined; text: string }> {
  try {
    const { openStore } = await import("../compute/open.js");
    const { RunResults } = await import("../store/results.js");
    const { deepEqual, firstDifference } = await import("./sequential.js");
    const st = await openStore({ backend, cwd: opts.cwd ?? process.cwd(), ...(opts.store ? { store: opts.store } : {}), ...(opts.aws ? { aws: opts.aws } : {}) });
    try {
      const results = new RunResults(st.store, runId);
      for (const i of seq.ran) {
        const env = await results.envelope(i);
        if (!env) return { equal: undefined, text: `results not compared: the stored result of chunk ${i} is missing` };
        if (!deepEqual(seq.values[i], env.value)) {
          return { equal: false, text: `results DIFFER: ${firstDifference(seq.values[i], env.value, `chunk ${i}`)} (sequential vs ${backend})` };
        }
      }
      return { equal: true, text: `results equal for the ${seq.ran.length} sampled chunks (the whole result was not computed sequentially)` };
    } finally {
      await st.close();
    }
  } catch (err) {
    return { equal: undefined, text: `results not compared: ${(err as Error)?.message ?? String(err)}` };
  }
}
