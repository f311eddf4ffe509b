/**
 * `fanout bench <job>`: the flags and the printing. The measuring is src/bench/bench.ts.
 */
import { Command, Option } from "commander";
import { ARCHES } from "../../src/bench/cost.js";
import { FanoutError, UsageError } from "../../src/errors.js";
import { checkBackend, memoryTiers, oneOf, positiveInt } from "../../src/options.js";
import type { ReportCompare } from "../../src/report/report.js";
import { BASELINES, runBench, type BenchOptions, type BenchReport } from "../../src/bench/bench.js";
import { benchTable } from "../../src/bench/table.js";
import { addBackendOptions, awsOptionsFrom, flag, writeStdout, type BackendFlags } from "../common.js";
import { say } from "../render.js";

interface BenchFlags extends BackendFlags {
  chunks?: string;
  baseline?: string;
  baselineSample?: string;
  concurrency?: string;
  memory?: string;
  sample?: string;
  arch?: string;
  speculate?: boolean;
  processes?: string;
  json?: boolean;
  report?: string;
  quiet?: boolean;
}

/** Turn parsed flags into BenchOptions (exported for tests). 
 * @public tests import it from dist/, which knip cannot follow
 */
export function benchOptionsFrom(flags: BenchFlags): BenchOptions {
  const baseline = oneOf("baseline", flags.baseline ?? "sequential", BASELINES);
  const arch = flags.arch === undefined ? undefined : oneOf("arch", flags.arch, ARCHES);
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
  $ fanout bench job.ts --backend aws --memory 1024,1769,3008 --sample 20   (memory sweep: deploy the tiers first)

The sequential baseline runs the job's map over every chunk in this process, one after
another, with the chunks resolved exactly as the workers get them; --baseline-sample K runs
only K evenly spaced chunks and extrapolates the wall time (said in the output). Both results
must be deeply equal: a mismatch exits with status 1.

A memory sweep (--memory with two or more tiers) runs the same chunks (--sample k evenly
spaced ones, else all) once per tier, prints each tier's chunk times and estimated cost, and
recommends the cheapest tier within 10% of the fastest. On AWS each tier is a deployed
function (fanout deploy --memory 1024,1769,3008); locally and on the emulated stack memory
does not change speed, which the output says.`;

export function registerBench(program: Command): void {
  const cmd = program
    .command("bench")
    .description("run a job in parallel and against a baseline; print speedup, efficiency, time breakdown and estimated AWS cost")
    .argument("<job>", "the job module (.ts or .js) whose default export is defineJob({...})")
    .option("-n, --chunks <n>", "split the input into n chunks (default: the job's, else 100)")
    .addOption(new Option("--baseline <kind>", "what to compare against").choices(["sequential", "local"]).default("sequential"))
    .option("--baseline-sample <k>", "sequential baseline: run only k evenly spaced chunks and extrapolate")
    .option("-c, --concurrency <n>", "chunks in flight at once (default: all, up to 1000)")
    .option("-m, --memory <mb>", "worker memory in MB, also used for the cost estimate (default 1024); a list 1024,1769,3008 runs a memory sweep instead of a baseline")
    .option("--sample <k>", "memory sweep: run only k evenly spaced chunks (the same ones) on each tier")
    .addOption(new Option("--arch <arch>", "Lambda architecture for the cost estimate (default: the deployed function's on AWS, else arm64 as fanout deploy)").choices(["x86_64", "arm64"]))
    .option("--no-speculate", "do not rerun stragglers in the parallel run")
    .option("--processes <n>", "local worker processes (default: one per core)")
    .option("--json", "print the figures as one JSON object on stdout")
    .option("--report <file.html>", "write a self-contained HTML report of the run with the baseline comparison")
    .option("-q, --quiet", "no progress lines on stderr");
  // The same backend flags as run, so a bad --backend gets the same one error (checkBackend).
  addBackendOptions(cmd).addHelpText("after", BENCH_HELP).action(benchAction);
}

/** The tiers of `--memory 1024,1769,3008`, when it lists more than one: a memory sweep. */
function sweepTiers(flags: BenchFlags): number[] | undefined {
  const tiers = flags.memory === undefined ? [] : memoryTiers(flags.memory);
  if (tiers.length > 1) return tiers;
  if (flags.sample !== undefined) throw new UsageError("--sample applies to a memory sweep only", "list the tiers to compare, e.g. --memory 1024,1769,3008 --sample 20");
  return undefined;
}

/** `fanout bench --memory 1024,1769,3008 [--sample k]`: each tier's time and cost, and the one to use. */
async function sweepAction(job: string, flags: BenchFlags, tiers: number[]): Promise<void> {
  const tell = flags.quiet ? () => {} : say;
  const { runMemorySweep } = await import("../../src/bench/sweep.js");
  const { sweepTable } = await import("../../src/bench/table.js");
  const sample = flag(positiveInt, "sample", flags.sample);
  const { backend, arch, chunks, concurrency, store, processes, aws } = benchOptionsFrom({ ...flags, memory: undefined });
  const { report, runs } = await runMemorySweep(job, {
    tiers,
    ...(sample !== undefined ? { sample } : {}),
    ...(backend ? { backend } : {}),
    ...(arch ? { arch } : {}),
    ...(chunks !== undefined ? { chunks } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(store ? { store } : {}),
    ...(processes !== undefined ? { processes } : {}),
    ...(aws ? { aws } : {}),
    onNotice: tell,
  });
  if (flags.report) {
    const { writeReport } = await import("../report-file.js");
    const shown = runs[report.tiers.findIndex((t) => t.memoryMb === report.recommendedMb)]!;
    writeReport(flags.report, { summary: shown.summary, attempts: shown.attempts, title: `fanout bench ${job} --memory ${tiers.join(",")}`, job, sweep: report }, tell);
  }
  await writeStdout(flags.json ? JSON.stringify(report) + "\n" : sweepTable(report).join("\n") + "\n");
}

async function benchAction(job: string, flags: BenchFlags): Promise<void> {
  const tiers = sweepTiers(flags);
  if (tiers) return sweepAction(job, flags, tiers);
  const opts = benchOptionsFrom(flags);
  const tell = flags.quiet ? () => {} : say;
  const { report, runResult } = await runBench(job, { ...opts, onNotice: tell });
  if (flags.report) {
    const { writeReport } = await import("../report-file.js");
    const input = { summary: runResult.summary, attempts: runResult.attempts, title: `fanout bench ${job}`, job, compare: reportCompare(report), cost: report.cost };
    writeReport(flags.report, input, tell);
  }
  await writeStdout(flags.json ? JSON.stringify(report) + "\n" : benchTable(report).join("\n") + "\n");
  if (report.resultsEqual === false) {
    throw new FanoutError("E_BENCH_MISMATCH", `the ${report.backend} result differs from the ${report.baseline.kind} baseline: ${report.comparison}`, {
      hint: "the job's map or reduce is not deterministic, or depends on where it runs",
      exitCode: 1,
    });
  }
}

/** The HTML report's baseline panel. */
function reportCompare(report: BenchReport): ReportCompare {
  return {
    label: report.baseline.kind === "sequential" ? "sequential, in-process" : "local backend",
    wallMs: report.baseline.wallMs,
    sumChunkMs: report.baseline.sumChunkMs,
    ...(report.baseline.sampled ? { sample: { ran: report.baseline.chunksRun, chunks: report.chunks } } : {}),
    ...(report.resultsEqual !== undefined ? { resultsEqual: report.resultsEqual } : {}),
    note: report.comparison,
  };
}
