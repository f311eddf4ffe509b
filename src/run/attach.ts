/**
 * Attaching to a run from any process: progress read from the store (results and failures
 * counted as they land), then, once the run's driver has finished it, reduce here, as `run`
 * would. A run whose driver is gone gets a new one. Attaching twice, or after the end, works:
 * attach only reads.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { openStore } from "../compute/open.js";
import { ChunkFailedError, RunAbortedError, RunNotFoundError, toRemoteError } from "../errors.js";
import { checkBackend, type CommonOptions } from "../options.js";
import { isRunId, keys } from "../store/keys.js";
import { RunResults } from "../store/results.js";
import type { ObjectStore } from "../store/types.js";
import type { Progress, RunManifest } from "../types.js";
import { followUpFlags, type RunRef } from "../util/follow-up.js";
import { runAttempts } from "./attempt-log.js";
import { polled, startAnyDriver } from "./detach.js";
import { reduceError } from "./execute.js";
import { storeAndImport } from "./import-bundle.js";
import { liveLease } from "./lease.js";
import { shownStatus } from "./liveness.js";
import { readManifest } from "./manifest.js";
import { valuesInOrder } from "./results.js";
import { storeConfig } from "./prepare.js";
import type { RunResult } from "./types.js";

/** Options of `attach`: where the run's store is, cancelling the wait, and progress. */
export interface AttachOptions extends Pick<CommonOptions, "backend" | "store" | "aws" | "cwd" | "signal" | "onProgress" | "onNotice"> {}

/** How often the store is read while the run goes on. */
const POLL_MS = 500;

/**
 * Follow run `runId` until it ends, then return what `run` would have: the reduced result and
 * the summary its driver recorded, with the attempts of every driver generation (for a report).
 * Aborting `signal` stops the wait only; the run goes on.
 */
export async function attach<O = unknown>(runId: string, options: AttachOptions = {}): Promise<RunResult<O>> {
  const cwd = options.cwd ?? process.cwd();
  const backend = checkBackend(options.backend);
  const opened = await openStore(storeConfig(backend, cwd, options));
  try {
    if (!isRunId(runId)) throw new RunNotFoundError(runId, opened.store.location);
    const ref: RunRef = { runId, flags: followUpFlags(backend, options.store) };
    const m = await waitForEnd(opened.store, runId, { ...options, backend, cwd });
    if (m.job.export === "default") ref.jobPath = m.job.path;
    return await resultOf<O>(opened.store, m, ref);
  } finally {
    await opened.close();
  }
}

/** Poll the run's manifest and results until it is no longer running; restart its driver if it is gone. */
async function waitForEnd(store: ObjectStore, runId: string, options: AttachOptions & { backend: ReturnType<typeof checkBackend>; cwd: string }): Promise<RunManifest> {
  const t0 = Date.now();
  for (;;) {
    const m = await polled(() => readManifest(store, runId));
    if (m.status !== "running") {
      options.onProgress?.(await polled(() => progressOf(store, m, t0)));
      return m;
    }
    // A remote driver shares its host and process with others: only its lease says it is gone.
    const gone = options.backend === "local" ? shownStatus(m) === "interrupted" : true;
    // Read again once the lease is gone: a driver that just finished wrote the manifest, then released the lease.
    if (gone && !(await polled(() => liveLease(store, runId))) && (await polled(() => readManifest(store, runId))).status === "running") {
      const where = await startAnyDriver(store, runId, options);
      options.onNotice?.(`run ${runId}'s driver was gone: a new one (${where}) goes on with it`);
    }
    options.onProgress?.(await polled(() => progressOf(store, m, t0)));
    if (options.signal?.aborted) throw new RunAbortedError({ runId }, options.signal.reason);
    try {
      await sleep(POLL_MS, undefined, options.signal ? { signal: options.signal } : undefined);
    } catch {
      throw new RunAbortedError({ runId }, options.signal?.reason);
    }
  }
}

/** Progress as the store shows it: each chunk counts once, by its stored result or failure. */
async function progressOf(store: ObjectStore, m: RunManifest, t0: number): Promise<Progress> {
  const done = (await new RunResults(store, m.runId).done()).size;
  const failed = (await store.list(keys.failuresPrefix(m.runId))).length;
  const elapsedMs = Date.now() - t0;
  const left = Math.max(0, m.chunks - done - failed);
  return {
    total: m.chunks,
    done,
    failed,
    // The driver's attempts are not in the store: as many as its concurrency allows, at most.
    running: m.status === "running" ? Math.min(left, m.options.concurrency) : 0,
    skipped: 0,
    retries: 0,
    speculated: 0,
    rate: elapsedMs > 0 ? (done * 1000) / elapsedMs : 0,
    elapsedMs,
  };
}

/** The end of a finished run, as `run` gives it: reduce over the stored values, or its error. */
async function resultOf<O>(store: ObjectStore, m: RunManifest, ref: RunRef): Promise<RunResult<O>> {
  const summary = m.summary!;
  const attempts = await polled(() => runAttempts(store, m.runId));
  if (m.status === "aborted") throw Object.assign(new RunAbortedError(ref), { summary, attemptLog: attempts });
  if (m.status === "failed") {
    const e = m.error!;
    const err = new ChunkFailedError(e.index ?? 0, e, 1, ref);
    err.summary = summary;
    err.attemptLog = attempts;
    throw err;
  }
  const values = await valuesInOrder(new RunResults(store, m.runId), m.chunks, new Map());
  let result: unknown = values;
  if (m.job.export === "default") {
    const code = await store.get(m.job.bundleKey);
    const { mod } = await storeAndImport(store, { code, sha256: m.job.bundleSha256, entry: m.job.path }, m.deps?.root);
    const reduce = (mod.default as { reduce?: (v: unknown[]) => unknown }).reduce;
    if (reduce) {
      try {
        result = await reduce(values);
      } catch (err) {
        throw reduceError(err, toRemoteError(err).message, ref);
      }
    }
  }
  return { runId: m.runId, result: result as O, summary, attempts };
}
