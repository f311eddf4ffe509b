/**
 * The one handler that runs a chunk, on Lambda and in the local worker processes alike:
 * load (and cache) the job bundle, resolve the chunk's payload, call the export, write the
 * result envelope to the store, and reply with a small envelope.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { format } from "node:util";
import { toRemoteError } from "../src/errors.js";
import { isJob, type ChunkContext } from "../src/job/index.js";
import { resolveChunk } from "../src/plan/source.js";
import { keys } from "../src/store/keys.js";
import { SerializeError, toJson } from "../src/serialize.js";
import type { ObjectStore } from "../src/store/types.js";
import type { RemoteError, Reply, ResultEnvelope, Task } from "../src/types.js";

export interface WorkerEnv {
  store: ObjectStore;
  platform: "local" | "lambda";
  workerId: string;
  memoryMb?: number;
  /** Where bundles fetched from a remote store are cached (e.g. /tmp on Lambda). */
  cacheDir: string;
  /**
   * Offered each result body before it is stored; returning true means the caller stores
   * it (batched) before the reply leaves. The local worker uses it to write segments.
   */
  defer?: (task: Task, ok: boolean, body: string) => boolean;
}

/** Per-chunk state reachable from anywhere in the chunk's async call tree. */
interface ChunkScope {
  index: number;
  logs: string[];
  logBytes: number;
  /** When the chunk's own code finished (before other chunks' continuations run). */
  endedAt?: number;
  /** Fails the chunk from outside its await chain (an error thrown in a stray callback). */
  fail?: (err: unknown) => void;
}

export const chunkScope = new AsyncLocalStorage<ChunkScope>();

const MAX_LOG_LINES = 2000;
const MAX_LOG_BYTES = 256 * 1024;

function appendLog(scope: ChunkScope, line: string): void {
  if (scope.logs.length >= MAX_LOG_LINES || scope.logBytes >= MAX_LOG_BYTES) {
    if (scope.logs[scope.logs.length - 1] !== "[fanout: further log lines dropped]") {
      scope.logs.push("[fanout: further log lines dropped]");
    }
    return;
  }
  scope.logs.push(line);
  scope.logBytes += line.length;
}

/**
 * Route console output made inside a chunk to that chunk's log. Chunks share a process, so
 * AsyncLocalStorage tells whose line it is. `echo` keeps the original output too (Lambda:
 * CloudWatch).
 */
export function captureConsole(echo: boolean): void {
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      const scope = chunkScope.getStore();
      if (scope) appendLog(scope, format(...args));
      if (!scope || echo) original(...args);
    };
  }
}

type Target = (chunk: unknown, ctx: ChunkContext) => unknown;

interface LoadedBundle {
  module: Record<string, unknown>;
}

const bundles = new Map<string, Promise<LoadedBundle>>();

export class BundleIntegrityError extends Error {
  override name = "BundleIntegrityError";
}

async function loadBundle(task: Task, env: WorkerEnv): Promise<{ bundle: LoadedBundle; cold: boolean }> {
  const sha = task.bundle.sha256;
  let p = bundles.get(sha);
  const cold = p === undefined;
  if (!p) {
    p = (async () => {
      const code = await env.store.get(task.bundle.key);
      const actual = createHash("sha256").update(code).digest("hex");
      if (actual !== sha) {
        throw new BundleIntegrityError(`job bundle ${task.bundle.key} has sha256 ${actual}, expected ${sha}`);
      }
      let file = env.store.localPath?.(task.bundle.key);
      if (!file) {
        file = path.join(env.cacheDir, `${sha}.mjs`);
        if (!fs.existsSync(file)) {
          // Several invocations may share /tmp (threads of one emulator, a reused container):
          // write aside and rename, so nobody imports a half-written file.
          fs.mkdirSync(env.cacheDir, { recursive: true });
          const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
          fs.writeFileSync(tmp, code);
          fs.renameSync(tmp, file);
        }
      }
      const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      return { module };
    })();
    bundles.set(sha, p);
    // A failed load (store outage) must not poison the cache for the next invocation.
    p.catch(() => bundles.delete(sha));
  }
  return { bundle: await p, cold };
}

function resolveTarget(module: Record<string, unknown>, name: string): Target {
  const exp = module[name];
  if (isJob(exp)) return exp.map as Target;
  if (typeof exp === "function") return exp as Target;
  throw new TypeError(
    name === "default"
      ? "the bundle's default export is not a job made with defineJob"
      : `the bundle's export "${name}" is not a function`,
  );
}

/** Thrown inside a chunk's abort signal when the worker-side timeout fires. */
export class ChunkTimeoutError extends Error {
  override name = "ChunkTimeoutError";
}

