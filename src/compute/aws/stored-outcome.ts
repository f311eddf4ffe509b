/**
 * An attempt's outcome read from the store when its reply cannot tell it: the connection
 * dropped after Lambda took the invocation, the reply passed Lambda's 6 MB limit, or the
 * runtime answered for a stray error itself. The worker writes the result (or the chunk's
 * failure) to S3 before it replies, so S3 holds the answer, or soon will.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { keys } from "../../store/keys.js";
import type { ObjectStore } from "../../store/types.js";
import type { Reply, ResultEnvelope, Task } from "../../types.js";

/** Polling starts fast (the PUT is usually there already) and backs off to this. */
const MAX_POLL_MS = 5_000;

/**
 * The chunk's result (any attempt's: each is the chunk's answer) or this attempt's failure,
 * as the Reply the invocation would have carried; undefined while neither is in the store.
 * A result comes back `stored`: the run reads its value from the store.
 */
async function storedOutcome(store: ObjectStore, task: Task): Promise<Reply | undefined> {
  const result = await store.getIfExists(keys.result(task.runId, task.index));
  if (result) {
    const { value: _value, ...envelope } = JSON.parse(result.toString("utf8")) as ResultEnvelope & { value?: unknown };
    return { ...envelope, stored: true, bytes: result.length };
  }
  const failure = await store.getIfExists(keys.failure(task.runId, task.index));
  if (!failure) return undefined;
  const envelope = JSON.parse(failure.toString("utf8")) as ResultEnvelope;
  // An earlier attempt's failure says nothing about this one.
  return envelope.attempt === task.attempt ? { ...envelope, bytes: 0 } : undefined;
}

/**
 * Polls storedOutcome with backoff until it answers or `untilMs` (epoch ms) passes; store
 * errors count as "not yet". Undefined when nothing came, or `signal` aborted the wait.
 */
export async function awaitStoredOutcome(store: ObjectStore, task: Task, untilMs: number, signal: AbortSignal): Promise<Reply | undefined> {
  for (let wait = 100; !signal.aborted; wait = Math.min(MAX_POLL_MS, wait * 2)) {
    const found = await storedOutcome(store, task).catch(() => undefined);
    if (found) return found;
    const left = untilMs - Date.now();
    if (left <= 0) return undefined;
    await sleep(Math.min(wait, left), undefined, { signal }).catch(() => undefined);
  }
  return undefined;
}
