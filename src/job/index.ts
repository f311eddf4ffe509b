/**
 * The job contract: what a user's module imports from "fanout". This file is bundled into
 * every job, so it must stay free of imports (no SDK, no Node built-ins).
 */

/** What `map` gets besides its chunk. */
export interface ChunkContext {
  /** 0-based position of this chunk. */
  readonly index: number;
  /** Number of chunks in the run. */
  readonly count: number;
  /** 1 on the first try; higher on a retry or a speculative copy. */
  readonly attempt: number;
  readonly runId: string;
  /** Aborted when the chunk times out or its result is no longer wanted. */
  readonly signal: AbortSignal;
  /** A line kept with this chunk's result; `fanout logs <runId> <chunk>` prints them. */
  log(...args: unknown[]): void;
  /**
   * The bytes of an object from an `objects()` or `files()` chunk (or bytes [start, end) of
   * it), streamed from where it lives. Fails if the object changed since the run listed it.
   */
  read(obj: ObjectRef, range?: { start: number; end: number }): AsyncIterable<Uint8Array>;
  /**
   * How far this chunk is, from 0 to 1: the progress display counts running chunks by it, so
   * a run of long chunks shows movement before the first one ends. Cheap to call often.
   */
  progress(fraction: number): void;
  /**
   * The local path of a file the job ships with `assets` (its name as listed: the path
   * relative to the job file's folder, e.g. `"model.bin"` or `"tables/a.json"`), fetched and
   * checked against its sha256 before the chunk started. Throws for a name that is not one.
   */
  asset(name: string): string;
  /**
   * Write an object named `name` (a relative path such as `part.csv` or `a/b.json`) to the
   * run's output (`--output s3://bucket/prefix/` or a folder), at `<prefix>/<runId>/<chunk>/<name>`.
   * It is staged while the chunk runs and counts only if the chunk succeeds: a failed attempt's
   * writes are dropped, so retries and speculative copies leave each name once. Resolves to
   * the bytes written. Big bodies (streams) go up in parts.
   */
  write(name: string, body: OutputBody): Promise<number>;
}

/** What `ctx.write` takes: text (UTF-8), bytes, or a stream of bytes or text. */
export type OutputBody = string | Uint8Array | AsyncIterable<Uint8Array | string>;

/**
 * What `reduce` gets besides the results. With `--max-failures` a run may finish with some
 * chunks failed: their places in `results` hold `undefined`, and `failed` lists them.
 */
export interface ReduceInfo {
  /** Indexes of the chunks that failed for good, in order; empty when every chunk succeeded. */
  readonly failed: readonly number[];
}

/** One object of an `objects()` or `files()` input, as the run listed it. */
export interface ObjectRef {
  /** Where it lives: `s3://bucket/key`, a `file://` URL, or on a remote backend `store:inputs/<sha256>` (a local file uploaded to the run store). */
  readonly url: string;
  /** The S3 key, or for `files()` the path relative to the working directory. */
  readonly key: string;
  readonly size: number;
  /** The S3 ETag; for a local file its size and modification time, or its SHA-256 once uploaded to the run store. */
  readonly etag: string;
}

/** Settings a job carries with it; flags and run options override them. */
export interface JobDefaults {
  /** Worker memory in MB (Lambda memory; the V8 heap cap locally). */
  memory?: number;
  /** Per-chunk timeout in seconds. */
  timeout?: number;
  /** Retries for crashed, timed-out or out-of-memory chunks (a throttled chunk is requeued without using one). */
  retries?: number;
  /** Also retry chunks whose own code threw (off by default: most throws are deterministic). */
  retryErrors?: boolean;
  concurrency?: number;
  chunks?: number;
  /**
   * Variables set in the worker's `process.env` while each chunk runs (and restored after);
   * `--env` and the `env` option override them by name. Not written to the manifest or logs.
   */
  env?: Record<string, string>;
  /**
   * Packages the bundler leaves out and the workers import by name, e.g. `["sharp"]`.
   * Packages with a compiled addon are found without it; name one here when its loading is
   * hidden from the bundler. On Lambda they are installed for the function's platform.
   */
  external?: readonly string[];
}