/** Errors that mean the store or network failed, not the chunk: the executor retries these. */
function isTransient(err: unknown): boolean {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  if (e?.$retryable) return true;
  const status = e?.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  const code = e?.code ?? "";
  return [
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "EPIPE",
    "EAI_AGAIN",
    "EACCES",
    "EPERM",
    "EROFS",
    "ENOSPC",
    "EBUSY",
    "EMFILE",
    "ENOTDIR",
    "ENOENT",
    "EIO",
  ].includes(code) || e?.name === "TimeoutError" || e?.name === "NetworkingError";
}

/** Filled in by runTask: lets the caller cancel the chunk (a lost speculative copy, a cancelled run). */
export interface CancelHandle {
  cancel?: () => void;
}

export interface RunTaskOptions {
  handle?: CancelHandle;
  /** Told when the chunk itself starts, after the bundle and payload are loaded. */
  onStart?: () => void;
}

type Outcome = { value?: unknown; error?: RemoteError };

/** Modules of bundles that finished loading, for the synchronous fast path. */
const loadedModules = new Map<string, Record<string, unknown>>();

/**
 * Run one task. Never throws: every outcome, including a store outage, becomes a Reply, so
 * the caller only has to carry it back. Only ok envelopes and chunk failures are stored.
 *
 * A chunk whose bundle is loaded, whose payload is inline and whose map returns at once is
 * run without a single promise (a synchronous Reply comes back): at tens of thousands of
 * chunks a second, promises, timers and their async-context hooks are most of the cost.
 */
export function runTask(task: Task, env: WorkerEnv, opts: RunTaskOptions = {}): Reply | Promise<Reply> {
  const t0 = Date.now();
  const scope: ChunkScope = { index: task.index, logs: [], logBytes: 0 };
  const mod = loadedModules.get(task.bundle.sha256);
  if (mod && task.source.kind === "inline") {
    let target: Target;
    try {
      target = resolveTarget(mod, task.export);
    } catch (err) {
      return finish(task, env, scope, { error: classify(err) }, t0, t0, false);
    }
    return start(task, env, opts, scope, target, task.source.value, t0, false);
  }
  return (async () => {
    let cold = false;
    try {
      const loaded = await loadBundle(task, env);
      cold = loaded.cold;
      loadedModules.set(task.bundle.sha256, loaded.bundle.module);
      const target = resolveTarget(loaded.bundle.module, task.export);
      const chunk = await resolveChunk(task.source, env.store);
      return await start(task, env, opts, scope, target, chunk, t0, cold);
    } catch (err) {
      return finish(task, env, scope, { error: classify(err) }, t0, t0, cold);
    }
  })();
}

function start(
  task: Task,
  env: WorkerEnv,
  opts: RunTaskOptions,
  scope: ChunkScope,
  target: Target,
  chunk: unknown,
  t0: number,
  cold: boolean,
): Reply | Promise<Reply> {
  const startedAt = Date.now();
  opts.onStart?.();
  const outcome = callChunk(target, chunk, task, scope, opts.handle);
  if (outcome instanceof Promise) return outcome.then((o) => finish(task, env, scope, o, t0, startedAt, cold));
  return finish(task, env, scope, outcome, t0, startedAt, cold);
}

/** Serialize, store (or hand to the batching writer), and shape the reply. */
function finish(
  task: Task,
  env: WorkerEnv,
  scope: ChunkScope,
  o: Outcome,
  t0: number,
  startedAt: number,
  cold: boolean,
): Reply | Promise<Reply> {
  let error = o.error;
  let valueJson: string | undefined;
  if (!error) {
    try {
      valueJson = toJson(o.value);
    } catch (err) {
      error = classify(err);
    }
  }
  const value = error ? undefined : o.value;
  const envelope: ResultEnvelope = {
    v: 1,
    runId: task.runId,
    index: task.index,
    attempt: task.attempt,
    ok: error === undefined,
    ...(error ? { error } : {}),
    timing: { startedAt, endedAt: scope.endedAt ?? Date.now(), loadMs: startedAt - t0, coldStart: cold },
    logs: scope.logs,
    worker: { platform: env.platform, id: env.workerId, ...(env.memoryMb ? { memoryMb: env.memoryMb } : {}) },
  };
  const bytes = valueJson?.length ?? 0;
  // The envelope becomes the reply. Its value needs no JSON round trip here: IPC and the
  // Lambda runtime both carry the reply as JSON, as the store does.
  const reply = (): Reply => {
    const r = envelope as Reply;
    r.bytes = bytes;
    if (envelope.ok && value !== undefined) {
      if (bytes <= task.inlineLimit) r.value = value;
      else r.stored = true;
    }
    return r;
  };
  if (error?.kind === "transient" || error?.kind === "cancelled") return reply();
  // The stored envelope is built by splicing the value's JSON in, so the value is serialized once.
  const head = JSON.stringify(envelope);
  const body = valueJson === undefined || value === undefined ? head : `${head.slice(0, -1)},"value":${valueJson}}`;
  // A batching writer may take the result; it then owns durability (and reports failure).
  if (env.defer?.(task, envelope.ok, body)) return reply();
  const key = envelope.ok ? keys.result(task.runId, task.index) : keys.failure(task.runId, task.index);
  return env.store.put(key, body).then(reply, (err: unknown) => {
    // The result exists only in this reply; the client must not take it as stored.
    const { value: _v, ...rest } = envelope as ResultEnvelope & { value?: unknown };
    return { ...rest, ok: false, error: toRemoteError(err, "transient"), bytes: 0 };
  });
}

