/**
 * Executing a prepared run: mark it running, dispatch the chunks still to do, then collect
 * the values in order, reduce, and record how the run ended.
 */
import type { Backend } from "../compute/types.js";
import { ChunkFailedError, FanoutError, RunAbortedError, toRemoteError, TooManyFailuresError } from "../errors.js";
import { execute, type ExecuteOutcome } from "../exec/executor.js";
import { RunResults } from "../store/results.js";
import { retrying } from "../store/retrying.js";
import type { ObjectStore } from "../store/types.js";
import { taskOf } from "../task.js";
import type { ReduceInfo } from "../job/index.js";
import { allowedFailures } from "../options.js";
import type { AttemptRecord, ChunkSource, Reply, RunManifest, RunSummary, TaskBase, Task } from "../types.js";
import type { RunVars } from "../options.js";
import { attachCmd, followUpFlags, statusCmd, type RunRef } from "../util/follow-up.js";
import { chunksPerBuild } from "./builds.js";
import { watchRunCancel, type RunCancel } from "./cancel.js";
import { recordFailures } from "./failures.js";
import { takeLease, type Lease } from "./lease.js";
import { finishManifest, startManifest } from "./manifest.js";
import { userS3Access } from "../plan/s3.js";
import { finishOutputs, releaseAbandonedClaims, releaseOnDeath } from "./outputs.js";
import { readValue, valuesInOrder } from "./results.js";
import type { RunOptions, RunResult } from "./types.js";
import { checkpointGeneration, closeGeneration, writeGenerationLog } from "./attempt-log.js";
import { generationLog, memoryNotice, summarize } from "./summary.js";

/** Results up to this size come back in the reply; larger ones are read from the store. */
const INLINE_RESULT_BYTES = 256 * 1024;

export interface ExecuteRunParams {
  store: ObjectStore;
  backend: Backend;
  manifest: RunManifest;
  sources: ChunkSource[];
  reduce: ((results: unknown[], info: ReduceInfo) => unknown) | undefined;
  t0: number;
  options: RunOptions;
  onValue?: (index: number, value: unknown) => void;
  /** This resume runs a new build of the job (`rebuild`). */
  rebuilt?: boolean;
  /** Variables the workers set for each chunk; they travel in the tasks only. */
  vars?: RunVars;
  /** false: dispatch only, no values read back and no reduce (a detached run's driver). */
  collect?: boolean;
  /** Run only these chunks (a bench memory sweep's sample); use with collect: false. */
  only?: readonly number[];
  /** A remote driver's own lease (claimed for its generation) and its handover; see RemoteHold. */
  remote?: RemoteHold;
}

/**
 * What a remote driver (src/run/remote-driver.ts) brings: the lease it claimed, kept (not
 * released) when it hands over, and `handover`, aborted once it has stopped dispatching near
 * its deadline. A run stopped by its handover is left running, unfinished, for the next driver.
 */
interface RemoteHold {
  lease: Lease;
  handover: AbortSignal;
}

/** The shared second half of run() and map(): dispatch, collect in order, reduce, record. */
export async function executeRun<O>(p: ExecuteRunParams): Promise<RunResult<O>> {
  const { store, backend, manifest, options } = p;
  const runId = manifest.runId;
  const done = await retrying(() => new RunResults(store, runId).done());
  const todo: number[] = [];
  const only = p.only ? new Set(p.only) : undefined;
  for (let i = 0; i < p.sources.length; i++) if (!done.has(i) && (!only || only.has(i))) todo.push(i);
  const rebuilt = p.rebuilt ? ` with a new build of the job (bundle ${manifest.job.bundleSha256.slice(0, 12)})` : "";
  if (options.resume) options.onNotice?.(`resuming run ${runId}${rebuilt}: ${done.size} of ${manifest.chunks} chunks already done, ${todo.length} to run`);
  else options.onNotice?.(`run ${runId}: ${manifest.chunks} chunks on ${backend.name}, store ${store.location}`);
  const cap = backend.concurrencyCap;
  if (cap !== undefined && cap < manifest.options.concurrency) {
    options.onNotice?.(`the AWS account allows ${cap} concurrent executions: at most ${cap} chunks run at once (--concurrency ${manifest.options.concurrency})`);
  }
  const noneAbove = manifest.options.oomRetry && !backend.tiers?.some((mb) => mb > backend.memoryMb);
  if (noneAbove) {
    options.onNotice?.(`--oom-retry: no memory tier above ${backend.memoryMb} MB to move a chunk to, so one out of memory is retried on the same memory (deploy one with \`fanout deploy --memory ${backend.memoryMb},<larger mb>\`)`);
  }
  const ref: RunRef = {
    runId,
    ...(manifest.job.export === "default" ? { jobPath: manifest.job.path } : {}),
    flags: followUpFlags(backend.name, options.store),
  };
  if (options.maxFailures !== undefined) manifest.options.maxFailures = allowedFailures(options.maxFailures, manifest.chunks);
  // One driver per run: a resume (or a detached run's driver) is refused while another lives.
  const taken = new AbortController();
  const lease = p.remote?.lease ?? (await takeLease(store, ref, () => taken.abort(new Error("another driver took the run over")), !options.resume));
  try {
    // The caller's signal (Ctrl-C, fanout cancel) also tells the workers; a takeover only stops this driver.
    const cancel = await watchRunCancel(store, runId, options.signal);
    const signal = AbortSignal.any([cancel.signal, taken.signal, ...(p.remote ? [p.remote.handover] : [])]);
    const heartbeat = await startManifest(store, manifest);
    try {
      // The lease is ours, so the client before this resume is gone; claims only its workers could hold go too.
      if (options.resume && manifest.output) await releaseAbandonedClaims(manifest.output, runId, todo, manifest.backend === "local", userS3Access(options.aws));
      return await finishRun<O>(p, ref, todo, done, heartbeat, { cancel, lease, signal });
    } finally {
      await heartbeat.stop();
      await cancel.close();
    }
  } finally {
    // A remote driver releases or hands over its lease itself.
    if (!p.remote) await lease.release();
  }
}

