/**
 * What a run would cost on AWS, estimated from its attempt records: Lambda duration
 * (GB-seconds, billed per 1 ms), Lambda requests, and S3 request charges. Storage, data
 * transfer, the free tier, volume tiers and Savings Plans are left out: this is the list-price
 * bill of one run, to compare configurations, not an invoice.
 */
import type { AttemptRecord } from "../types.js";

export type Arch = "x86_64" | "arm64";
export const ARCHES: readonly Arch[] = ["x86_64", "arm64"];

/** What `fanout deploy` deploys unless told otherwise (serverless.yml's defaults): the cost of a run not on Lambda is priced as if it were there. */
export const DEPLOY_DEFAULTS: Readonly<{ memoryMb: number; arch: Arch }> = Object.freeze({ memoryMb: 1769, arch: "arm64" });

/**
 * Memory and architecture to price a run at: the flags, else what the run found deployed
 * (preflight reads them on AWS), else what `fanout deploy` would deploy.
 */
export function pricedAs(flags: { memory?: number; arch?: Arch }, summary: { backend: string; memoryMb?: number; arch?: Arch }): { memoryMb: number; arch: Arch } {
  const onLambda = summary.backend === "aws";
  return {
    memoryMb: flags.memory ?? (onLambda && summary.memoryMb ? summary.memoryMb : DEPLOY_DEFAULTS.memoryMb),
    arch: flags.arch ?? (onLambda && summary.arch ? summary.arch : DEPLOY_DEFAULTS.arch),
  };
}

export interface Prices {
  /** When these prices were taken from the public price pages. */
  asOf: string;
  region: string;
  /** USD per GB-second of Lambda duration, first volume tier. */
  lambdaGbSecond: Record<Arch, number>;
  /** USD per Lambda request (invocation). */
  lambdaRequest: number;
  /** USD per S3 Standard PUT/COPY/POST/LIST request. */
  s3Put: number;
  /** USD per S3 Standard GET/SELECT (and other read) request. */
  s3Get: number;
}

/**
 * us-east-1 (N. Virginia) list prices, as published on aws.amazon.com/lambda/pricing and
 * aws.amazon.com/s3/pricing, checked 2025-06-01 (unchanged since arm64 launched in 2021).
 * Lambda duration: first tier (x86_64: first 6 billion GB-s a month; arm64: first 7.5 billion).
 */
export const PRICES_US_EAST_1: Prices = Object.freeze({
  asOf: "2025-06-01",
  region: "us-east-1",
  lambdaGbSecond: Object.freeze({ x86_64: 0.0000166667, arm64: 0.0000133334 }),
  /** $0.20 per 1M requests */
  lambdaRequest: 0.2 / 1_000_000,
  /** $0.005 per 1,000 requests */
  s3Put: 0.005 / 1000,
  /** $0.0004 per 1,000 requests */
  s3Get: 0.0004 / 1000,
}) as Prices;

/** What the cost model reads of an attempt. */
export type BilledAttempt = Pick<AttemptRecord, "invokedAt" | "startedAt" | "endedAt" | "returnedAt"> &
  Partial<Pick<AttemptRecord, "outcome" | "handlerMs" | "initMs">>;

export interface CostParams {
  /**
   * Every attempt of the run. Each one Lambda accepted is an invocation billed in full (lost
   * races, cancelled and abandoned ones too: Lambda runs a synchronous call to its end even
   * when the caller hangs up); a throttled one (429) never ran and costs nothing.
   */
  attempts: readonly BilledAttempt[];
  /**
   * The chunk timeout: an attempt the client gave up on without a reply ran until then. When
   * absent, such an attempt is billed as long as the client waited.
   */
  timeoutMs?: number;
  memoryMb: number;
  arch: Arch;
  s3Puts: number;
  s3Gets: number;
  /** Replaces any of the table's prices (e.g. another region, or a negotiated rate). */
  prices?: Partial<Omit<Prices, "lambdaGbSecond">> & { lambdaGbSecond?: Partial<Record<Arch, number>> };
  /**
   * Added to each attempt's billed time: bundle load and payload fetch happen in the handler
   * before the chunk starts and are billed, but are not in the attempt record. Default 0.
   */
  overheadMsPerAttempt?: number;
}

export interface CostEstimate {
  currency: "USD";
  pricesAsOf: string;
  region: string;
  memoryMb: number;
  arch: Arch;
  invocations: number;
  /** Sum over invocations of the billed duration (handler, plus INIT on a new environment), in whole ms. */
  billedMs: number;
  /** Of billedMs: the INIT phases of new environments. */
  initMs: number;
  /** Invocations billed without a reply (cancelled, abandoned or timed out on the client side): estimated. */
  estimated: number;
  gbSeconds: number;
  lambdaDuration: number;
  lambdaRequests: number;
  s3Puts: number;
  s3Gets: number;
  s3PutCost: number;
  s3GetCost: number;
  total: number;
  /** How the durations were taken, in one line, for the report. */
  basis: string;
}