function classify(err: unknown): RemoteError {
  if (err instanceof ChunkTimeoutError) return toRemoteError(err, "timeout");
  if (err instanceof SerializeError) return toRemoteError(err, "serialize");
  if (err instanceof ChunkCancelledError) return toRemoteError(err, "cancelled");
  if (err instanceof ChunkScopeError) return toRemoteError(err.inner, "user");
  if (isTransient(err)) return toRemoteError(err, "transient");
  return toRemoteError(err, "user");
}

class ChunkCancelledError extends Error {
  override name = "ChunkCancelledError";
}

/** Marks an error as thrown by the chunk's own code, so a chunk's EACCES is not taken for an outage. */
class ChunkScopeError extends Error {
  constructor(readonly inner: unknown) {
    super("chunk error");
  }
}

const ignoreLateFailure = () => {};

/**
 * Call the chunk's function. A synchronous result comes back as is; for a promise, the
 * worker-side deadline, cancellation and errors from stray callbacks race its settling.
 */
function callChunk(target: Target, chunk: unknown, task: Task, scope: ChunkScope, handle: CancelHandle | undefined): Outcome | Promise<Outcome> {
  // The AbortController is made only if the chunk looks at ctx.signal: most never do.
  let ac: AbortController | undefined;
  let abortReason: unknown;
  const ctx: ChunkContext = {
    index: task.index,
    count: task.count,
    attempt: task.attempt,
    runId: task.runId,
    get signal() {
      if (!ac) {
        ac = new AbortController();
        if (abortReason !== undefined) ac.abort(abortReason);
      }
      return ac.signal;
    },
    log: (...args: unknown[]) => appendLog(scope, format(...args)),
  };
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
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (o: Outcome) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (handle) handle.cancel = undefined;
      scope.fail = ignoreLateFailure;
      resolve(o);
    };
    const abort = (e: Error) => {
      abortReason = e;
      ac?.abort(e);
      settle({ error: classify(e) });
    };
    if (handle) handle.cancel = () => abort(new ChunkCancelledError("chunk cancelled: its result is no longer needed"));
    scope.fail = (err: unknown) => {
      scope.endedAt ??= Date.now();
      settle({ error: classify(new ChunkScopeError(err)) });
    };
    if (task.timeoutMs > 0) {
      timer = setTimeout(() => abort(new ChunkTimeoutError(`chunk ${task.index} timed out after ${task.timeoutMs / 1000} s (worker side)`)), task.timeoutMs);
    }
    (result as PromiseLike<unknown>).then(
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

/** Attribute an error thrown outside any await chain (a stray setTimeout) to its chunk, if any. */
export function currentChunk(): ChunkScope | undefined {
  return chunkScope.getStore();
}

/**
 * Keep one chunk's misbehaviour inside that chunk, wherever chunks share a process (the local
 * pool; Lambda containers and emulator threads reused across invocations): process.exit in a
 * chunk becomes that chunk's error, and an error thrown from a stray callback fails the chunk
 * whose async context made it. Returns the real exit for the host's own use.
 */
export function guardProcess(outsideChunk: (err: unknown, exit: (code?: number) => never) => void): (code?: number) => never {
  const realExit = process.exit.bind(process) as (code?: number) => never;
  process.exit = ((code?: number) => {
    if (chunkScope.getStore()) throw new Error(`map called process.exit(${code ?? ""}); return or throw instead`);
    return realExit(code);
  }) as typeof process.exit;
  const onStray = (err: unknown) => {
    const scope = chunkScope.getStore();
    if (scope?.fail) return scope.fail(err);
    outsideChunk(err, realExit);
  };
  process.on("uncaughtException", onStray);
  process.on("unhandledRejection", onStray);
  return realExit;
}
