import pLimit from "p-limit";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { openBackend } from "../compute/open.js";
import type { Backend } from "../compute/types.js";
import { bundleJob, type Bundle } from "./bundle.js";
import { addBuild, chunksPerBuild } from "./builds.js";
import { ChunkFailedError, FanoutError, JobLoadError, RunAbortedError, RunNotFoundError, toRemoteError, UsageError } from "../errors.js";
import { followUpFlags, resumeCmd, statusCmd, type RunRef } from "../util/follow-up.js";
import { startHeartbeat, thisClient } from "./liveness.js";
import { execute, type ExecuteOutcome } from "../exec/executor.js";
import { chunkStats } from "../util/stats.js";
import { isJob, type Job, type JobDefaults } from "../job/index.js";
import { isRunId, keys, newRunId } from "../store/keys.js";
import { RunResults } from "../store/results.js";
import { taskOf } from "../task.js";
import { retrying } from "../store/retrying.js";
import { checkBackend, positiveInt, resolveOptions, type BackendName, type CommonOptions } from "../options.js";
import { encodePayloads, planChunks, sourcesFromPayloads, uploadInputs } from "../plan/plan.js";
import type { ObjectStore } from "../store/types.js";
import type { AttemptRecord, ChunkSource, Reply, ResultEnvelope, TaskBase, RunManifest, RunOptionsResolved, RunSummary, Task } from "../types.js";
import { cachedBundleFile, defaultBundleCacheDir } from "../util/bundle-cache.js";

/** Results up to this size come back in the reply; larger ones are read from the store. */
const INLINE_RESULT_BYTES = 256 * 1024;

export interface RunOptions extends CommonOptions {
  chunks?: number;
  /** Continue this run: only chunks without a stored result are run again. */
  resume?: string;
  /**
   * With `resume`: run the missing and failed chunks with the job as it is now, though its
   * build changed (a fixed bug). Finished results are kept; the input and chunk plan must not change.
   */
  rebuild?: boolean;
}

export interface RunResult<O = unknown> {
  runId: string;
  result: O;
  summary: RunSummary;
  /** Every attempt at every chunk, for timelines and reports. */
  attempts: AttemptRecord[];
}

/** The output type of a job module's default export. */
// The chunk and result types do not matter here; `any` lets any job's map match.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JobOutput<J> = J extends Job<any, any, infer O> ? O : unknown;

/**
 * Run a job module: bundle it, split its input into chunks, run one worker invocation per
 * chunk on the chosen backend, reduce, and return the result with the run's summary.
 */
export async function run<O = unknown>(job: string | URL, options: RunOptions = {}): Promise<RunResult<O>> {
  const cwd = options.cwd ?? process.cwd();
  const file = typeof job === "string" ? job : fileURLToPath(job);
  const t0 = Date.now();
  const bundle = await bundleJob(file, cwd);
  const backendName = checkBackend(options.backend);
  if (options.chunks !== undefined) positiveInt("chunks", options.chunks);
  if (options.rebuild && options.resume === undefined) {
    throw new UsageError("--rebuild only applies with --resume <runId>", "add --resume <runId> to finish that run with the new build, or drop --rebuild");
  }
  if (options.resume !== undefined && !isRunId(options.resume)) {
    throw new RunNotFoundError(options.resume, "this store (run ids look like 20261127T044612Z-k3j9xq)");
  }
  // Options are checked before any process starts, so a bad flag costs nothing.
  const preliminary = resolveOptions(options, {});
  const backend = await openBackendFor(backendName, cwd, options, preliminary);
  try {
    const store = backend.store;
    const { bundleKey, mod } = await storeAndImport(store, bundle);
    const jobValue = mod.default;
    if (jobValue === undefined) {
      throw new JobLoadError(`${file} has no default export`, "end the module with `export default defineJob({ input, map, reduce })`");
    }
    if (!isJob(jobValue)) {
      throw new JobLoadError(
        `the default export of ${file} is not a job (it is ${describe(jobValue)})`,
        'export default defineJob({ ... }) from "fanout"',
      );
    }
    const theJob = jobValue as Job;
    let runId: string;
    let manifest: RunManifest;
    let sources: ChunkSource[];
    let rebuilt = false;
    if (options.resume) {
      runId = options.resume;
      manifest = await readManifest(store, runId);
      const stored = await store.get(manifest.payloadsKey);
      if (manifest.job.bundleSha256 !== bundle.sha256) {
        const ref = { runId, jobPath: file, flags: followUpFlags(backend.name, options.store) };
        if (!options.rebuild) {
          throw new FanoutError(
            "E_RESUME_MISMATCH",
            `run ${runId} was made from a different build of the job (bundle ${manifest.job.bundleSha256.slice(0, 12)}, now ${bundle.sha256.slice(0, 12)})`,
            { hint: `to keep its results and run the rest with the new build: ${resumeCmd(ref, true)}; or start a new run without --resume`, exitCode: 2 },
          );
        }
        await checkSamePlan(theJob, manifest, stored, cwd);
        addBuild(manifest, bundleKey, bundle.sha256, await retrying(() => new RunResults(store, runId).done()));
        rebuilt = true;
      }
      sources = sourcesFromPayloads(stored, manifest.payloadsKey);
      manifest.options = { ...resolveOptions(options, theJob.defaults, manifest.chunks) };
      backend.setMemory?.(manifest.options.memoryMb);
    } else {
      const chunks = positiveInt("chunks", options.chunks ?? theJob.defaults.chunks ?? 100);
      const plan = await planChunks(theJob.input, chunks, cwd);
      for (const n of plan.notes) options.onNotice?.(n);
      const resolved = resolveOptions(options, theJob.defaults, plan.lines.length);
      backend.setMemory?.(resolved.memoryMb);
      runId = newRunId();
      await uploadInputs(store, plan.uploads);
      const payloads = encodePayloads(plan.lines, plan.sources, keys.payloads(runId));
      sources = payloads.sources;
      await store.put(keys.payloads(runId), payloads.body);
      manifest = newManifest(runId, backend.name, file, "default", bundleKey, bundle.sha256, plan.lines.length, [...plan.uploads.keys()], resolved);
    }
    return await executeRun<O>({ store, backend, manifest, sources, reduce: theJob.reduce, t0, options, rebuilt });
  } finally {
    await backend.close();
  }
}