/** A chunk of `range(...)`: the integers start..end-1. */
export interface RangeChunk {
  /** inclusive */
  start: number;
  /** exclusive */
  end: number;
}

declare const chunkType: unique symbol;

/** How the whole input is described; the planner turns it into chunks. */
export type InputSpec =
  | { kind: "range"; start: number; end: number }
  | { kind: "items"; items: readonly unknown[] | (() => readonly unknown[] | Promise<readonly unknown[]>) }
  | { kind: "lines"; path: string }
  | { kind: "objects"; url: string; match?: string }
  | { kind: "files"; pattern: string }
  | { kind: "run"; runId: string };

/** An input whose chunks have type C. */
export interface Input<C> {
  readonly spec: InputSpec;
  /** Type-level only: carries the chunk type for `defineJob`'s inference. */
  readonly [chunkType]?: C;
}

/** The integers start..end-1; each chunk gets a contiguous `{ start, end }`. */
export function range(start: number, end?: number): Input<RangeChunk> {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e) || e < s) {
    throw new RangeError(`range(${start}, ${end}): start and end must be integers with start <= end`);
  }
  return { spec: { kind: "range", start: s, end: e } };
}

/** A list; each chunk gets a contiguous slice. A function is called once, in the calling process. */
export function items<T>(list: readonly T[] | (() => readonly T[] | Promise<readonly T[]>)): Input<T[]> {
  return { spec: { kind: "items", items: list } };
}

/**
 * The lines of a text file (a path relative to the working directory, or a file URL), of
 * every file in a local folder, of an S3 object (`s3://bucket/key`) or of every object under
 * an S3 prefix (`s3://bucket/prefix/`). Each chunk gets the whole lines that start inside its
 * byte range, read from that range only (by the worker itself, for S3). Several objects are
 * one stream split on byte boundaries across them; each object's end also ends its last line.
 * A gzip object (`.gz`, or Content-Encoding gzip) cannot be split: it is one whole chunk.
 */
export function lines(path: string | URL): Input<string[]> {
  const p = typeof path === "string" ? path : path.href;
  return { spec: { kind: "lines", path: p } };
}

/**
 * One item per S3 object under a prefix (`s3://bucket/prefix/`), in key order; chunks are
 * balanced by total bytes. `match` is a glob over the key after the prefix (e.g. `**\/*.log`).
 * Read an object inside `map` with `ctx.read(obj)`.
 */
export function objects(url: string, opts: { match?: string } = {}): Input<ObjectRef[]> {
  if (typeof url !== "string" || !url.startsWith("s3://")) throw new TypeError(`objects(${JSON.stringify(url)}): give an s3://bucket/prefix/ URL (local files: files("dir/**/*.csv"))`);
  return { spec: { kind: "objects", url, ...(opts.match !== undefined ? { match: opts.match } : {}) } };
}

/**
 * One item per local file matching a glob (relative to the working directory, e.g.
 * `data/**\/*.csv`), in path order; chunks are balanced by total bytes. Workers read them with
 * `ctx.read(obj)`: the local backend's in place, remote ones from the run store, where each
 * file is uploaded once by its content hash.
 */
export function files(pattern: string): Input<ObjectRef[]> {
  if (typeof pattern !== "string" || pattern === "") throw new TypeError("files(pattern): give a glob such as \"data/**/*.csv\"");
  return { spec: { kind: "files", pattern } };
}

/**
 * The results of an earlier run in the same store, one item per chunk result, in chunk order:
 * each chunk gets a contiguous slice of them. The workers read them from the run store, so a
 * two-stage pipeline never downloads the first stage. The run must have finished (succeeded,
 * or partial: then its failed chunks have no item). CLI: `--input-run <runId>`.
 */
export function fromRun<R = unknown>(runId: string): Input<R[]> {
  if (typeof runId !== "string" || runId === "") throw new TypeError("fromRun(runId): give the id of a finished run (fanout status lists them)");
  return { spec: { kind: "run", runId } };
}

type JobInput = Input<unknown> | readonly unknown[] | (() => readonly unknown[] | Promise<readonly unknown[]>);

