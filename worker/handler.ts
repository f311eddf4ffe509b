/**
 * The one handler that runs a chunk, on Lambda and in the local worker processes alike:
 * load (and cache) the job bundle, resolve the chunk's payload, call the export, write the
 * result envelope to the store, and reply with a small envelope.
 */
import { resolveChunk } from "../src/plan/source.js";
import type { Reply, Task } from "../src/types.js";
import { assetsReady, fetchAssets } from "./assets.js";
import { loadBundle, loadedModule } from "./bundle-cache.js";
import { callChunk, resolveTarget, type CancelHandle, type Outcome, type Target } from "./call.js";
import { classify } from "./classify.js";
import type { WorkerEnv } from "./env.js";
import { enterVars, redact, type Release, type Vars } from "./env-scope.js";
import { Watch } from "./memory.js";
import type { ChunkOutputs } from "./outputs.js";
import { storeAndReply, type Times } from "./reply.js";
import { followChunk, type DropParts } from "./live-log.js";
import { newScope, type ChunkScope } from "./scope.js";
import { varsOf } from "./secrets.js";

export interface RunTaskOptions {
  handle?: CancelHandle;
  /** Told when the chunk itself starts, after the bundle and payload are loaded. */
  onStart?: () => void;
}

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
  const scope = newScope(task.index);
  const mod = loadedModule(task.bundle.sha256);
  if (mod && task.source.kind === "inline" && !task.secrets && assetsReady(task)) {
    let target: Target;
    try {
      target = resolveTarget(mod, task.export);
    } catch (err) {
      return storeAndReply(task, env, scope, { error: classify(err) }, { t0, startedAt: t0, cold: false });
    }
    return start(task, env, opts, scope, target, task.source.value, { t0, startedAt: t0, cold: false }, task.env);
  }
  return runLoading(task, env, opts, scope, t0);
}

/** The slow path: load the bundle and fetch the payload first. */
async function runLoading(task: Task, env: WorkerEnv, opts: RunTaskOptions, scope: ChunkScope, t0: number): Promise<Reply> {
  let cold = false;
  let depsMs: number | undefined;
  const times = (): Times => ({ t0, startedAt: t0, cold, ...(depsMs !== undefined ? { depsMs } : {}) });
  try {
    const loaded = await loadBundle(task.bundle, env, task.deps);
    cold = loaded.cold;
    if (loaded.depsMs !== undefined) depsMs = loaded.depsMs;
    const target = resolveTarget(loaded.module, task.export);
    // Every asset is fetched and checked before the chunk starts, so ctx.asset is synchronous.
    await fetchAssets(task, env);
    let chunk: unknown = await resolveChunk(task.source, env.store);
    const vars = await varsOf(task, env.readSecret);
    const reply = start(task, env, opts, scope, target, chunk, times(), vars);
    // Not held while the result is stored: a chunk's lines are garbage once its function returns
    // (chunks run side by side; bench/run.js, case g).
    chunk = undefined;
    return await reply;
  } catch (err) {
    return storeAndReply(task, env, scope, { error: classify(err) }, times());
  }
}

/** Call the chunk inside its variables' scope (waiting for the process to be free of other sets). */
function start(
  task: Task,
  env: WorkerEnv,
  opts: RunTaskOptions,
  scope: ChunkScope,
  target: Target,
  chunk: unknown,
  times: Times,
  vars: Vars,
): Reply | Promise<Reply> {
  const entered = enterVars(vars);
  if (entered instanceof Promise) return entered.then((release) => call(task, env, opts, scope, target, chunk, times, vars, release));
  return call(task, env, opts, scope, target, chunk, times, vars, entered);
}

function call(
  task: Task,
  env: WorkerEnv,
  opts: RunTaskOptions,
  scope: ChunkScope,
  target: Target,
  chunk: unknown,
  times: Times,
  vars: Vars,
  release: Release,
): Reply | Promise<Reply> {
  times.startedAt = Date.now();
  opts.onStart?.();
  const { progress } = env;
  if (progress) scope.onProgress = (f) => progress(task, f);
  const watch = new Watch();
  const outcome = callChunk(target, chunk, task, scope, opts.handle, env.store);
  const end = (o: Outcome): Reply | Promise<Reply> => {
    release();
    const memory = watch.stop();
    if (scope.outputs) return settleOutputs(scope.outputs, o).then((settled) => finish(settled, memory));
    return finish(o, memory);
  };
  const finish = (o: Outcome, memory: ReturnType<Watch["stop"]>): Reply | Promise<Reply> => {
    if (vars) redactScope(scope, o, vars);
    return storeAndReply(task, env, scope, o, times, memory);
  };
  if (outcome instanceof Promise) {
    watch.follow();
    // Only a chunk that waits can outlive a flush interval: its lines go to the store as it runs.
    const stopLive = followChunk(task, env, scope, vars ? (line) => redact(line, vars) : undefined);
    return outcome.then((o) => {
      const dropParts = stopLive();
      return dropParts ? whenStored(end(o), dropParts) : end(o);
    });
  }
  return end(outcome);
}

/** Once the outcome is stored (its envelope holds every line), the live parts are not needed. */
async function whenStored(reply: Reply | Promise<Reply>, dropParts: DropParts): Promise<Reply> {
  const r = await reply;
  // A transient or cancelled outcome is not stored: its parts are all there is of its lines.
  if (r.ok || (r.error && r.error.kind !== "transient" && r.error.kind !== "cancelled")) await dropParts();
  return r;
}

/** A chunk's writes count only if it succeeded: commit them (a failed commit fails the chunk), or drop them. */
async function settleOutputs(outputs: ChunkOutputs, o: Outcome): Promise<Outcome> {
  if (o.error) {
    await outputs.discard();
    return o;
  }
  try {
    return { ...o, outputs: await outputs.commit() };
  } catch (err) {
    return { error: classify(err) };
  }
}

/** The run's values out of what the chunk leaves behind: its log lines and its error. */
function redactScope(scope: ChunkScope, o: Outcome, vars: Vars): void {
  for (let i = 0; i < scope.logs.length; i++) scope.logs[i] = redact(scope.logs[i]!, vars);
  if (o.error) {
    o.error.message = redact(o.error.message, vars);
    if (o.error.stack) o.error.stack = redact(o.error.stack, vars);
  }
}