export interface MapOptions extends CommonOptions {}

/**
 * Call one exported function of a module once per input, on the chosen backend, and return
 * the results in input order. The function gets `(input, ctx)` like a job's map.
 */
export async function map<I, R>(
  module: string | URL,
  exportName: string,
  inputs: readonly I[],
  options: MapOptions = {},
): Promise<Awaited<R>[]> {
  const results = new Array<Awaited<R>>(inputs.length);
  for await (const r of mapIter<I, R>(module, exportName, inputs, options)) results[r.index] = r.value;
  return results;
}

export interface MapItem<R> {
  index: number;
  value: R;
}

/** Like `map`, but yields each result as soon as it is finished (not in input order). */
export async function* mapIter<I, R>(
  module: string | URL,
  exportName: string,
  inputs: readonly I[],
  options: MapOptions = {},
): AsyncGenerator<MapItem<Awaited<R>>, RunSummary, undefined> {
  const cwd = options.cwd ?? process.cwd();
  const file = typeof module === "string" ? module : fileURLToPath(module);
  const t0 = Date.now();
  const bundle = await bundleJob(file, cwd);
  const backendName = checkBackend(options.backend);
  const resolved = resolveOptions(options, {}, inputs.length);
  const backend = await openBackendFor(backendName, cwd, options, resolved);
  try {
    const store = backend.store;
    const { bundleKey, mod } = await storeAndImport(store, bundle);
    if (typeof mod[exportName] !== "function") {
      throw new JobLoadError(`${file} has no exported function "${exportName}"`, `export function ${exportName}(input) { ... }`);
    }
    const { toJson } = await import("../serialize.js");
    const lines = inputs.map((v, i) => `{"kind":"inline","value":${toJson(v, `input ${i}`)}}`);
    const runId = newRunId();
    const payloads = encodePayloads(
      lines,
      inputs.map((value) => ({ kind: "inline", value })),
      keys.payloads(runId),
    );
    await store.put(keys.payloads(runId), payloads.body);
    const manifest = newManifest(runId, backend.name, file, exportName, bundleKey, bundle.sha256, inputs.length, [], resolved);

    // Results are handed from the executor's callback to this generator through a queue.
    const queue: MapItem<Awaited<R>>[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    const pending = executeRun<unknown>({
      store,
      backend,
      manifest,
      sources: payloads.sources,
      reduce: undefined,
      t0,
      options,
      onValue: (index, value) => {
        queue.push({ index, value: value as Awaited<R> });
        wake?.();
      },
    }).finally(() => {
      finished = true;
      wake?.();
    });
    pending.catch(() => {});
    for (;;) {
      while (queue.length) yield queue.shift()!;
      if (finished) break;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
    while (queue.length) yield queue.shift()!;
    return (await pending).summary;
  } finally {
    await backend.close();
  }
}

interface ExecuteRunParams {
  store: ObjectStore;
  backend: Backend;
  manifest: RunManifest;
  sources: ChunkSource[];
  reduce: ((results: unknown[]) => unknown) | undefined;
  t0: number;
  options: RunOptions;
  onValue?: (index: number, value: unknown) => void;
  /** This resume runs a new build of the job (`rebuild`). */
  rebuilt?: boolean;
}

/** The shared second half of run() and map(): dispatch, collect in order, reduce, record. */
async function executeRun<O>(p: ExecuteRunParams): Promise<RunResult<O>> {
  const { store, backend, manifest, options } = p;
  const runId = manifest.runId;
  const sources = p.sources;
  const done = await retrying(() => new RunResults(store, runId).done());
  const todo: number[] = [];
  for (let i = 0; i < sources.length; i++) if (!done.has(i)) todo.push(i);
  const rebuilt = p.rebuilt ? ` with a new build of the job (bundle ${manifest.job.bundleSha256.slice(0, 12)})` : "";
  if (options.resume) options.onNotice?.(`resuming run ${runId}${rebuilt}: ${done.size} of ${manifest.chunks} chunks already done, ${todo.length} to run`);
  else options.onNotice?.(`run ${runId}: ${manifest.chunks} chunks on ${backend.name}, store ${store.location}`);
  const ref: RunRef = {
    runId,
    ...(manifest.job.export === "default" ? { jobPath: manifest.job.path } : {}),
    flags: followUpFlags(backend.name, options.store),
  };
  manifest.status = "running";
  manifest.updatedAt = new Date().toISOString();
  manifest.client = thisClient();
  await store.put(keys.manifest(runId), JSON.stringify(manifest, null, 2));
  // Stopped (and a beat in flight awaited) before any manifest that ends the run is written.
  const heartbeat = startHeartbeat(manifest, () => store.put(keys.manifest(runId), JSON.stringify(manifest, null, 2)));
  try {
    return await finishRun<O>(p, ref, todo, done, heartbeat);
  } finally {
    await heartbeat.stop();
  }
}

/** Run the chunks still to do, then record how the run ended (the heartbeat stops first). */
async function finishRun<O>(p: ExecuteRunParams, ref: RunRef, todo: number[], done: Set<number>, heartbeat: { stop(): Promise<void> }): Promise<RunResult<O>> {
  const { store, backend, manifest, options, sources } = p;
  const runId = manifest.runId;
  const opts = manifest.options;
  const results = new RunResults(store, runId);

  const base: TaskBase = {
    v: 1 as const,
    runId,
    count: manifest.chunks,
    bundle: { key: manifest.job.bundleKey, sha256: manifest.job.bundleSha256 },
    export: manifest.job.export,
    timeoutMs: opts.timeoutMs,
    inlineLimit: INLINE_RESULT_BYTES,
  };
  const tasks: Task[] = todo.map((index) => taskOf(base, index, 1, sources[index]!));

  const outcome = await execute({
    backend,
    runId,
    tasks,
    total: manifest.chunks,
    skipped: done.size,
    concurrency: opts.concurrency,
    retries: opts.retries,
    retryUserErrors: opts.retryUserErrors,
    speculate: opts.speculate,
    maxFailures: 10,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(p.onValue
      ? {
          onResult: (index: number, reply: Reply) => {
            if (!reply.stored) p.onValue!(index, reply.value);
            else void readValue(results, index).then((v) => p.onValue!(index, v));
          },
        }
      : {}),
  });

  const summary = summarize(manifest, backend.name, outcome, done.size, p.t0, opts);
  const doneNow = new Set([...done, ...outcome.values.keys(), ...outcome.stored]);
  summary.builds = chunksPerBuild(manifest, doneNow);
  /** What a failed or cancelled run hands to `--json` and `--report`. */
  const withRun = <E extends FanoutError>(err: E): E => {
    err.summary = summary;
    err.attemptLog = outcome.attempts;
    return err;
  };
  const end = async (status: RunManifest["status"], error?: RunManifest["error"]) => {
    await heartbeat.stop();
    summary.status = status;
    await finishManifest(store, manifest, status, summary, error);
  };
  if (outcome.stopped === "aborted" || (options.signal?.aborted && outcome.failures.size === 0 && outcome.values.size + outcome.stored.size < tasks.length)) {
    await end("aborted");
    throw withRun(new RunAbortedError(ref, options.signal?.reason));
  }
  if (outcome.failures.size > 0) {
    await recordFailures(store, runId, outcome);
    const first = [...outcome.failures.values()].sort((a, b) => a.index - b.index)[0]!;
    await end("failed", { ...first.remote, index: first.index });
    // Made again here, where the job and flags are known, so its hint is a working command.
    const err = withRun(new ChunkFailedError(first.index, first.remote, first.attempts, ref));
    err.failedChunks = outcome.failures.size;
    throw err;
  }

  const values = new Array<unknown>(manifest.chunks);
  for (const [index, value] of outcome.values) values[index] = value;
  const toRead: number[] = [];
  for (let i = 0; i < manifest.chunks; i++) if (!outcome.values.has(i)) toRead.push(i);
  await readValuesInto(new RunResults(store, runId), toRead, values);

  let result: unknown = values;
  if (p.reduce) {
    try {
      result = await p.reduce(values);
    } catch (err) {
      const remote = toRemoteError(err);
      await end("failed", remote);
      throw withRun(
        new FanoutError("E_REDUCE", `reduce threw: ${remote.message}`, {
          hint: `every chunk result is kept in the store (\`${statusCmd(ref)}\`); fix reduce and run again`,
          exitCode: 1,
          cause: err,
        }),
      );
    }
  }
  summary.wallMs = Date.now() - p.t0;
  summary.speedup = summary.wallMs > 0 ? summary.sumChunkMs / summary.wallMs : 0;
  await end("succeeded");
  return { runId, result: result as O, summary, attempts: outcome.attempts };
}

/**
 * A chunk whose worker died (crash, OOM, kill) could not write its own failure envelope:
 * write it from here, so `status` and `logs` tell what happened to every chunk.
 */
async function recordFailures(store: ObjectStore, runId: string, outcome: ExecuteOutcome): Promise<void> {
  for (const [index, f] of outcome.failures) {
    if (f.remote.kind === "user" || f.remote.kind === "serialize") continue; // the worker wrote it
    const last = outcome.attempts.filter((a) => a.index === index).pop();
    const envelope: ResultEnvelope = {
      v: 1,
      runId,
      index,
      attempt: f.attempts,
      ok: false,
      error: f.remote,
      timing: { startedAt: last?.invokedAt ?? 0, endedAt: last?.returnedAt ?? 0, loadMs: 0, coldStart: false },
      logs: [`[fanout: recorded by the client after ${f.attempts} attempt(s); the worker could not report]`],
      worker: { platform: "local", id: "client" },
    };
    await retrying(() => store.put(keys.failure(runId, index), JSON.stringify(envelope)), 3).catch(() => {});
  }
}

async function readValue(results: RunResults, index: number): Promise<unknown> {
  const env = await retrying(() => results.envelope(index));
  if (!env) throw new FanoutError("E_RESULT_MISSING", `the result of chunk ${index} is missing from the store`, { hint: "resume the run to compute it again" });
  return env.value;
}

async function readValuesInto(results: RunResults, indices: number[], values: unknown[]): Promise<void> {
  // Bounded parallel reads: S3 latency adds up over thousands of resumed results. (Each read
  // is a network call, so p-limit's few microseconds per task do not matter here.)
  const limit = pLimit(32);
  await Promise.all(indices.map((i) => limit(async () => (values[i] = await readValue(results, i)))));
}

/**
 * A rebuilt job may mix its results with the old build's only if it splits the same input into
 * the same chunks: each chunk's payload (and every uploaded input) must be byte for byte the same.
 */
async function checkSamePlan(job: Job, manifest: RunManifest, stored: Buffer, cwd: string): Promise<void> {
  const plan = await planChunks(job.input, manifest.chunks, cwd);
  const payloads = encodePayloads(plan.lines, plan.sources, manifest.payloadsKey);
  const inputs = [...plan.uploads.keys()].sort().join();
  let what: string | undefined;
  if (plan.lines.length !== manifest.chunks) what = `it now makes ${plan.lines.length} chunks, not ${manifest.chunks}`;
  else if (inputs !== [...manifest.inputKeys].sort().join()) what = "its input files changed";
  else if (!payloads.body.equals(stored)) what = "its chunks' inputs changed";
  if (what) {
    throw new FanoutError("E_RESUME_INPUT", `cannot resume run ${manifest.runId} with the new build: ${what}`, {
      hint: "results of different inputs cannot be mixed; start a new run without --resume",
      exitCode: 2,
    });
  }
}

function newManifest(
  runId: string,
  backend: string,
  file: string,
  exportName: string,
  bundleKey: string,
  sha256: string,
  chunks: number,
  inputKeys: string[],
  options: RunOptionsResolved,
): RunManifest {
  const now = new Date().toISOString();
  return {
    v: 1,
    runId,
    createdAt: now,
    updatedAt: now,
    status: "running",
    backend,
    job: { path: file, export: exportName, bundleKey, bundleSha256: sha256 },
    chunks,
    payloadsKey: keys.payloads(runId),
    inputKeys,
    options,
  };
}

async function finishManifest(
  store: ObjectStore,
  manifest: RunManifest,
  status: RunManifest["status"],
  summary: RunSummary,
  error?: RunManifest["error"],
): Promise<void> {
  manifest.status = status;
  manifest.updatedAt = new Date().toISOString();
  manifest.summary = { ...summary, status };
  if (error) manifest.error = error;
  else delete manifest.error;
  try {
    await retrying(() => store.put(keys.manifest(manifest.runId), JSON.stringify(manifest, null, 2)), 5);
  } catch {
    // The results are the source of truth; a manifest that could not be updated is not fatal.
  }
}

export async function readManifest(store: ObjectStore, runId: string): Promise<RunManifest> {
  const buf = await store.getIfExists(keys.manifest(runId));
  if (!buf) throw new RunNotFoundError(runId, store.location);
  return JSON.parse(buf.toString("utf8")) as RunManifest;
}

function summarize(
  manifest: RunManifest,
  backend: string,
  o: ExecuteOutcome,
  skipped: number,
  t0: number,
  opts: RunOptionsResolved,
): RunSummary {
  const won = o.attempts.filter((a) => a.won);
  const times = won.map((a) => (a.endedAt ?? a.returnedAt) - (a.startedAt ?? a.invokedAt));
  const sum = times.reduce((a, b) => a + b, 0);
  const wallMs = Date.now() - t0;
  return {
    runId: manifest.runId,
    backend,
    status: o.failures.size ? "failed" : o.stopped === "aborted" ? "aborted" : "succeeded",
    chunks: manifest.chunks,
    succeeded: o.values.size + o.stored.size + skipped,
    failed: o.failures.size,
    skipped,
    retries: o.retries,
    speculated: o.speculated,
    speculationWins: o.speculationWins,
    coldStarts: o.attempts.filter((a) => a.coldStart).length,
    concurrency: opts.concurrency,
    wallMs,
    dispatchMs: o.lastInvokeAt - o.firstInvokeAt,
    sumChunkMs: sum,
    speedup: wallMs > 0 ? sum / wallMs : 0,
    chunkMs: chunkStats(times),
  };
}

function openBackendFor(backend: BackendName, cwd: string, options: CommonOptions, resolved: RunOptionsResolved): Promise<Backend> {
  return openBackend({
    backend,
    cwd,
    memoryMb: options.memory ?? resolved.memoryMb,
    concurrency: options.concurrency ?? resolved.concurrency,
    ...(options.store ? { store: options.store } : {}),
    ...(options.processes ? { processes: options.processes } : {}),
    ...(options.aws ? { aws: options.aws } : {}),
  });
}

/** Put the bundle in the store (once per content hash) and import it here too. */
async function storeAndImport(store: ObjectStore, bundle: Bundle): Promise<{ bundleKey: string; mod: Record<string, unknown> }> {
  const bundleKey = keys.bundle(bundle.sha256);
  if (!(await store.exists(bundleKey))) await store.put(bundleKey, bundle.code);
  return { bundleKey, mod: await importBundle(store, bundleKey, bundle) };
}

let imports = 0;

/** Import the bundle in this process too: the input and reduce live in the job module. */
async function importBundle(store: ObjectStore, key: string, bundle: Bundle): Promise<Record<string, unknown>> {
  let file = store.localPath?.(key);
  file ??= cachedBundleFile(defaultBundleCacheDir(), bundle.sha256, bundle.code);
  try {
    // A fresh instance per run: the module's top level (inputs built from env, files read
    // at import) must see this run's world, not the first run's in this process.
    return (await import(`${pathToFileURL(file).href}?run=${++imports}`)) as Record<string, unknown>;
  } catch (err) {
    throw new JobLoadError(`loading ${path.relative(process.cwd(), bundle.entry) || bundle.entry} threw: ${(err as Error)?.message ?? String(err)}`, "fix the error in the job module's top-level code", err);
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "function") return "a function; wrap it: defineJob({ input, map: yourFunction })";
  if (typeof v === "object") return "an object not made by defineJob";
  return `a ${typeof v}`;
}

export type { JobDefaults };
