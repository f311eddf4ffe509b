/**
 * `fanout bench` as a library: run a job against a baseline (the same map over every chunk in
 * this process, one after another; or the local backend), check both give the same result,
 * and measure what the parallel run bought: speedup, efficiency, where the time went, and
 * what the run would cost on Lambda. cli/commands/bench.ts parses the flags and prints.
 */
import { ARCHES, estimateCost, estimateS3Requests, pricedAs, type Arch, type CostEstimate } from "./cost.js";
import { UsageError } from "../errors.js";
import { chunkStats, quantile, type ChunkStats } from "../util/stats.js";
import { checkBackend, localPoolSize, oneOf, type AwsOptions, type BackendName } from "../options.js";
import type { RunResult } from "../run/types.js";
import type { SequentialResult } from "./sequential.js";
import type { Baseline } from "./compare.js";
import type { AttemptRecord } from "../types.js";
import { fmtMs as fmt } from "../util/format.js";
import { attemptRunMs } from "../util/attempts.js";

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

/**
 * Chunks whose winning attempt ran more than `factor` x the median winning chunk time (and at
 * least `minExtraMs` longer than it, so 3 ms chunks among 1 ms ones do not count).
 
 * @public tests import it from dist/, which knip cannot follow
 */
export function countStragglers(attempts: readonly AttemptRecord[], factor = 2, minExtraMs = 10): number {
  const times = attempts.filter((a) => a.won).map(attemptRunMs);
  const median = quantile(times, 0.5);
  return times.filter((t) => t > factor * median && t - median >= minExtraMs).length;
}

/** Run the baseline, then the job on the target backend, and compare. Does not print. */
export async function runBench(job: string, opts: BenchOptions = {}): Promise<BenchOutcome> {
  const baselineKind = oneOf("baseline", opts.baseline ?? "sequential", BASELINES);
  if (opts.baselineSample !== undefined && baselineKind !== "sequential") throw new UsageError("--baseline-sample applies to --baseline sequential only");
  const archFlag = opts.arch === undefined ? undefined : oneOf("arch", opts.arch, ARCHES);
  const backend = checkBackend(opts.backend);
  const notice = opts.onNotice ?? (() => {});
  // Loaded here, not at start-up: they bring esbuild and the executor with them.
  const { run } = await import("../run/run.js");
  const { compareResults } = await import("./compare.js");

  const baseline = await runBaseline(job, baselineKind, opts, notice);
  notice(`run: ${job} on ${backend}`);
  const res = await run(job, { ...runOptionsOf(opts), backend, ...(opts.aws ? { aws: opts.aws } : {}), onNotice: notice });
  const cmp = await compareResults(baseline, res, backend, opts);

  const s = res.summary;
  const side = baselineSide(baseline);
  const speedup = s.wallMs > 0 ? side.wallMs / s.wallMs : 0;
  const parallelism = parallelismOf(backend, s.concurrency, s.chunks, opts.processes);
  const req = estimateS3Requests(res.attempts);
  const priced = pricedAs({ ...(opts.memory !== undefined ? { memory: opts.memory } : {}), ...(archFlag ? { arch: archFlag } : {}) }, s);
  const cost = estimateCost({ attempts: res.attempts, ...priced, ...(s.timeoutMs ? { timeoutMs: s.timeoutMs } : {}), s3Puts: req.puts, s3Gets: req.gets });
  const report: BenchReport = {
    job,
    chunks: s.chunks,
    backend: s.backend,
    concurrency: s.concurrency,
    baseline: side,
    run: runSide(res),
    speedup,
    parallelism,
    efficiency: speedup / parallelism,
    stragglers: countStragglers(res.attempts),
    resultsEqual: cmp.equal,
    comparison: cmp.text,
    cost,
  };
  return { report, runResult: res, ...(baseline.kind === "sequential" ? { sequential: baseline.seq } : {}) };
}

/** The options both the baseline's local run and the measured run get. */
function runOptionsOf(opts: BenchOptions) {
  return {
    ...(opts.chunks !== undefined ? { chunks: opts.chunks } : {}),
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.memory !== undefined ? { memory: opts.memory } : {}),
    ...(opts.speculate !== undefined ? { speculate: opts.speculate } : {}),
    ...(opts.store ? { store: opts.store } : {}),
    ...(opts.processes !== undefined ? { processes: opts.processes } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  };
}

async function runBaseline(job: string, kind: BaselineKind, opts: BenchOptions, notice: (line: string) => void): Promise<Baseline> {
  if (kind === "local") {
    notice(`baseline: ${job} on the local backend`);
    const { run } = await import("../run/run.js");
    return { kind, run: await run(job, { ...runOptionsOf(opts), backend: "local", onNotice: notice }) };
  }
  notice(`baseline: ${job}'s map over ${opts.baselineSample ? `${opts.baselineSample} evenly spaced chunks` : "every chunk"}, one after another in this process`);
  const { runSequential } = await import("./sequential.js");
  const seq = await runSequential(job, {
    ...(opts.chunks !== undefined ? { chunks: opts.chunks } : {}),
    ...(opts.baselineSample !== undefined ? { sample: opts.baselineSample } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  return { kind, seq };
}

function baselineSide(b: Baseline): BenchReport["baseline"] {
  if (b.kind === "local") {
    const s = b.run.summary;
    return { kind: "local", label: "local", wallMs: s.wallMs, measuredWallMs: s.wallMs, sumChunkMs: s.sumChunkMs, chunkMs: s.chunkMs, sampled: false, chunksRun: s.chunks };
  }
  const seq = b.seq;
  return {
    kind: "sequential",
    label: "sequential",
    wallMs: seq.wallMs,
    measuredWallMs: seq.measuredWallMs,
    sumChunkMs: seq.sampled ? (seq.sumChunkMs * seq.chunks) / Math.max(1, seq.ran.length) : seq.sumChunkMs,
    chunkMs: chunkStats(seq.chunkMs),
    sampled: seq.sampled,
    chunksRun: seq.ran.length,
    ...(seq.sampled ? { note: `sampled: ran ${seq.ran.length} of ${seq.chunks} evenly spaced chunks and extrapolated the wall time (measured ${fmt(seq.measuredWallMs)})` } : {}),
  };
}

function runSide(res: RunResult): BenchReport["run"] {
  const s = res.summary;
  return {
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
  };
}

/** How many chunks can run at once; see BenchReport.parallelism. 
 * @public tests import it from dist/, which knip cannot follow
 */
export function parallelismOf(backend: BackendName, concurrency: number, chunks: number, processes?: number): number {
  const pool = backend === "local" ? localPoolSize(processes) : Infinity;
  return Math.max(1, Math.min(concurrency, chunks, pool));
}
