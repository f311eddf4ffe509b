/**
 * `fanout bench job.ts --memory 1024,1769,3008 --sample 20`: a memory sweep, as AWS Lambda
 * Power Tuning and faast.js's cost analyzer do it. The same sample of chunks (the same
 * indexes, evenly spaced) runs once per memory tier; each tier's chunk times and estimated
 * cost are set side by side, and the cheapest tier whose mean chunk time stays within 10% of
 * the fastest is the one to use. On Lambda, CPU grows with memory, so time falls as cost per
 * second rises; locally and on the emulated stack memory is only a cap and changes no speed,
 * which the sweep says.
 */
import { estimateCost, estimateS3Requests, pricedAs, type Arch } from "./cost.js";
import { sampleIndices } from "./sequential.js";
import { UsageError } from "../errors.js";
import { checkBackend, positiveInt, type AwsOptions, type BackendName } from "../options.js";
import type { RunResult } from "../run/types.js";
import { attemptRunMs } from "../util/attempts.js";
import { chunkStats } from "../util/stats.js";

/** How much slower than the fastest tier a cheaper one may be and still be recommended. */
const SWEEP_WITHIN = 0.1;

export interface SweepOptions {
  /** The memory tiers to compare, MB (on AWS each must be deployed: `fanout deploy --memory`). */
  tiers: readonly number[];
  /** How many evenly spaced chunks run on each tier (default: every chunk). */
  sample?: number;
  chunks?: number;
  backend?: BackendName;
  concurrency?: number;
  arch?: Arch;
  store?: string;
  processes?: number;
  cwd?: string;
  aws?: AwsOptions;
  onNotice?: (line: string) => void;
}

/** One tier's figures over the sample. */
export interface SweepTier {
  memoryMb: number;
  runId: string;
  /** Chunk run times of the winning attempts (worker start to end), ms. */
  chunkMs: { mean: number; p50: number; p95: number; max: number };
  /** First invoke to last reply of the sample, ms. */
  wallMs: number;
  attempts: number;
  /** The highest peak RSS a worker reported during the sample, MB (absent when none did). */
  peakMb?: number;
  /** Estimated Lambda + S3 cost of the sample's invocations at this tier, USD. */
  cost: number;
  /** The same per chunk, USD. */
  costPerChunk: number;
}

export interface SweepReport {
  kind: "memory-sweep";
  job: string;
  backend: string;
  chunks: number;
  /** The chunk indexes every tier ran. */
  sample: number[];
  arch: Arch;
  tiers: SweepTier[];
  /** The tier with the lowest mean chunk time. */
  fastestMb: number;
  /** The cheapest tier whose mean chunk time is within `within` of the fastest's. */
  recommendedMb: number;
  within: number;
  /** Where the figures come from: measured on Lambda, or local/emulated (memory does not change speed there). */
  basis: string;
  costBasis: string;
}

/** The sweep's tiers, checked: at least two, distinct (the order given is kept). */
function checkTiers(tiers: readonly number[]): number[] {
  const list = [...new Set(tiers.map((mb) => positiveInt("memory", mb)))];
  if (list.length < 2) throw new UsageError("a memory sweep needs two or more tiers", "e.g. --memory 1024,1769,3008");
  return list;
}

/** Runs the sample on each tier, one tier after another, and compares them. Does not print. */
export async function runMemorySweep(job: string, opts: SweepOptions): Promise<{ report: SweepReport; runs: RunResult[] }> {
  const tiers = checkTiers(opts.tiers);
  const backend = checkBackend(opts.backend);
  if (opts.sample !== undefined) positiveInt("sample", opts.sample);
  const notice = opts.onNotice ?? (() => {});
  const measured: { memoryMb: number; res: RunResult }[] = [];
  let sample: number[] = [];
  let chunks = 0;
  for (const memoryMb of tiers) {
    const ran = await runTier(job, memoryMb, backend, opts, notice);
    chunks = ran.chunks;
    sample = ran.sample;
    measured.push({ memoryMb, res: ran.res });
  }
  // The deployed architecture on AWS, else what `fanout deploy` defaults to, unless --arch says.
  const { arch } = pricedAs(opts.arch ? { arch: opts.arch } : {}, measured[0]!.res.summary);
  const rows = measured.map(({ memoryMb, res }) => tierFigures(memoryMb, res, arch, sample.length));
  const { fastestMb, recommendedMb } = recommend(rows, SWEEP_WITHIN);
  const report: SweepReport = {
    kind: "memory-sweep",
    job,
    backend,
    chunks,
    sample,
    arch,
    tiers: rows,
    fastestMb,
    recommendedMb,
    within: SWEEP_WITHIN,
    basis: basisOf(backend),
    costBasis: `each tier's sample priced at that memory, ${arch}, from its own attempts (Lambda duration and requests, S3 requests), us-east-1 list prices`,
  };
  return { report, runs: measured.map((m) => m.res) };
}

