/**
 * The data that flows through a run, defined once. Every stage (planner, executor,
 * backends, worker, stores, CLI, report) speaks these shapes; anything that crosses a
 * process or network boundary is plain JSON.
 */

/** Where a worker finds the value of its chunk. */
export type ChunkSource =
  /** Small payloads travel inside the task itself, so a no-op chunk costs no store read. */
  | { kind: "inline"; value: unknown }
  /** A slice of the run's payload object (one object for all chunks, read with a ranged GET). */
  | { kind: "stored"; key: string; offset: number; length: number }
  /** Whole lines that start inside [start, end) of an uploaded input object. */
  | { kind: "lines"; key: string; start: number; end: number; size: number }
  /** Whole lines that start inside byte ranges of listed objects, read where they live. */
  | { kind: "object-lines"; parts: ObjectPart[] }
  /** The values of these chunk results of an earlier run in the same store (`fromRun`). */
  | { kind: "results"; runId: string; indexes: number[] };

/**
 * A byte range [start, end) of one listed object (`s3://` or `file://`), pinned to the etag
 * the run listed. A gzip part is always the whole object, read and unzipped by one chunk.
 */
export interface ObjectPart {
  url: string;
  etag: string;
  size: number;
  start: number;
  end: number;
  gzip?: boolean;
}

/** The objects an input listed when the run was planned: what every attempt must read. */
export interface InputListing {
  url: string;
  objects: { key: string; size: number; etag: string }[];
}

/** A file a job ships with `assets`: its store object (`inputs/<sha256>`), hash and size. */
export interface AssetRef {
  key: string;
  sha256: string;
  size: number;
}

/**
 * The packages a job's bundle imports by name at run time (`defaults.external`, or found to
 * load a compiled addon), and where the worker finds them. On Lambda and the emulated stack:
 * one archive in the store holding them installed for the function's platform, which the
 * worker fetches, checks and unpacks into its temp folder once per environment. On the
 * local backend: the user's own installed node_modules, under `root`.
 */
export interface DepsRef {
  /** Package name to version (the user's lockfile's). */
  packages: Record<string, string>;
  /** The client's project, whose node_modules holds them: what local workers import. */
  root: string;
  /** The archive (`bundles/deps-<sha256>.gz`, Lambda and the emulated stack): gzip of fanout's length-prefixed file stream. */
  key?: string;
  /** sha256 of the archive's unzipped stream: what it holds, and what the worker checks. */
  sha256?: string;
  /** What they were installed for, e.g. "linux-arm64". */
  platform?: string;
  /** Bytes of the stored (gzip'd) archive and of its files once unpacked (Lambda allows 250 MB unpacked). */
  packedBytes?: number;
  unpackedBytes?: number;
}

/** What every task of a run shares; sent to a local worker once per run, not per task. */
export interface TaskBase {
  v: 1;
  runId: string;
  count: number;
  bundle: { key: string; sha256: string };
  /** The export to call: "default" for a job, any name for `map()`. */
  export: string;
  timeoutMs: number;
  /** Results whose JSON is at most this many bytes come back inside the reply too. */
  inlineLimit: number;
  /** The S3 bucket of the run (Lambda); absent for the folder store. */
  bucket?: string;
  /**
   * Variables set in the worker's process.env while a chunk of this run runs (`defaults.env`,
   * `--env`). They travel only in the task, never in the manifest, logs or report.
   */
  env?: Record<string, string>;
  /** Variables the worker reads from a secret store with its own role: name to `ssm:/path` or `secretsmanager:<id>`. */
  secrets?: Record<string, string>;
  /** The job's assets by name (the path relative to the job file's folder); `ctx.asset(name)` gives the worker's local copy. */
  assets?: Record<string, AssetRef>;
  /** Where `ctx.write` puts objects: `s3://bucket/prefix/`, or an absolute folder path (local backend). */
  output?: string;
  /** Packages the bundle imports at run time, and where they are (see DepsRef). */
  deps?: DepsRef;
}