/** Run the chunks still to do, then record how the run ended (the heartbeat stops first). */
/** How a run in flight can be stopped: its cancel markers, its driver's lease, and both as one signal. */
interface Stopping {
  cancel: RunCancel;
  lease: Lease;
  signal: AbortSignal;
}

async function finishRun<O>(p: ExecuteRunParams, ref: RunRef, todo: number[], done: Set<number>, heartbeat: { stop(): Promise<void> }, stopping: Stopping): Promise<RunResult<O>> {
  const { store, manifest, options } = p;
  const { signal, lease } = stopping;
  const { outcome, summary, attempts, passing } = await dispatchAndSum(p, todo, done, stopping);
  if (passing) {
    // Stopped for the next driver: the manifest stays running, written by it from now on.
    await heartbeat.stop();
    return { runId: manifest.runId, result: undefined as O, summary, attempts };
  }
  if (manifest.output) summary.output = await finishOutputs(manifest.output, manifest.runId, userS3Access(options.aws));
  summary.builds = chunksPerBuild(manifest, new Set([...done, ...outcome.values.keys(), ...outcome.stored]));
  // A memory sweep's sample runs each tier on purpose; its table shows the peaks. A cancelled
  // run's peaks are of the chunks that happened to run: no advice from them.
  const roomy = manifest.sample || signal.aborted ? undefined : memoryNotice(summary);
  if (roomy) options.onNotice?.(roomy);
  /** What a failed or cancelled run hands to `--json` and `--report`. */
  const withRun = <E extends FanoutError>(err: E): E => {
    err.summary = summary;
    err.attemptLog = attempts;
    return err;
  };
  const end = async (status: RunManifest["status"], error?: RunManifest["error"]) => {
    await heartbeat.stop();
    // Taken over: the run's manifest is the new driver's to write.
    if (lease.lost) throw withRun(takenOver(ref));
    summary.status = status;
    await finishManifest(store, manifest, status, summary, error);
  };
  const failed = [...outcome.failures.keys()].sort((a, b) => a - b);
  const aborted = outcome.stopped === "aborted" || (signal.aborted && failed.length === 0 && outcome.values.size + outcome.stored.size < todo.length);
  if (!aborted && failed.length > 0) {
    await recordFailures(store, manifest.runId, outcome);
    summary.failedChunks = failed;
  }
  const stop = aborted ? { status: "aborted" as const, error: undefined, err: new RunAbortedError(ref, signal.reason) } : whyFailed(outcome, failed, manifest.options.maxFailures, ref);
  if (stop) {
    await end(stop.status, stop.error);
    throw withRun(stop.err);
  }
  // A detached run's driver leaves collecting and reduce to `attach`.
  if (p.collect === false) {
    await end(failed.length ? "partial" : "succeeded");
    return { runId: manifest.runId, result: undefined as O, summary, attempts };
  }
  const values = await valuesInOrder(new RunResults(store, manifest.runId), manifest.chunks, outcome.values, new Set(failed));
  let result: unknown = values;
  if (p.reduce) {
    try {
      result = await p.reduce(values, { failed });
    } catch (err) {
      const remote = toRemoteError(err);
      await end("failed", remote);
      throw withRun(reduceError(err, remote.message, ref));
    }
  }
  summary.wallMs = Date.now() - p.t0;
  summary.speedup = summary.wallMs > 0 ? summary.sumChunkMs / summary.wallMs : 0;
  await end(failed.length ? "partial" : "succeeded");
  return { runId: manifest.runId, result: result as O, summary, attempts: outcome.attempts };
}

/**
 * Dispatch, then sum the run up. A detached run's driver logs its generation's attempts, so
 * the summary (and the attempts) are the whole run's over all its generations.
 */