/** One tier: a run planned as usual whose sample chunks alone are dispatched (no reduce). */
async function runTier(job: string, memoryMb: number, backend: BackendName, opts: SweepOptions, notice: (line: string) => void) {
  // Loaded here: they bring esbuild and the executor with them.
  const { prepareRun } = await import("../run/prepare.js");
  const { executeRun } = await import("../run/execute.js");
  const options = {
    backend,
    memory: memoryMb,
    // A chunk is measured once: no straggler copies to blur its time.
    speculate: false,
    ...(opts.chunks !== undefined ? { chunks: opts.chunks } : {}),
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.store ? { store: opts.store } : {}),
    ...(opts.processes !== undefined ? { processes: opts.processes } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.aws ? { aws: opts.aws } : {}),
    onNotice: notice,
  };
  const t0 = Date.now();
  const prepared = await prepareRun(job, options);
  try {
    const chunks = prepared.manifest.chunks;
    const sample = sampleIndices(chunks, opts.sample ?? chunks);
    notice(`memory sweep: ${memoryMb} MB, chunks ${sample.join(", ")} of ${chunks}`);
    // Marked, so `fanout status` shows it as the sample it is, not as a run missing chunks.
    prepared.manifest.sample = { indexes: sample, memoryMb };
    const res = await executeRun({ ...prepared, t0, options, only: sample, collect: false });
    return { res, chunks, sample };
  } finally {
    await prepared.close();
  }
}

function tierFigures(memoryMb: number, res: RunResult, arch: Arch, sampled: number): SweepTier {
  const times = res.attempts.filter((a) => a.won).map(attemptRunMs);
  const st = chunkStats(times);
  const mean = times.length ? times.reduce((a, b) => a + b, 0) / times.length : 0;
  const req = estimateS3Requests(res.attempts);
  const cost = estimateCost({ attempts: res.attempts, memoryMb, arch, s3Puts: req.puts, s3Gets: req.gets }).total;
  return {
    memoryMb,
    runId: res.runId,
    chunkMs: { mean, p50: st.p50, p95: st.p95, max: st.max },
    wallMs: sampleWallMs(res),
    attempts: res.attempts.length,
    ...(res.summary.memory ? { peakMb: res.summary.memory.maxMb } : {}),
    cost,
    costPerChunk: sampled ? cost / sampled : 0,
  };
}

/** From the sample's first invoke to its last reply (bundling and planning left out). */
function sampleWallMs(res: RunResult): number {
  if (res.attempts.length === 0) return 0;
  let first = Infinity;
  let last = 0;
  for (const a of res.attempts) {
    first = Math.min(first, a.invokedAt);
    last = Math.max(last, a.returnedAt);
  }
  return last - first;
}

/**
 * The fastest tier by mean chunk time, and the cheapest per chunk among those within `within`
 * of it (ties go to less memory). Pure.
 * @public tests import it from dist/, which knip cannot follow.
 */
export function recommend(rows: readonly Pick<SweepTier, "memoryMb" | "chunkMs" | "costPerChunk">[], within: number): { fastestMb: number; recommendedMb: number } {
  const fastest = rows.reduce((a, b) => (b.chunkMs.mean < a.chunkMs.mean ? b : a));
  const near = rows.filter((r) => r.chunkMs.mean <= fastest.chunkMs.mean * (1 + within));
  const cheapest = near.reduce((a, b) => (b.costPerChunk < a.costPerChunk || (b.costPerChunk === a.costPerChunk && b.memoryMb < a.memoryMb) ? b : a));
  return { fastestMb: fastest.memoryMb, recommendedMb: cheapest.memoryMb };
}

function basisOf(backend: BackendName): string {
  if (backend === "aws") return "measured on Lambda: each tier is its own deployed function, with CPU in proportion to its memory";
  if (backend === "emulated") return "emulated: every tier runs on this machine's CPU, so memory does not change speed here; the times are not Lambda's, the cost model is";
  return "local: memory is the workers' V8 heap cap here and does not change speed; the times are not Lambda's, the cost model is";
}
