/**
 * The end of a chunk: serialize its value, write the result envelope to the store (or hand it
 * to the host's batching writer), and shape the small reply that goes back to the caller.
 */
import { toRemoteError } from "../src/errors.js";
import { toJson } from "../src/serialize.js";
import { keys } from "../src/store/keys.js";
import type { PeakMemory, RemoteError, Reply, ResultEnvelope, Task } from "../src/types.js";
import type { Outcome } from "./call.js";
import { classify } from "./classify.js";
import { putDurably } from "./durable-put.js";
import type { WorkerEnv } from "./env.js";
import type { ChunkScope } from "./scope.js";

/**
 * A reply above this many bytes leaves its logs and value in the store only and says `stored`:
 * Lambda refuses a reply over 6,291,556 bytes (Function.ResponseSizeTooLarge), which would
 * lose the reply of a chunk whose result is safe in S3.
 */
const REPLY_MAX_BYTES = 5.5 * 1024 * 1024;
/** The reply's log when the logs stayed in the store. */
const LOGS_IN_STORE = "[fanout: this chunk's logs are in the store only (its reply would be too large); see `fanout logs`]";

/** When the task arrived (t0), when the chunk itself started, and whether the bundle loaded cold. */
export interface Times {
  t0: number;
  startedAt: number;
  cold: boolean;
  /** Fetching, checking and unpacking the run's dependency archive, when this invocation did it. */
  depsMs?: number;
}

/** Serialize, store (or hand to the batching writer), and shape the reply. */
export function storeAndReply(task: Task, env: WorkerEnv, scope: ChunkScope, o: Outcome, times: Times, memory?: PeakMemory): Reply | Promise<Reply> {
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
  const envelope = envelopeOf(task, env, scope, error, times);
  if (memory) envelope.memory = memory;
  if (!error && o.outputs?.length) envelope.outputs = o.outputs;
  const bytes = valueJson?.length ?? 0;
  if (error?.kind === "transient" || error?.kind === "cancelled") return replyOf(envelope, value, bytes, task.inlineLimit);
  // The stored envelope is built by splicing the value's JSON in, so the value is serialized once.
  const head = JSON.stringify(envelope);
  const body = valueJson === undefined || value === undefined ? head : `${head.slice(0, -1)},"value":${valueJson}}`;
  // A batching writer may take the result; it then owns durability (and reports failure).
  if (env.defer?.(task, envelope.ok, body)) return replyOf(envelope, value, bytes, task.inlineLimit);
  const key = envelope.ok ? keys.result(task.runId, task.index) : keys.failure(task.runId, task.index);
  const limit = tooLargeToReply(head, bytes <= task.inlineLimit ? bytes : 0) ? -1 : task.inlineLimit;
  const stored = env.replyBy ? putDurably(env.store, key, body, env.replyBy) : env.store.put(key, body);
  return stored.then(
    () => replyOf(envelope, value, bytes, limit),
    // The result exists only in this reply; the client must not take it as stored.
    (err: unknown): Reply => ({ ...envelope, ok: false, error: toRemoteError(err, "transient"), bytes: 0 }),
  );
}

function envelopeOf(task: Task, env: WorkerEnv, scope: ChunkScope, error: RemoteError | undefined, times: Times): ResultEnvelope {
  const { t0, startedAt, cold, depsMs } = times;
  return {
    v: 1,
    runId: task.runId,
    index: task.index,
    attempt: task.attempt,
    ok: error === undefined,
    ...(error ? { error } : {}),
    timing: { startedAt, endedAt: scope.endedAt ?? Date.now(), loadMs: startedAt - t0, coldStart: cold, ...(depsMs !== undefined ? { depsMs } : {}) },
    logs: scope.logs,
    worker: { platform: env.platform, id: env.workerId, ...(env.memoryMb ? { memoryMb: env.memoryMb } : {}) },
    // A run resumed with --rebuild mixes builds: each result names the one that made it.
    bundleSha256: task.bundle.sha256,
  };
}

/** Whether a reply of this envelope (JSON `head`) and an inline value of `inlineBytes` could pass REPLY_MAX_BYTES. */
function tooLargeToReply(head: string, inlineBytes: number): boolean {
  // Counting UTF-8 bytes costs a pass over the text: only replies that might be large pay it.
  return (head.length + inlineBytes) * 3 > REPLY_MAX_BYTES && Buffer.byteLength(head) + inlineBytes * 3 > REPLY_MAX_BYTES;
}

/**
 * The envelope becomes the reply. Its value needs no JSON round trip here: IPC and the Lambda
 * runtime both carry the reply as JSON, as the store does. A value over the inline limit stays
 * in the store.
 */
function replyOf(envelope: ResultEnvelope, value: unknown, bytes: number, inlineLimit: number): Reply {
  const r = envelope as Reply;
  r.bytes = bytes;
  // -1: the reply would be too large; the store holds the logs and value (stored above).
  if (inlineLimit < 0) r.logs = [LOGS_IN_STORE];
  if (envelope.ok && value !== undefined) {
    if (bytes <= inlineLimit) r.value = value;
    else r.stored = true;
  }
  return r;
}
