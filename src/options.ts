import * as os from "node:os";
import { UsageError } from "./errors.js";
import type { JobDefaults } from "./job/index.js";
import type { Progress, RunOptionsResolved } from "./types.js";

/** Where chunks run: a local worker pool, AWS Lambda, or the AWS code path on an emulated stack on loopback. */
export type BackendName = "local" | "aws" | "emulated";
const BACKENDS: readonly BackendName[] = ["local", "aws", "emulated"];

/** Where AWS runs go; every field falls back to flags, env and stack discovery. */
export interface AwsOptions {
  region?: string;
  profile?: string;
  stage?: string;
  functionName?: string;
  bucket?: string;
  /** Lambda and S3 endpoints, for the emulated stack or other compatible servers. */
  lambdaEndpoint?: string;
  s3Endpoint?: string;
}

/** What callers may set; anything left out comes from the job's defaults, then fanout's. */
export interface CommonOptions {
  concurrency?: number;
  /** Per-chunk timeout, seconds. */
  timeout?: number;
  retries?: number;
  /**
   * Worker memory, MB; a list (`--memory 512,2048`) names the tiers `oomRetry` may climb, the
   * first being where chunks start (on AWS each must be a deployed tier).
   */
  memory?: number | readonly number[];
  /** Rerun a chunk that runs out of memory on the next memory tier up (Lambda's deployed tiers; locally a larger heap). */
  oomRetry?: boolean;
  speculate?: boolean;
  backend?: BackendName;
  /** Folder of the local store, from cwd; default `.fanout` at the project root (the nearest folder up with a package.json, else cwd). */
  store?: string;
  /** Worker processes of the local backend; default one per core. */
  processes?: number;
  aws?: AwsOptions;
  /**
   * Variables set in the workers' process.env while this run's chunks run, over the job's
   * `defaults.env`. They travel in the tasks only: never in the manifest, logs or report.
   */
  env?: Record<string, string>;
  /**
   * Variables the workers read from a secret store with their own credentials (the Lambda
   * role; locally yours): name to `ssm:/parameter/path` or `secretsmanager:<name or ARN>`.
   */
  secrets?: Record<string, string>;
  cwd?: string;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** Lines for the user: the run id as it starts, fewer chunks than asked, and the like. */
  onNotice?: (line: string) => void;
}

const DEFAULTS = {
  chunks: 100,
  timeoutSec: 300,
  retries: 2,
  memoryMb: 1024,
  /** In-flight ceiling when none is given: Lambda's default regional concurrency. */
  maxConcurrency: 1000,
  /** Speculation pays off only with enough chunks to know what "slow" is. */
  speculateFrom: 20,
} as const;

/** Worker processes of the local backend's pool: as asked, else one per core. */
export function localPoolSize(processes?: number): number {
  return Math.max(1, processes ?? os.availableParallelism());
}

/** A plausible value to show in a hint, per option. */
const EXAMPLE: Record<string, number> = { chunks: 100, concurrency: 100, memory: 1024, retries: 2, timeout: 60, processes: 2, "baseline-sample": 8 };

function asNumber(value: unknown): unknown {
  return typeof value === "string" && value.trim() !== "" ? Number(value) : value;
}

function shown(value: unknown): string {
  return typeof value === "string" ? `"${value}"` : JSON.stringify(value) ?? String(value);
}

export function positiveInt(name: string, value: unknown): number {
  const n = asNumber(value);
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
    throw new UsageError(`--${name} must be a positive integer, got ${shown(value)}`, `e.g. --${name} ${EXAMPLE[name] ?? 100}`);
  }
  return n;
}

export function nonNegativeInt(name: string, value: unknown): number {
  const n = asNumber(value);
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
    throw new UsageError(`--${name} must be a whole number >= 0, got ${shown(value)}`, `e.g. --${name} ${EXAMPLE[name] ?? 2}`);
  }
  return n;
}

export function positiveNumber(name: string, value: unknown): number {
  const n = asNumber(value);
  if (typeof n !== "number" || !Number.isFinite(n) || n <= 0) {
    const unit = name === "timeout" ? " of seconds" : "";
    throw new UsageError(`--${name} must be a positive number${unit}, got ${shown(value)}`, `e.g. --${name} ${EXAMPLE[name] ?? 60}`);
  }
  return n;
}

/** A whole number from `lo` to `hi`, such as a Lambda limit (`fanout deploy --memory`). */
export function intInRange(name: string, value: unknown, lo: number, hi: number): number {
  const n = asNumber(value);
  if (typeof n !== "number" || !Number.isInteger(n) || n < lo || n > hi) {
    throw new UsageError(`--${name} must be a whole number from ${lo} to ${hi}, got ${shown(value)}`, `e.g. --${name} ${lo}`);
  }
  return n;
}

/**
 * `--memory` as tiers: one value or a comma-separated list ("1024,3008"), each checked by
 * `check`, in the order given with repeats dropped.
 */
export function memoryTiers(value: unknown, check: (name: string, v: unknown) => number = positiveInt): number[] {
  const items = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : [value];
  return [...new Set(items.map((v) => check("memory", typeof v === "string" ? v.trim() : v)))];
}

