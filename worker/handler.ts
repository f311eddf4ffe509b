/**
 * The one handler that runs a chunk, on Lambda and in the local worker processes alike:
 * load (and cache) the job bundle, resolve the chunk's payload, call the export, write the
 * result envelope to the store, and reply with a small envelope.
 */
import { resolveChunk } from "../src/plan/source.js";
import type { Reply, Task } from "../src/types.js";
import { loadBundle, loadedModule } from "./bundle-cache.js";
import { callChunk, resolveTarget, type CancelHandle, type Target } from "./call.js";
import { classify } from "./classify.js";
import type { WorkerEnv } from "./env.js";
import { storeAndReply } from "./reply.js";
import { newScope, type ChunkScope } from "./scope.js";

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
  if (mod && task.source.kind === "inline") {
    let target: Target;
    try {
      target = resolveTarget(mod, task.export);
    } catch (err) {
      return storeAndReply(task, env, scope, { error: classify(err) }, { t0, startedAt: t0, cold: false });
    }
    return start(task, env, opts, scope, target, task.source.value, t0, false);
  }
  return runLoading(task, env, opts, scope, t0);
}

/** The slow path: load the bundle and fetch the payload first. */
async function runLoading(task: Task, env: WorkerEnv, opts: RunTaskOptions, scope: ChunkScope, t0: number): Promise<Reply> {
  let cold = false;
  try {
    const loaded = await loadBundle(task.bundle, env);
    cold = loaded.cold;
    const target = resolveTarget(loaded.module, task.export);
    const chunk = await resolveChunk(task.source, env.store);
    return await start(task, env, opts, scope, target, chunk, t0, cold);
  } catch (err) {
    return storeAndReply(task, env, scope, { error: classify(err) }, { t0, startedAt: t0, cold });
  }
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
  const outcome = callChunk(target, chunk, task, scope, opts.handle, env.store);
  const times = { t0, startedAt, cold };
  if (outcome instanceof Promise) return outcome.then((o) => storeAndReply(task, env, scope, o, times));
  return storeAndReply(task, env, scope, outcome, times);
}
