import { logsCmd, resumeCmd, type RunRef } from "./util/follow-up.js";
import type { AttemptRecord, ErrorKind, RemoteError, RunSummary } from "./types.js";

/**
 * Every error fanout raises on purpose. `message` names the problem in one line, `hint` names
 * the fix; the CLI prints both on one line and exits with `exitCode`.
 */
export class FanoutError extends Error {
  override name = "FanoutError";
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: number;
  /** Set when the error ends a run that started: what was done, for `--json` and `--report`. */
  summary?: RunSummary;
  /** Every attempt at every chunk until the run ended (RunResult.attempts of a run that failed). */
  attemptLog?: AttemptRecord[];
  constructor(code: string, message: string, opts: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 1;
  }
}

/** A bad flag, option or argument. */
export class UsageError extends FanoutError {
  override name = "UsageError";
  constructor(message: string, hint?: string) {
    super("E_USAGE", message, { hint, exitCode: 2 });
  }
}

/** The job module cannot be found, bundled, imported, or is not a job. */
export class JobLoadError extends FanoutError {
  override name = "JobLoadError";
  constructor(message: string, hint?: string, cause?: unknown) {
    super("E_JOB", message, { hint, exitCode: 2, cause });
  }
}

/**
 * The RemoteError code of a chunk denied its input by the worker's role (src/store/s3-data.ts):
 * every chunk reading there would be denied alike, so the run stops at the first one.
 */
export const INPUT_DENIED = "E_INPUT_DENIED";

/**
 * The RemoteError code of a chunk that found gzip bytes in an object planned as plain text (a
 * large listing decides gzip by the .gz suffix): the other chunks' byte ranges of it would be
 * compressed bytes read as lines, so the run stops at once (src/plan/objects.ts).
 */
export const INPUT_GZIP = "E_INPUT_GZIP";

/** Something the platform needs is missing: credentials, a deployed stack, a tool. */
export class ConfigError extends FanoutError {
  override name = "ConfigError";
  constructor(message: string, hint?: string, cause?: unknown) {
    super("E_CONFIG", message, { hint, exitCode: 3, cause });
  }
}

/**
 * The platform refused fanout's AWS identity an action it needs (a 403 AccessDeniedException):
 * every chunk would be refused the same way, so the run stops at once. `action` and
 * `resource` name the grant to add, e.g. lambda:InvokeFunction on the worker function.
 */
export class AccessDeniedError extends FanoutError {
  override name = "AccessDeniedError";
  readonly action: string;
  readonly resource: string;
  constructor(action: string, resource: string, cause?: unknown) {
    super("E_ACCESS", `AWS denied ${action} on ${resource}`, {
      hint: `allow ${action} on ${resource} in the IAM policy of the user or role that runs fanout`,
      exitCode: 3,
      cause,
    });
    this.action = action;
    this.resource = resource;
  }
}

/** A run id that the store does not know, or a resume that does not match its run. */
export class RunNotFoundError extends FanoutError {
  override name = "RunNotFoundError";
  constructor(runId: string, where: string) {
    super("E_NO_RUN", `no run "${runId}" in ${where}`, {
      hint: "list runs with `fanout status`, or point --store/--backend at where the run was made",
      exitCode: 2,
    });
  }
}

/** A chunk failed for good; `remote` carries the worker-side error and stack. */
export class ChunkFailedError extends FanoutError {
  override name = "ChunkFailedError";
  readonly index: number;
  readonly remote: RemoteError;
  readonly attempts: number;
  readonly runId: string;
  /** Set when the run ends: how many chunks failed in all. */
  failedChunks = 1;
  /** `ref` names the job and flags, so the hint is a command that works as printed. */
  constructor(index: number, remote: RemoteError, attempts: number, ref: RunRef | string) {
    const r = typeof ref === "string" ? { runId: ref } : ref;
    super(`E_CHUNK_${remote.kind.toUpperCase()}`, `chunk ${index} failed: ${describeRemote(remote)}`, {
      hint: secretHint(remote.code, r) ?? assetHint(remote.code) ?? hintFor(remote.kind, r, index),
      exitCode: 1,
    });
    this.index = index;
    this.remote = remote;
    this.attempts = attempts;
    this.runId = r.runId;
  }
}

/**
 * More chunks failed for good than `maxFailures` (`--max-failures`) allows: the run fails as
 * it would without the option, naming its first failed chunk.
 */
export class TooManyFailuresError extends ChunkFailedError {
  override name = "TooManyFailuresError";
  constructor(index: number, remote: RemoteError, attempts: number, ref: RunRef, allowed: number) {
    super(index, remote, attempts, ref);
    this.message = `more chunks failed than --max-failures ${allowed} allows; ${this.message}`;
  }
}