/**
 * The billed duration of one invocation, at least 1 ms (0 for a throttled one, which never ran):
 * - Lambda's handler measured itself (`handlerMs`: bundle load, payload read, map, result PUT),
 *   plus its environment's INIT on a cold start (billed since August 2025);
 * - else the worker's chunk time (start..end) plus `overheadMs`, for runs that did not report
 *   a handler time (the local backend's, priced as if on Lambda);
 * - else, with no reply at all, the invocation ran on past the client: to the chunk timeout
 *   when one is known (a client-side timeout or an abandoned copy), else as long as the client
 *   waited (a crash, whose container died then).
 */
export function billedMsOf(a: BilledAttempt, overheadMs = 0, timeoutMs?: number): number {
  if (a.outcome === "throttled") return 0;
  let ms: number;
  if (a.handlerMs !== undefined) ms = a.handlerMs + (a.initMs ?? 0);
  else if (a.startedAt !== undefined && a.endedAt !== undefined) ms = a.endedAt - a.startedAt + overheadMs;
  else if (unanswered(a) && timeoutMs !== undefined) ms = Math.max(timeoutMs, a.returnedAt - a.invokedAt);
  else ms = a.returnedAt - a.invokedAt + overheadMs;
  return Math.max(1, Math.ceil(Math.max(0, ms)));
}

/** The client stopped waiting (cancel, lost race, its own timeout) while Lambda still ran the call. */
function unanswered(a: BilledAttempt): boolean {
  return a.outcome === "cancelled" || a.outcome === "timeout";
}

export function estimateCost(p: CostParams): CostEstimate {
  if (!Number.isFinite(p.memoryMb) || p.memoryMb <= 0) throw new RangeError(`memoryMb must be a positive number, got ${p.memoryMb}`);
  if (!ARCHES.includes(p.arch)) throw new RangeError(`arch must be x86_64 or arm64, got ${String(p.arch)}`);
  const base = PRICES_US_EAST_1;
  const o = p.prices ?? {};
  const prices: Prices = {
    asOf: o.asOf ?? base.asOf,
    region: o.region ?? base.region,
    lambdaGbSecond: { ...base.lambdaGbSecond, ...o.lambdaGbSecond },
    lambdaRequest: o.lambdaRequest ?? base.lambdaRequest,
    s3Put: o.s3Put ?? base.s3Put,
    s3Get: o.s3Get ?? base.s3Get,
  };
  let billedMs = 0;
  let initMs = 0;
  let estimated = 0;
  let invocations = 0;
  for (const a of p.attempts) {
    if (a.outcome === "throttled") continue;
    invocations++;
    billedMs += billedMsOf(a, p.overheadMsPerAttempt ?? 0, p.timeoutMs);
    initMs += a.handlerMs !== undefined ? (a.initMs ?? 0) : 0;
    if (a.handlerMs === undefined && a.endedAt === undefined && unanswered(a)) estimated++;
  }
  const gbSeconds = (p.memoryMb / 1024) * (billedMs / 1000);
  const lambdaDuration = gbSeconds * prices.lambdaGbSecond[p.arch];
  const lambdaRequests = invocations * prices.lambdaRequest;
  const s3PutCost = p.s3Puts * prices.s3Put;
  const s3GetCost = p.s3Gets * prices.s3Get;
  return {
    currency: "USD",
    pricesAsOf: prices.asOf,
    region: prices.region,
    memoryMb: p.memoryMb,
    arch: p.arch,
    invocations,
    billedMs,
    initMs,
    estimated,
    gbSeconds,
    lambdaDuration,
    lambdaRequests,
    s3Puts: p.s3Puts,
    s3Gets: p.s3Gets,
    s3PutCost,
    s3GetCost,
    total: lambdaDuration + lambdaRequests + s3PutCost + s3GetCost,
    basis: `${invocations} invocations at ${p.memoryMb} MB ${p.arch}, each billed for its whole handler (INIT of new environments included) rounded up to 1 ms${estimated ? `, ${estimated} without a reply billed to the chunk timeout` : ""}; ${prices.region} list prices as of ${prices.asOf}`,
  };
}

/**
 * The S3 requests a run makes, by fanout's key layout: each attempt that finished (ok or a
 * chunk error) PUTs one result or failure object; a run PUTs its bundle, payloads and manifest
 * (twice) and LISTs its results once; each cold start GETs the bundle; each attempt whose
 * payload is stored (not inline) GETs its slice; the client GETs results too large to ride in
 * the reply. Callers that know better pass their own counts to estimateCost.
 */
export function estimateS3Requests(
  attempts: readonly Pick<AttemptRecord, "outcome" | "coldStart">[],
  opts: { storedPayloads?: number; storedResults?: number } = {},
): { puts: number; gets: number } {
  let finished = 0;
  let cold = 0;
  for (const a of attempts) {
    if (a.outcome !== "cancelled" && a.outcome !== "transient" && a.outcome !== "throttled" && a.outcome !== "crash") finished++;
    if (a.coldStart) cold++;
  }
  return {
    puts: finished + 4 + 1,
    gets: cold + (opts.storedPayloads ?? 0) + (opts.storedResults ?? 0),
  };
}

/** "$0.000123" with enough digits to show a tiny cost. */
export function fmtUsd(usd: number): string {
  if (usd === 0) return "$0";
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  if (usd >= 0.01) return `$${usd.toFixed(4)}`;
  return `$${usd.toPrecision(3)}`;
}