/**
 * One invocation of the worker handler for one chunk. Its result and failure keys follow
 * from runId and index (see keys.ts), so a retry or a duplicate writes the same object.
 */
export interface Task extends TaskBase {
  index: number;
  /** 1 for the first try; retries and speculative copies count up. */
  attempt: number;
  source: ChunkSource;
}

/** Why a chunk attempt failed. */
export type ErrorKind =
  /** the chunk's own code threw or rejected */
  | "user"
  /** the map result cannot be carried as JSON */
  | "serialize"
  | "timeout"
  | "oom"
  /** the worker process or container died */
  | "crash"
  /** the platform refused to start the chunk (429) */
  | "throttled"
  /** store or network trouble that a retry can fix */
  | "transient"
  | "cancelled";

/** An error as it crosses a boundary: the remote stack is kept as text. */
export interface RemoteError {
  kind: ErrorKind;
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

interface ChunkTiming {
  /** Epoch ms at which the worker began the chunk (after loading the bundle). */
  startedAt: number;
  endedAt: number;
  /** Time spent fetching and importing the job bundle for this invocation. */
  loadMs: number;
  /** True when this invocation had to load the bundle (a fresh process or container). */
  coldStart: boolean;
  /** When this invocation fetched, checked and unpacked the dependency archive (once per environment): how long that took, in ms. */
  depsMs?: number;
  /**
   * Lambda only: the whole handler, task in to reply out (bundle load, payload read, map,
   * result PUT): what Lambda bills for the invocation.
   */
  handlerMs?: number;
  /** Lambda only, on the first invocation of an environment: its INIT phase (process start to handler), billed since August 2025. */
  initMs?: number;
}

/** The most memory a chunk attempt's worker held, sampled while it ran (MB). */
export interface PeakMemory {
  /** Resident set size: the process's high-water mark (VmHWM on Linux) while the chunk ran. */
  peakRssMb: number;
  /** V8 heap in use, the highest sample. */
  peakHeapMb: number;
}

/** What a worker writes to the store for one chunk attempt, and (value permitting) replies. */
export interface ResultEnvelope {
  v: 1;
  runId: string;
  index: number;
  attempt: number;
  ok: boolean;
  /** Present when ok and the value is not `undefined`. */
  value?: unknown;
  error?: RemoteError;
  timing: ChunkTiming;
  logs: string[];
  worker: { platform: "local" | "lambda"; id: string; memoryMb?: number };
  /** sha256 of the job bundle that produced this envelope (a run resumed with --rebuild mixes builds). */
  bundleSha256?: string;
  /** The worker's peak memory during the chunk. */
  memory?: PeakMemory;
  /** What the chunk wrote with `ctx.write`, committed to these final keys when it succeeded. */
  outputs?: OutputRecord[];
}

/** One object a chunk wrote with `ctx.write`. */
export interface OutputRecord {
  name: string;
  /** The final key (`<prefix><runId>/<chunk>/<name>`) in the output bucket, or the path under the output folder. */
  key: string;
  bytes: number;
}

/**
 * What a worker returns to the caller: the envelope, except that a large value stays in the
 * store (`stored` = true) so replies fit IPC and Lambda response limits.
 */
export interface Reply extends ResultEnvelope {
  stored?: boolean;
  bytes: number;
}

/** How one attempt ended. */
export type ChunkOutcome = "ok" | ErrorKind;

/** One attempt at one chunk, as the executor saw it: the rows of the timeline. */
export interface AttemptRecord {
  index: number;
  attempt: number;
  speculative: boolean;
  /** Epoch ms: handed to the backend, worker start, worker end, reply seen by the client. */
  invokedAt: number;
  startedAt?: number;
  endedAt?: number;
  returnedAt: number;
  coldStart: boolean;
  outcome: ChunkOutcome;
  /** This attempt's result is the one the run used. */
  won: boolean;
  /** Lambda: the handler's own duration and, on a new environment, its INIT (see ChunkTiming). */
  handlerMs?: number;
  initMs?: number;
  /** The worker's peak memory during the attempt, when it replied. */
  memory?: PeakMemory;
  /** The memory tier the attempt ran on, when `--oom-retry` moved its chunk up from the run's memory (MB). */
  memoryMb?: number;
  /** When this attempt's worker fetched, checked and unpacked the dependency archive: how long it took (ms). */
  depsMs?: number;
}

export interface RunOptionsResolved {
  chunks: number;
  concurrency: number;
  timeoutMs: number;
  retries: number;
  memoryMb: number;
  /** `--memory 512,2048`: the tiers `--oom-retry` climbs, ascending from memoryMb. */
  memoryTiers?: number[];
  /** The memory was named (flag or job default), so on a stack with tiers it picks the tier. */
  memoryAsked?: boolean;
  /** `--oom-retry`: a chunk out of memory reruns on the next tier up. */
  oomRetry?: boolean;
  speculate: boolean;
  retryUserErrors: boolean;
  /** Chunks that may fail for good while the run still finishes, as `partial` (`--max-failures`). */
  maxFailures?: number;
}

/** Where a run stands, in its manifest and summary. */
export type RunStatus =
  | "running"
  | "succeeded"
  /** Finished with some chunks failed, no more than `--max-failures` allows; reduce saw the gaps. */
  | "partial"
  | "failed"
  | "aborted";

/** One build of the job that ran chunks of a run: the first, then one per `--resume --rebuild`. */
export interface RunBuild {
  bundleKey: string;
  bundleSha256: string;
  startedAt: string;
  /**
   * The chunks whose results this build made, written when a later build takes over. The
   * last build lists none: every result not listed under an earlier build is its.
   */
  chunks?: number[];
}

/** The process driving a run, so `status` can tell a live run from one whose client died. */
export interface RunClient {
  host: string;
  pid: number;
  /** The manifest's updatedAt is rewritten this often while the run is going. */
  heartbeatMs: number;
  /**
   * Set when the client is a Lambda invocation (a detached run's remote driver): its log
   * stream. Its liveness is its heartbeat alone, since host and pid say nothing there.
   */
  lambda?: string;
}

/** `runs/<runId>/manifest.json`: enough to resume, inspect or tear down a run. */
export interface RunManifest {
  v: 1;
  runId: string;
  createdAt: string;
  updatedAt: string;
  status: RunStatus;
  backend: string;
  job: { path: string; export: string; bundleKey: string; bundleSha256: string };
  chunks: number;
  payloadsKey: string;
  inputKeys: string[];
  /** The listing of an S3 prefix or local folder input (absent for other inputs). */
  listing?: InputListing;
  /** The job's assets by name, as uploaded when the run was planned (what every chunk reads). */
  assets?: Record<string, AssetRef>;
  /** The packages the current build imports at run time, and the archive that carries them (see DepsRef). */
  deps?: DepsRef;
  /** Where `ctx.write` puts objects (`--output`), resolved: `s3://bucket/prefix/` or an absolute folder. */
  output?: string;
  options: RunOptionsResolved;
  /** Every build that ran chunks, oldest first (absent in manifests written before rebuilds). */
  builds?: RunBuild[];
  /** Names of the variables the run set in its workers (env and secrets); their values are never stored. */
  env?: string[];
  /** Set while running. */
  client?: RunClient;
  /** Started with `--detach` / `submit()`: a background driver runs it, `attach` follows it. */
  detached?: boolean;
  /** A `fanout bench --memory ... --sample K` run: only these chunks ran, on this memory tier. */
  sample?: { indexes: number[]; memoryMb: number };
  summary?: RunSummary;
  error?: RemoteError & { index?: number };
}

/** The figures of a finished (or failed) run: `run()` returns it, and the CLI prints it. */
export interface RunSummary {
  runId: string;
  backend: string;
  /** Memory each chunk had, in MB: the deployed function's on Lambda, the heap cap locally. */
  memoryMb?: number;
  /** Lambda's deployed architecture, when the run was on AWS. */
  arch?: "arm64" | "x86_64";
  /** The per-chunk timeout the run used. */
  timeoutMs?: number;
  status: RunStatus;
  chunks: number;
  succeeded: number;
  failed: number;
  /** Chunks whose result already existed (resume). */
  skipped: number;
  retries: number;
  speculated: number;
  speculationWins: number;
  coldStarts: number;
  concurrency: number;
  wallMs: number;
  /** First to last invoke. */
  dispatchMs: number;
  /** Sum of chunk run times of the attempts that won. */
  sumChunkMs: number;
  /** sumChunkMs / wallMs: how many chunk-seconds each wall second did. */
  speedup: number;
  chunkMs: { p50: number; p95: number; p99: number; max: number };
  /** Chunk results per job build: one entry, unless the run was resumed with --rebuild. */
  builds?: { bundleSha256: string; chunks: number }[];
  /**
   * When the platform throttled (429): how often, and the in-flight limit the run found
   * (it starts at `ceiling`, --concurrency, halves on throttling and creeps back up on success).
   */
  throttle?: { throttled: number; limitFound: number; ceiling: number };
  /**
   * Speculative copies of stragglers: how many, how many won, and the client-observed time of
   * copies that lost or were cancelled (invocations billed for nothing on Lambda).
   */
  speculation?: { copies: number; won: number; lostMs: number };
  /** Peak RSS of the attempts that replied, against the worker memory setting (MB). */
  memory?: { p50Mb: number; p95Mb: number; maxMb: number; limitMb: number };
  /** `--oom-retry`: chunks that ran out of memory and moved up, by the tier they reached last (MB). */
  escalated?: { fromMb: number; toMb: number; chunks: number }[];
  /**
   * The packages the bundle imports at run time: their archive for Lambda and the emulated
   * stack, and what unpacking it cost the workers (once per environment: `unpacks` times, the
   * slowest taking `unpackMaxMs` to fetch, check and unpack).
   */
  deps?: { packages: string[]; platform?: string; packedBytes?: number; unpackedBytes?: number; unpacks: number; unpackMaxMs: number };
  /** The chunks that failed for good, in order (a `partial` run: `--resume` runs them again). */
  failedChunks?: number[];
  /**
   * Attempts stopped while running because their result was no longer wanted: a cancelled run,
   * or a straggler whose copy won. Each was told to stop (its worker aborts `ctx.signal`).
   */
  stoppedEarly?: number;
  /** What the chunks wrote with `ctx.write` (`--output`): committed objects under `<output><runId>/`, and their bytes. */
  output?: { location: string; objects: number; bytes: number };
}

/** A snapshot of a run in flight, passed to `onProgress`. */
export interface Progress {
  total: number;
  done: number;
  failed: number;
  running: number;
  skipped: number;
  retries: number;
  speculated: number;
  /** chunks per second since the first dispatch */
  rate: number;
  /** seconds, or undefined until a rate is known */
  etaSec?: number;
  elapsedMs: number;
  /** The in-flight limit, when throttling has held it below --concurrency. */
  limit?: number;
  /** Chunks' worth of work done by chunks still running, from their `ctx.progress` (0 to `running`). */
  partial?: number;
}

/** One flush of a running attempt's live log (`keys.livePart`): its new lines, and its progress. */
export interface LivePart {
  lines: string[];
  /** The latest `ctx.progress` fraction, when the chunk reported one. */
  progress?: number;
  /** When the worker wrote the part (ms since the epoch). */
  at: number;
}

/**
 * The event that makes the worker function a detached run's driver (invoked with
 * InvocationType Event): the run, the lease generation it may claim, and the bucket.
 */
export interface DriverEvent {
  driver: {
    runId: string;
    generation: number;
    bucket: string;
    /** Test setting: hand over to the next generation after this many ms (FANOUT_DRIVER_HANDOVER_MS). */
    handoverMs?: number;
    /** Test setting: the driver dies after this many ms, as if its container were gone (FANOUT_DRIVER_DIE_MS). */
    dieAfterMs?: number;
    /** The deployed memory tiers and their functions, as the client's preflight found them. */
    tiers?: { memoryMb: number; functionName: string }[];
  };
}
