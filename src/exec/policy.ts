import { ConfigError, InfraError, INPUT_DENIED, INPUT_GZIP, type FanoutError } from "../errors.js";
import { backoffMs } from "../util/backoff.js";
import type { RemoteError, Reply } from "../types.js";

/** What went wrong with one attempt, as far as the retry decision needs to know. */
export interface Failure {
  /** The chunk's own code or result is at fault (a failed reply), not the platform around it. */
  chunkAtFault: boolean;
  /** The chunk shared a process that another chunk crashed: the failure is not its own. */
  bystander: boolean;
  /** What the chunk fails with if it fails for good. */
  error: RemoteError;
}

/** The retry budgets one chunk has spent so far. */
export interface RetryState {
  /** Retries charged to --retries (crashes, timeouts, and user errors under --retry-user-errors). */
  retriesUsed: number;
  /** Retries after store or network outages. */
  outagesUsed: number;
  /** Free reruns in a process of its own after a crash the chunk was a bystander to. */
  isolatedReruns: number;
  /** Which of RetrySettings.oomTiers the chunk runs on now (0: the run's own memory). */
  tier: number;
}

/** A budget a retry is charged to: the counter in RetryState it increments. */
type RetryBudget = "retriesUsed" | "outagesUsed";

interface BackoffCurve {
  baseMs: number;
  capMs: number;
}

export interface RetrySettings {
  /** --retries: the charged budget. */
  retries: number;
  retryUserErrors: boolean;
  maxOutages: number;
  maxIsolatedReruns: number;
  backoff: Record<RetryBudget, BackoffCurve>;
  /** The jitter's source; tests pass a constant to get exact delays. */
  random: () => number;
  /**
   * `--oom-retry`: the memory tiers in MB an out-of-memory chunk climbs, ascending, the first
   * being the run's own memory. Unset (or one tier): an OOM is retried like a crash.
   */
  oomTiers?: readonly number[];
}

export type RetryDecision =
  | { action: "retry"; afterMs: number; budget: RetryBudget }
  | { action: "rerun-isolated" }
  /** Out of memory with a larger tier left (`--oom-retry`): rerun on tier `tier` (`memoryMb`), free. */
  | { action: "escalate"; tier: number; memoryMb: number }
  | { action: "requeue" }
  /** The platform refused to start the chunk (429): requeue after the run's throttle pause, free. */
  | { action: "throttled" }
  | { action: "fail"; error: RemoteError };

/** The fixed budgets and curves; --retries and --retry-user-errors come from the run. */
export const DEFAULT_RETRY_SETTINGS: Omit<RetrySettings, "retries" | "retryUserErrors" | "oomTiers"> = {
  // About a minute of backoff: store or network outages usually pass in that time.
  maxOutages: 10,
  maxIsolatedReruns: 3,
  backoff: {
    retriesUsed: { baseMs: 200, capMs: 30_000 },
    outagesUsed: { baseMs: 500, capMs: 10_000 },
  },
  random: Math.random,
};

export function newRetryState(): RetryState {
  return { retriesUsed: 0, outagesUsed: 0, isolatedReruns: 0, tier: 0 };
}

/** Classifies an attempt's result that is not a success: a failed reply or an InfraError. */
export function failureOf(result: Reply | InfraError): Failure {
  if (result instanceof InfraError) {
    // The stack of an InfraError is this process's, not the chunk's: leave it out.
    return { chunkAtFault: false, bystander: result.bystander, error: { kind: result.kind, name: result.name, message: result.message } };
  }
  const error = result.error ?? { kind: "user", name: "Error", message: "chunk failed" };
  if (error.kind === "user" || error.kind === "serialize") return { chunkAtFault: true, bystander: false, error };
  // The worker stopped the chunk itself (its timer, say): a platform outcome, retried as one.
  return { chunkAtFault: false, bystander: false, error: { kind: error.kind, name: "InfraError", message: error.message } };
}

/** Chunk errors that every chunk would meet alike, or that make the whole plan wrong, so retrying or going on is pointless. */
const RUN_STOPPING_CODES = new Set([INPUT_DENIED, INPUT_GZIP]);

/**
 * The error that stops the whole run, if this attempt's outcome is one: a platform answer no
 * chunk can get past (access denied, a function that cannot start), or a chunk denied its
 * input by the worker's role. Its message carries the fix after " — ", which becomes the hint.
 */
export function fatalOf(result: Reply | InfraError): FanoutError | undefined {
  if (result instanceof InfraError) return result.fatal;
  const code = result.error?.code;
  if (code === undefined || !RUN_STOPPING_CODES.has(code)) return undefined;
  const [problem, fix] = result.error!.message.split(" — ", 2);
  return new ConfigError(`chunk ${result.index}: ${problem}`, fix);
}

/** Decides what to do after a failed attempt. Pure: the caller charges the budget it names. */
export function decideRetry(failure: Failure, state: Readonly<RetryState>, settings: RetrySettings): RetryDecision {
  const { error } = failure;
  const retry = (budget: RetryBudget): RetryDecision => {
    const curve = settings.backoff[budget];
    return { action: "retry", budget, afterMs: backoffMs(state[budget] + 1, curve.baseMs, curve.capMs, settings.random) };
  };
  if (failure.chunkAtFault) {
    const retryable = settings.retryUserErrors && error.kind === "user" && state.retriesUsed < settings.retries;
    return retryable ? retry("retriesUsed") : { action: "fail", error };
  }
  if (error.kind === "cancelled") return { action: "requeue" };
  // A 429 says nothing about the chunk (it never started): never charged; the run-wide limit adapts instead (throttle.ts).
  if (error.kind === "throttled") return { action: "throttled" };
  if (failure.bystander && state.isolatedReruns < settings.maxIsolatedReruns) return { action: "rerun-isolated" };
  // Alone and still out of memory: more memory, not the same again, and never charged (the tiers bound it).
  const up = settings.oomTiers?.[state.tier + 1];
  if (error.kind === "oom" && up !== undefined) return { action: "escalate", tier: state.tier + 1, memoryMb: up };
  if (error.kind === "transient" && state.outagesUsed < settings.maxOutages) return retry("outagesUsed");
  if (state.retriesUsed < settings.retries && error.kind !== "serialize") return retry("retriesUsed");
  return { action: "fail", error };
}
