/**
 * What a run would cost on AWS, estimated from its attempt records: Lambda duration
 * (GB-seconds, billed per 1 ms), Lambda requests, and S3 request charges. Storage, data
 * transfer, the free tier, volume tiers and Savings Plans are left out: this is the list-price
 * bill of one run, to compare configurations, not an invoice.
 */
import type { AttemptRecord } from "../types.js";

export type Arch = "x86_64" | "arm64";
export const ARCHES: readonly Arch[] = ["x86_64", "arm64"];

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

export interface CostParams {
  /** Every attempt of the run: each one is an invocation that was billed (lost races too). */
  attempts: readonly Pick<AttemptRecord, "invokedAt" | "startedAt" | "endedAt" | "returnedAt">[];
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
  /** Sum over attempts of the duration rounded up to whole milliseconds. */
  billedMs: number;
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
 * The billed duration of one attempt: the worker's own start..end when it replied, else what
 * the client saw (invoke to reply, an upper bound: it includes the network), at least 1 ms.
 */
export function billedMsOf(a: Pick<AttemptRecord, "invokedAt" | "startedAt" | "endedAt" | "returnedAt">, overheadMs = 0): number {
  const ms = a.startedAt !== undefined && a.endedAt !== undefined ? a.endedAt - a.startedAt : a.returnedAt - a.invokedAt;
  return Math.max(1, Math.ceil(Math.max(0, ms) + overheadMs));
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
  for (const a of p.attempts) billedMs += billedMsOf(a, p.overheadMsPerAttempt ?? 0);
  const gbSeconds = (p.memoryMb / 1024) * (billedMs / 1000);
  const lambdaDuration = gbSeconds * prices.lambdaGbSecond[p.arch];
  const invocations = p.attempts.length;
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
    gbSeconds,
    lambdaDuration,
    lambdaRequests,
    s3Puts: p.s3Puts,
    s3Gets: p.s3Gets,
    s3PutCost,
    s3GetCost,
    total: lambdaDuration + lambdaRequests + s3PutCost + s3GetCost,
    basis: `${invocations} invocations at ${p.memoryMb} MB ${p.arch}, chunk run time per attempt rounded up to 1 ms; ${prices.region} list prices as of ${prices.asOf}`,
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
