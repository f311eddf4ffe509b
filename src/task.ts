import type { ChunkSource, Task, TaskBase } from "./types.js";

/**
 * A task from its run's shared fields and its own. Written out field by field, not as a
 * spread of base: it runs once per chunk, and at 100,000 chunks the difference shows.
 */
export function taskOf(base: TaskBase, index: number, attempt: number, source: ChunkSource): Task {
  const task: Task = {
    v: 1,
    runId: base.runId,
    count: base.count,
    bundle: base.bundle,
    export: base.export,
    timeoutMs: base.timeoutMs,
    inlineLimit: base.inlineLimit,
    index,
    attempt,
    source,
  };
  if (base.bucket !== undefined) task.bucket = base.bucket;
  if (base.env !== undefined) task.env = base.env;
  if (base.secrets !== undefined) task.secrets = base.secrets;
  if (base.assets !== undefined) task.assets = base.assets;
  if (base.output !== undefined) task.output = base.output;
  if (base.deps !== undefined) task.deps = base.deps;
  return task;
}

/** The shared fields of a task: what travels once per run and process. */
export function baseOf(t: TaskBase): TaskBase {
  const base: TaskBase = { v: 1, runId: t.runId, count: t.count, bundle: t.bundle, export: t.export, timeoutMs: t.timeoutMs, inlineLimit: t.inlineLimit };
  if (t.bucket !== undefined) base.bucket = t.bucket;
  if (t.env !== undefined) base.env = t.env;
  if (t.secrets !== undefined) base.secrets = t.secrets;
  if (t.assets !== undefined) base.assets = t.assets;
  if (t.output !== undefined) base.output = t.output;
  if (t.deps !== undefined) base.deps = t.deps;
  return base;
}
