import type { Backend } from "../compute/types.js";
import { ChunkFailedError, FanoutError, RunAbortedError, toRemoteError } from "../errors.js";
import { execute } from "../exec/executor.js";
import { keys } from "../store/keys.js";
import { RunResults } from "../store/results.js";
import { retrying } from "../store/retrying.js";
import type { ObjectStore } from "../store/types.js";
import { taskOf } from "../task.js";
import type { ChunkSource, Reply, RunManifest, TaskBase, Task } from "../types.js";
import { followUpFlags, statusCmd, type RunRef } from "../util/follow-up.js";
import { chunksPerBuild } from "./builds.js";
import { recordFailures } from "./failures.js";
import { startHeartbeat, thisClient } from "./liveness.js";
import { finishManifest } from "./manifest.js";
import { readValue, readValuesInto } from "./results.js";
import type { RunOptions, RunResult } from "./types.js";
import { summarize } from "./summary.js";

/** Results up to this size come back in the reply; larger ones are read from the store. */
const INLINE_RESULT_BYTES = 256 * 1024;

export interface ExecuteRunParams {
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
export async function executeRun<O>(p: ExecuteRunParams): Promise<RunResult<O>> {
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