/** The chunk type a job's input produces. */
export type ChunkOf<I> =
  I extends Input<infer C>
    ? C
    : I extends readonly (infer T)[]
      ? T[]
      : I extends () => infer R
        ? Awaited<R> extends readonly (infer T)[]
          ? T[]
          : never
        : never;

/** Marks a value made by `defineJob`; versioned so a bundle from another fanout release is told apart. */
export const JOB_BRAND = "fanout.job/1";

/** A job as `defineJob` returns it: the default export of a job module. C: chunk, R: map result, O: reduce output. */
export interface Job<C = unknown, R = unknown, O = R[]> {
  readonly __fanout: typeof JOB_BRAND;
  readonly input: InputSpec;
  readonly map: (chunk: C, ctx: ChunkContext) => R | Promise<R>;
  readonly reduce?: (results: R[], info: ReduceInfo) => O | Promise<O>;
  readonly defaults: JobDefaults;
  /** Files the job ships to its workers: paths or globs relative to the job file's folder. */
  readonly assets?: readonly string[];
}

/** What `defineJob` takes: the input, `map` (run in a worker once per chunk), an optional `reduce` (run in the calling process over all results in chunk order), and defaults. */
export interface JobSpec<I extends JobInput, R, O> {
  input: I;
  map: (chunk: ChunkOf<I>, ctx: ChunkContext) => R;
  reduce?: (results: Awaited<R>[], info: ReduceInfo) => O;
  defaults?: JobDefaults;
  /**
   * Files each chunk may read with `ctx.asset(name)`: paths or globs (`"tables/*.json"`)
   * relative to the job file's folder. Uploaded once by content hash, fetched and checked
   * once per worker environment; a pattern that matches nothing stops the run before dispatch.
   */
  assets?: readonly string[];
}

/**
 * Define a job: the module's default export. Chunk and result types are inferred, so a
 * `reduce` that expects the wrong result type is a compile error in the user's editor.
 */
export function defineJob<I extends JobInput, R, O = Awaited<R>[]>(
  spec: JobSpec<I, R, O>,
): Job<ChunkOf<I>, Awaited<R>, Awaited<O>> {
  if (spec === null || typeof spec !== "object") throw new TypeError("defineJob(spec): spec must be an object");
  if (typeof spec.map !== "function") throw new TypeError("defineJob(spec): spec.map must be a function");
  if (spec.reduce !== undefined && typeof spec.reduce !== "function") {
    throw new TypeError("defineJob(spec): spec.reduce must be a function when given");
  }
  if (spec.assets !== undefined && (!Array.isArray(spec.assets) || !spec.assets.every((a) => typeof a === "string" && a !== ""))) {
    throw new TypeError('defineJob(spec): spec.assets must be a list of paths or globs, e.g. ["model.bin", "tables/*.json"]');
  }
  const external = spec.defaults?.external;
  if (external !== undefined && (!Array.isArray(external) || !external.every((a) => typeof a === "string" && a !== ""))) {
    throw new TypeError('defineJob(spec): spec.defaults.external must be a list of package names, e.g. ["sharp"]');
  }
  return {
    __fanout: JOB_BRAND,
    input: toInputSpec(spec.input),
    map: spec.map as unknown as Job<ChunkOf<I>, Awaited<R>>["map"],
    reduce: spec.reduce as unknown as Job<ChunkOf<I>, Awaited<R>, Awaited<O>>["reduce"],
    defaults: { ...spec.defaults },
    assets: [...(spec.assets ?? [])],
  };
}

function toInputSpec(input: JobInput): InputSpec {
  if (Array.isArray(input) || typeof input === "function") {
    return { kind: "items", items: input as readonly unknown[] };
  }
  if (input && typeof input === "object" && "spec" in input) return (input as Input<unknown>).spec;
  throw new TypeError("defineJob(spec): spec.input must be range(...), lines(...), objects(...), files(...), fromRun(...), an array, or a function returning an array");
}

/** True for a value made by `defineJob` (checked by shape: the bundle has its own copy of this module). */
export function isJob(value: unknown): value is Job {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { __fanout?: unknown }).__fanout === JOB_BRAND &&
    typeof (value as { map?: unknown }).map === "function"
  );
}
