/**
 * Calling a chunk's function: pick the export, give it its context, and for a promise race
 * its settling against the worker-side deadline, cancellation and stray-callback errors.
 */
import { format } from "node:util";
import { notAFunction, notAJob } from "../src/job/check.js";
import { isJob, type ChunkContext } from "../src/job/index.js";
import type { ObjectStore } from "../src/store/types.js";
import { readObject } from "../src/plan/objects.js";
import type { OutputRecord, RemoteError, Task } from "../src/types.js";
import { assetPath } from "./assets.js";
import { watchCancel } from "./cancel-watch.js";
import { ChunkOutputs } from "./outputs.js";
import { ChunkCancelledError, ChunkScopeError, ChunkTimeoutError, classify } from "./classify.js";
import { appendLog, chunkScope, type ChunkScope } from "./scope.js";

export type Target = (chunk: unknown, ctx: ChunkContext) => unknown;

export type Outcome = { value?: unknown; error?: RemoteError; outputs?: OutputRecord[] };

/** Filled in by runTask: lets the caller cancel the chunk (a lost speculative copy, a cancelled run). */
export interface CancelHandle {
  cancel?: () => void;
}

export function resolveTarget(module: Record<string, unknown>, name: string): Target {
  const exp = module[name];
  if (isJob(exp)) return exp.map as Target;
  if (typeof exp === "function") return exp as Target;
  // The client checked this before the run; the same words here in case the bundle differs.
  const why = name === "default" ? notAJob(exp, "the bundle") : notAFunction(exp, name, "the bundle");
  throw new TypeError(why!.problem);
}

/** The chunk's AbortController, made only if the chunk looks at ctx.signal: most never do. */
interface LazyAbort {
  ac?: AbortController;
  reason?: unknown;
}

function contextFor(task: Task, scope: ChunkScope, lazy: LazyAbort, store: ObjectStore): ChunkContext {
  return {
    index: task.index,
    count: task.count,
    attempt: task.attempt,
    runId: task.runId,
    get signal() {
      if (!lazy.ac) {
        lazy.ac = new AbortController();
        if (lazy.reason !== undefined) lazy.ac.abort(lazy.reason);
      }
      return lazy.ac.signal;
    },
    log: (...args: unknown[]) => appendLog(scope, format(...args)),
    progress: (fraction: number) => setProgress(scope, fraction),
    // The run store holds local files uploaded for remote workers (files(), lines() of a folder).
    read: (obj, range) => readObject(obj, range, store),
    asset: (name: string) => assetPath(task, name),
    write: (name, body) => (scope.outputs ??= new ChunkOutputs(task)).write(name, body),
  };
}

/** A fraction clipped to 0..1 (NaN and non-numbers are ignored), kept on the scope and passed on. */
function setProgress(scope: ChunkScope, fraction: number): void {
  if (typeof fraction !== "number" || Number.isNaN(fraction)) return;
  const f = Math.min(1, Math.max(0, fraction));
  if (f === scope.progress) return;
  scope.progress = f;
  scope.onProgress?.(f);
}

const ignoreLateFailure = () => {};

/**
 * Call the chunk's function. A synchronous result comes back as is, without a promise. A chunk
 * still running after a second watches `store` for its cancel markers (worker/cancel-watch.ts).
 */
export function callChunk(target: Target, chunk: unknown, task: Task, scope: ChunkScope, handle: CancelHandle | undefined, store: ObjectStore): Outcome | Promise<Outcome> {
  const lazy: LazyAbort = {};
  const ctx = contextFor(task, scope, lazy, store);
  // An error from a stray callback after the chunk finished has no one left to fail.
  scope.fail = ignoreLateFailure;
  let result: unknown;
  try {
    result = chunkScope.run(scope, () => target(chunk, ctx));
  } catch (err) {
    scope.endedAt = Date.now();
    return { error: classify(new ChunkScopeError(err)) };
  }
  if (result === null || typeof (result as PromiseLike<unknown>)?.then !== "function") {
    scope.endedAt = Date.now();
    return { value: result };
  }
  return race(result as PromiseLike<unknown>, task, scope, handle, lazy, store);
}

/** The first of: the chunk's promise settles, the deadline passes, the caller cancels, a stray callback throws. */
function race(result: PromiseLike<unknown>, task: Task, scope: ChunkScope, handle: CancelHandle | undefined, lazy: LazyAbort, store: ObjectStore): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let endWatch: (() => void) | undefined;
    const settle = (o: Outcome) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      endWatch?.();
      if (handle) handle.cancel = undefined;
      scope.fail = ignoreLateFailure;
      resolve(o);
    };
    const abort = (e: Error) => {
      lazy.reason = e;
      lazy.ac?.abort(e);
      settle({ error: classify(e) });
    };
    if (handle) handle.cancel = () => abort(new ChunkCancelledError("chunk cancelled: its result is no longer needed"));
    scope.fail = (err: unknown) => {
      scope.endedAt ??= Date.now();
      settle({ error: classify(new ChunkScopeError(err)) });
    };
    endWatch = watchCancel(store, task, (why) => abort(new ChunkCancelledError(why)));
    if (task.timeoutMs > 0) {
      timer = setTimeout(() => abort(new ChunkTimeoutError(`chunk ${task.index} timed out after ${task.timeoutMs / 1000} s (worker side)`)), task.timeoutMs);
    }
    result.then(
      (v) => {
        scope.endedAt = Date.now();
        settle({ value: v });
      },
      (err: unknown) => {
        scope.endedAt = Date.now();
        settle({ error: classify(new ChunkScopeError(err)) });
      },
    );
  });
}