async function dispatchAndSum(p: ExecuteRunParams, todo: number[], done: Set<number>, stopping: Stopping): Promise<{ outcome: ExecuteOutcome; summary: RunSummary; attempts: AttemptRecord[]; passing: boolean }> {
  const { store, manifest } = p;
  const generation = stopping.lease.generation;
  const logged = p.collect === false && manifest.detached === true;
  if (logged) await writeGenerationLog(store, manifest.runId, generationLog(generation, p.t0, done));
  const checkpoint = logged ? checkpointGeneration(store, manifest.runId, generation, p.t0, done) : undefined;
  const outcome = await dispatch(p, todo, done, stopping, checkpoint?.onSetback).finally(() => checkpoint?.stop());
  const passing = handedOver(p, outcome, stopping);
  if (!logged) return { outcome, summary: summarize(manifest, p.backend, outcome, done.size, p.t0, manifest.options), attempts: outcome.attempts, passing };
  const whole = await closeGeneration(store, manifest, generationLog(generation, p.t0, done, outcome), outcome, !passing);
  return { outcome, summary: summarize(manifest, p.backend, whole.outcome, whole.skipped, whole.startedAt, manifest.options), attempts: whole.outcome.attempts, passing };
}

/** Dispatch stopped for a remote driver's handover alone (not a cancel, a takeover or a failure). */
function handedOver(p: ExecuteRunParams, outcome: ExecuteOutcome, stopping: Stopping): boolean {
  return p.remote?.handover.aborted === true && outcome.stopped === "aborted" && !stopping.cancel.signal.aborted && !stopping.lease.lost;
}

/** A run that cannot go on to reduce: every chunk would fail alike, or more chunks failed than allowed. */
function whyFailed(outcome: ExecuteOutcome, failed: number[], allowed: number | undefined, ref: RunRef): { status: "failed"; error: RunManifest["error"]; err: FanoutError } | undefined {
  if (outcome.fatal) {
    // Access denied, a function that cannot start: nothing to blame a chunk for.
    return { status: "failed", error: toRemoteError(outcome.fatal, "crash"), err: outcome.fatal };
  }
  if (failed.length === 0 || (allowed !== undefined && failed.length <= allowed)) return undefined;
  const first = outcome.failures.get(failed[0]!)!;
  // Made again here, where the job and flags are known, so its hint is a working command.
  const err =
    allowed === undefined
      ? new ChunkFailedError(first.index, first.remote, first.attempts, ref)
      : new TooManyFailuresError(first.index, first.remote, first.attempts, ref, allowed);
  err.failedChunks = failed.length;
  return { status: "failed", error: { ...first.remote, index: first.index }, err };
}

/** One task per chunk still to do, run by the executor with the run's options. */
function dispatch(p: ExecuteRunParams, todo: number[], done: Set<number>, stopping: Stopping, onSetback?: (sofar: Readonly<ExecuteOutcome>) => void): Promise<ExecuteOutcome> {
  const { backend, manifest, options } = p;
  const opts = manifest.options;
  const results = new RunResults(p.store, manifest.runId);
  const base: TaskBase = {
    v: 1 as const,
    runId: manifest.runId,
    count: manifest.chunks,
    bundle: { key: manifest.job.bundleKey, sha256: manifest.job.bundleSha256 },
    export: manifest.job.export,
    timeoutMs: opts.timeoutMs,
    inlineLimit: INLINE_RESULT_BYTES,
  };
  if (p.vars?.env) base.env = p.vars.env;
  if (p.vars?.secrets) base.secrets = p.vars.secrets;
  if (manifest.assets) base.assets = manifest.assets;
  if (manifest.deps) base.deps = manifest.deps;
  if (manifest.output) base.output = manifest.output;
  const tasks: Task[] = todo.map((index) => taskOf(base, index, 1, p.sources[index]!));
  return execute({
    backend,
    runId: manifest.runId,
    tasks,
    total: manifest.chunks,
    skipped: done.size,
    concurrency: Math.min(opts.concurrency, backend.concurrencyCap ?? Infinity),
    retries: opts.retries,
    retryUserErrors: opts.retryUserErrors,
    speculate: opts.speculate,
    ...(opts.oomRetry ? { oomRetry: true } : {}),
    // Dispatch stops at the first failure past what --max-failures allows; without it, at 10.
    maxFailures: opts.maxFailures === undefined ? 10 : opts.maxFailures + 1,
    signal: stopping.signal,
    onStopAttempt: stopping.cancel.stopAttempt,
    ...(onSetback ? { onSetback } : {}),
    ...(manifest.output ? { onAttemptFailed: releaseOnDeath(manifest.output, userS3Access(options.aws)) } : {}),
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
}

function takenOver(ref: RunRef): FanoutError {
  return new FanoutError("E_DRIVER_TAKEN_OVER", `run ${ref.runId} was taken over by another driver; this one stopped`, {
    hint: `follow it with \`${attachCmd(ref)}\``,
    exitCode: 1,
  });
}

/** reduce threw: the results are kept; say how to see them. */
export function reduceError(err: unknown, message: string, ref: RunRef): FanoutError {
  return new FanoutError("E_REDUCE", `reduce threw: ${message}`, {
    hint: `every chunk result is kept in the store (\`${statusCmd(ref)}\`); fix reduce and run again`,
    exitCode: 1,
    cause: err,
  });
}
