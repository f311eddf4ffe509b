/**
 * `fanout bench <job>`: run a job against a baseline (the same map over every chunk in this
 * process, one after another; or the local backend), check both give the same result, and
 * print what the parallel run bought: speedup, efficiency, where the time went, and what the
 * run would cost on Lambda.
 */
import * as fs from "node:fs";
import { Command, Option } from "commander";
import { ARCHES, estimateCost, estimateS3Requests, fmtUsd, type Arch, type CostEstimate } from "../src/bench/cost.js";
import { FanoutError, UsageError } from "../src/errors.js";
import { chunkStats, quantile, type ChunkStats } from "../src/util/stats.js";
import { checkBackend, DEFAULTS, localPoolSize, oneOf, positiveInt, type AwsOptions, type BackendName } from "../src/options.js";
import { addBackendOptions, awsOptionsFrom, flag } from "./common.js";
import type { ReportCompare } from "../src/report/report.js";
import type { RunResult } from "../src/run/run.js";
import type { SequentialResult } from "../src/bench/sequential.js";
import type { AttemptRecord } from "../src/types.js";
import { fmtMs as fmt } from "../src/util/format.js";

export type BaselineKind = "sequential" | "local";
const BASELINES: readonly BaselineKind[] = ["sequential", "local"];

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

export type { ChunkStats };

export interface BenchSide {
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
  const { run } = await import("../src/run/run.js");
  const { deepEqual, firstDifference, runSequential } = await import("../src/bench/sequential.js");

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
    const { openStore } = await import("../src/compute/open.js");
    const { RunResults } = await import("../src/store/results.js");
    const { deepEqual, firstDifference } = await import("../src/bench/sequential.js");
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

interface BenchFlags {
  chunks?: string;
  backend?: string;
  baseline?: string;
  baselineSample?: string;
  concurrency?: string;
  memory?: string;
  arch?: string;
  speculate?: boolean;
  store?: string;
  processes?: string;
  json?: boolean;
  report?: string;
  quiet?: boolean;
  region?: string;
  profile?: string;
  stage?: string;
  function?: string;
  bucket?: string;
}

/** Turn parsed flags into BenchOptions (exported for tests). */
export function benchOptionsFrom(flags: BenchFlags): BenchOptions {
  const baseline = oneOf("baseline", flags.baseline ?? "sequential", BASELINES);
  const arch = oneOf("arch", flags.arch ?? "x86_64", ARCHES);
  const chunks = flag(positiveInt, "chunks", flags.chunks);
  const sample = flag(positiveInt, "baseline-sample", flags.baselineSample);
  const concurrency = flag(positiveInt, "concurrency", flags.concurrency);
  const memory = flag(positiveInt, "memory", flags.memory);
  const processes = flag(positiveInt, "processes", flags.processes);
  const aws = awsOptionsFrom(flags);
  return {
    backend: checkBackend(flags.backend),
    baseline,
    arch,
    ...(chunks !== undefined ? { chunks } : {}),
    ...(sample !== undefined ? { baselineSample: sample } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(memory !== undefined ? { memory } : {}),
    ...(flags.speculate === false ? { speculate: false } : {}),
    ...(flags.store ? { store: flags.store } : {}),
    ...(processes !== undefined ? { processes } : {}),
    aws,
  };
}

const BENCH_HELP = `
Examples:
  $ fanout bench examples/primes.ts --chunks 64
  $ fanout bench examples/pi.ts --chunks 360 --baseline-sample 8 --report pi.html
  $ fanout bench job.ts --chunks 1000 --backend aws --baseline local --memory 1769 --arch arm64 --json

The sequential baseline runs the job's map over every chunk in this process, one after
another, with the chunks resolved exactly as the workers get them; --baseline-sample K runs
only K evenly spaced chunks and extrapolates the wall time (said in the output). Both results
must be deeply equal: a mismatch exits with status 1.`;

export function registerBench(program: Command): void {
  const cmd = program
    .command("bench")
    .description("run a job in parallel and against a baseline; print speedup, efficiency, time breakdown and estimated AWS cost")
    .argument("<job>", "the job module (.ts or .js) whose default export is defineJob({...})")
    .option("-n, --chunks <n>", "split the input into n chunks (default: the job's, else 100)")
    .addOption(new Option("--baseline <kind>", "what to compare against").choices(["sequential", "local"]).default("sequential"))
    .option("--baseline-sample <k>", "sequential baseline: run only k evenly spaced chunks and extrapolate")
    .option("-c, --concurrency <n>", "chunks in flight at once (default: all, up to 1000)")
    .option("-m, --memory <mb>", "worker memory in MB, also used for the cost estimate (default 1024)")
    .addOption(new Option("--arch <arch>", "Lambda architecture for the cost estimate").choices(["x86_64", "arm64"]).default("x86_64"))
    .option("--no-speculate", "do not rerun stragglers in the parallel run")
    .option("--processes <n>", "local worker processes (default: one per core)")
    .option("--json", "print the figures as one JSON object on stdout")
    .option("--report <file.html>", "write a self-contained HTML report of the run with the baseline comparison")
    .option("-q, --quiet", "no progress lines on stderr");
  // The same backend flags as run, so a bad --backend gets the same one error (checkBackend).
  addBackendOptions(cmd).addHelpText("after", BENCH_HELP).action(benchAction);
}

async function benchAction(job: string, flags: BenchFlags): Promise<void> {
  const opts = benchOptionsFrom(flags);
  const say = flags.quiet ? () => {} : (l: string) => process.stderr.write(`${l}\n`);
  const { report, runResult } = await runBench(job, { ...opts, onNotice: say });
  if (flags.report) {
    const compare: ReportCompare = {
      label: report.baseline.kind === "sequential" ? "sequential, in-process" : "local backend",
      wallMs: report.baseline.wallMs,
      sumChunkMs: report.baseline.sumChunkMs,
      ...(report.baseline.sampled ? { sample: { ran: report.baseline.chunksRun, chunks: report.chunks } } : {}),
      ...(report.resultsEqual !== undefined ? { resultsEqual: report.resultsEqual } : {}),
      note: report.comparison,
    };
    const { renderReport } = await import("../src/report/report.js");
    fs.writeFileSync(
      flags.report,
      renderReport({ summary: runResult.summary, attempts: runResult.attempts, title: `fanout bench ${job}`, job, compare, cost: report.cost }),
    );
    say(`report: ${flags.report}`);
  }
  const out = flags.json ? JSON.stringify(report) + "\n" : benchTable(report).join("\n") + "\n";
  await new Promise<void>((resolve) => process.stdout.write(out, () => resolve()));
  if (report.resultsEqual === false) {
    throw new FanoutError("E_BENCH_MISMATCH", `the ${report.backend} result differs from the ${report.baseline.kind} baseline: ${report.comparison}`, {
      hint: "the job's map or reduce is not deterministic, or depends on where it runs",
      exitCode: 1,
    });
  }
}