/** The run was cancelled through its AbortSignal (or Ctrl-C). */
export class RunAbortedError extends FanoutError {
  override name = "RunAbortedError";
  readonly runId: string;
  constructor(ref: RunRef, reason?: unknown) {
    super("E_ABORTED", `run ${ref.runId} was cancelled${reason instanceof Error ? `: ${reason.message}` : ""}`, {
      hint: `finished chunks are kept; resume with: ${resumeCmd(ref)}`,
      exitCode: 130,
    });
    this.runId = ref.runId;
  }
}

/**
 * A failure of the infrastructure around a chunk rather than of the chunk's code, raised by
 * backends. The executor retries these within --retries; outages have a budget of their own,
 * and a 429 ("throttled") is never charged: it lowers the run's in-flight limit instead.
 */
export class InfraError extends Error {
  override name = "InfraError";
  readonly kind: ErrorKind;
  /** The chunk was a bystander: it shared a process that another chunk crashed, so the failure is not its fault. */
  readonly bystander: boolean;
  /** For "throttled": how long the platform asked the client to wait (Retry-After), when it said. */
  readonly retryAfterMs: number | undefined;
  /**
   * Every chunk would fail the same way (access denied, a function that cannot start): the run
   * stops at once with this error instead of retrying chunk by chunk.
   */
  readonly fatal: FanoutError | undefined;
  constructor(kind: ErrorKind, message: string, opts: { bystander?: boolean; retryAfterMs?: number; fatal?: FanoutError; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.kind = kind;
    this.bystander = opts.bystander ?? false;
    this.retryAfterMs = opts.retryAfterMs;
    this.fatal = opts.fatal;
  }
}

/**
 * The wait a throttling error asks for, in ms: the SDK puts Lambda's `Retry-After` header (in
 * seconds) on TooManyRequestsException as `retryAfterSeconds`. An HTTP-date form, or none: undefined.
 */
export function retryAfterMsOf(err: unknown): number | undefined {
  const seconds = Number((err as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds);
  return seconds > 0 ? seconds * 1000 : undefined;
}

function describeRemote(e: RemoteError): string {
  const label = e.kind === "user" ? e.name : e.kind === "oom" ? "out of memory" : e.kind;
  return `${label}: ${e.message}`.replace(/\s*\n\s*/g, " ");
}

/** A worker that could not read a run's secret: set up the secret or the grant, then go on. */
function secretHint(code: string | undefined, ref: RunRef): string | undefined {
  const rest = `then run the rest with the same --env and --secret flags: ${resumeCmd(ref)}`;
  if (code === "E_SECRET_NOT_FOUND") return `create it in the workers' region (\`aws ssm put-parameter --type SecureString\`) or fix --secret, ${rest}`;
  if (code === "E_SECRET_DENIED") return `grant the workers' role its path with \`fanout deploy --secrets <prefix>\` (locally, your AWS identity needs ssm:GetParameter), ${rest}`;
  return undefined;
}

/** A stored asset whose bytes changed: the same run would read them again, so a new run uploads the file anew. */
function assetHint(code: string | undefined): string | undefined {
  if (code === "E_ASSET_CHANGED") return "delete that object from the store, then start a new run (it uploads the job's file again)";
  return undefined;
}

function hintFor(kind: ErrorKind, ref: RunRef, index: number): string {
  switch (kind) {
    case "timeout":
      return `raise --timeout, or split the work with more --chunks; other results are kept: ${resumeCmd(ref)} --timeout <seconds>`;
    case "oom":
      // On Lambda the memory is the deployed function's: a run's --memory cannot change it.
      if (/--backend (aws|emulated)/.test(ref.flags ?? "")) {
        return `deploy a larger memory tier with \`fanout deploy --memory <mb>,<larger mb>\` and rerun such chunks on it with --oom-retry, or use more --chunks so each holds less; other results are kept: ${resumeCmd(ref)} --oom-retry`;
      }
      return `raise --memory (or add --oom-retry to rerun such chunks with a larger heap), or use more --chunks so each holds less; other results are kept: ${resumeCmd(ref)} --memory <mb>`;
    case "throttled":
      return `the platform has no concurrency to spare for the function: check its reserved concurrency and the account's quota (Service Quotas), then run the rest: ${resumeCmd(ref)}`;
    case "serialize":
      return `return plain JSON data from map (no functions, symbols, BigInts or cycles), then run the rest: ${resumeCmd(ref, true)}`;
    default:
      // The same code would fail the same way: the way on is to fix the job and run the rest with the new build.
      return `see \`${logsCmd(ref, index)}\` (stack with --verbose); fix the job, then run the rest, keeping other results: ${resumeCmd(ref, true)}`;
  }
}

/** Turn anything thrown into a RemoteError, keeping the stack as text. */
export function toRemoteError(err: unknown, kind: ErrorKind = "user"): RemoteError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      kind,
      name: err.name || "Error",
      message: err.message,
      ...(err.stack ? { stack: err.stack } : {}),
      ...(typeof code === "string" ? { code } : {}),
    };
  }
  return { kind, name: "NonError", message: `threw a non-Error value: ${safeString(err)}` };
}

function safeString(v: unknown): string {
  try {
    return typeof v === "string" ? JSON.stringify(v) : String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}