/** One of a fixed set of names (a backend, a baseline, an architecture). */
export function oneOf<T extends string>(what: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`unknown ${what} ${JSON.stringify(value)}`, `use one of: ${allowed.join(", ")}`);
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A duration such as 30m, 12h or 7d (also s and w), in ms. */
export function parseDuration(name: string, value: unknown): number {
  const m = typeof value === "string" ? /^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$/.exec(value) : null;
  if (!m) throw new UsageError(`--${name} must be a duration like 30m, 12h or 7d, got ${shown(value)}`, `e.g. --${name} 7d`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** The backend a run, bench or store command names; the one check behind every `--backend`. */
export function checkBackend(value: unknown): BackendName {
  return value === undefined ? "local" : oneOf("backend", value, BACKENDS);
}

/** `--max-failures`: a number of chunks, or a percentage of the run's chunks such as "1%". */
export type MaxFailures = number | `${number}%`;

/**
 * How many chunks may fail for good in a run of `chunks` while it still finishes as partial
 * (a percentage rounds down). Checks the value too: called with no chunks, it only checks.
 */
export function allowedFailures(value: unknown, chunks = 0): number {
  const m = typeof value === "string" ? /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value) : null;
  if (m && Number(m[1]) <= 100) return Math.floor((chunks * Number(m[1])) / 100);
  const n = asNumber(value);
  if (typeof n === "number" && Number.isInteger(n) && n >= 0) return n;
  throw new UsageError(`--max-failures must be a number of chunks or a percentage, got ${shown(value)}`, "e.g. --max-failures 5 or --max-failures 1%");
}

/** Merge flags over job defaults over fanout's defaults, checking each value once. */
export function resolveOptions(
  opts: CommonOptions & { chunks?: number },
  job: JobDefaults,
  chunksPlanned?: number,
): RunOptionsResolved {
  const chunks = chunksPlanned ?? positiveInt("chunks", opts.chunks ?? job.chunks ?? DEFAULTS.chunks);
  const concurrency = positiveInt(
    "concurrency",
    opts.concurrency ?? job.concurrency ?? Math.max(1, Math.min(chunks, DEFAULTS.maxConcurrency)),
  );
  return {
    chunks,
    concurrency,
    timeoutMs: Math.round(positiveNumber("timeout", opts.timeout ?? job.timeout ?? DEFAULTS.timeoutSec) * 1000),
    retries: nonNegativeInt("retries", opts.retries ?? job.retries ?? DEFAULTS.retries),
    ...memoryOf(opts, job),
    speculate: opts.speculate ?? chunks >= DEFAULTS.speculateFrom,
    retryUserErrors: job.retryErrors ?? false,
    ...(opts.oomRetry ? { oomRetry: true } : {}),
  };
}

/** The run's memory and, for a list, its tiers (ascending); the first value is where chunks start. */
function memoryOf(opts: CommonOptions, job: JobDefaults): Pick<RunOptionsResolved, "memoryMb" | "memoryTiers" | "memoryAsked"> {
  const asked = opts.memory ?? job.memory;
  const tiers = memoryTiers(asked ?? DEFAULTS.memoryMb);
  const memoryMb = tiers[0]!;
  return {
    memoryMb,
    ...(tiers.length > 1 ? { memoryTiers: tiers.filter((mb) => mb >= memoryMb).sort((a, b) => a - b) } : {}),
    ...(asked !== undefined ? { memoryAsked: true } : {}),
  };
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_REF = /^(ssm:\/\S+|secretsmanager:\S+)$/;

/** `NAME=value` of `--env`: the name and the value (which may hold "="). */
export function parseEnvFlag(value: string): [string, string] {
  const at = value.indexOf("=");
  const name = value.slice(0, Math.max(0, at));
  if (at < 0 || !VAR_NAME.test(name)) {
    throw new UsageError(`--env must be NAME=value with NAME made of letters, digits and _, got ${shown(value)}`, "e.g. --env API_URL=https://api.example.com");
  }
  return [name, value.slice(at + 1)];
}

/** `NAME=ssm:/path` or `NAME=secretsmanager:<id>` of `--secret`. */
export function parseSecretFlag(value: string): [string, string] {
  const at = value.indexOf("=");
  const name = value.slice(0, Math.max(0, at));
  const ref = value.slice(at + 1);
  if (at < 0 || !VAR_NAME.test(name) || !SECRET_REF.test(ref)) {
    throw new UsageError(`--secret must be NAME=ssm:/parameter/path or NAME=secretsmanager:<name or ARN>, got ${shown(value)}`, "e.g. --secret API_KEY=ssm:/myapp/api-key");
  }
  return [name, ref];
}

/** What a run's workers set in process.env: the job's env under the caller's, and the secrets to read. */
export interface RunVars {
  env?: Record<string, string>;
  secrets?: Record<string, string>;
}

/** The run's variables from the job's defaults and the options, each name and value checked. */
export function runVars(opts: Pick<CommonOptions, "env" | "secrets">, job: JobDefaults): RunVars {
  const env = { ...checkVars("env", job.env), ...checkVars("env", opts.env) };
  const secrets = checkVars("secret", opts.secrets);
  for (const [k, v] of Object.entries(secrets)) parseSecretFlag(`${k}=${v}`);
  return { ...(Object.keys(env).length ? { env } : {}), ...(Object.keys(secrets).length ? { secrets } : {}) };
}

function checkVars(flag: string, vars: unknown): Record<string, string> {
  if (vars === undefined) return {};
  if (vars === null || typeof vars !== "object") throw new UsageError(`${flag} must be an object of NAME: "value" strings, got ${shown(vars)}`, `e.g. ${flag}: { API_URL: "https://api.example.com" }`);
  for (const [k, v] of Object.entries(vars)) {
    if (typeof v !== "string") throw new UsageError(`${flag} ${k} must be a string, got ${shown(v)}`, `e.g. ${flag}: { ${k}: "${String(v)}" }`);
    if (flag === "env") parseEnvFlag(`${k}=${v}`);
  }
  return vars as Record<string, string>;
}
