/**
 * The worker's side of cancellation. A client that stops waiting for a chunk cannot stop a
 * Lambda invocation (it runs on to its timeout, billed), so the client leaves a marker in the
 * store (src/run/cancel.ts) and the chunk's worker looks for it while the chunk runs.
 *
 * Only chunks that have run for a while are watched: a short chunk would end before a stop
 * saved anything, and at tens of thousands of chunks a second the checks would cost more than
 * the chunks. Each check is two HEADs (exists), one for the run's marker and one for this
 * attempt's.
 */
import { keys } from "../src/store/keys.js";
import type { ObjectStore } from "../src/store/types.js";
import type { Task } from "../src/types.js";

/** When to start looking and how often; tests may shorten them. */
interface CancelWatchSettings {
  /** A chunk is first checked after running this long... */
  afterMs: number;
  /** ...and then this long after each check ends. */
  everyMs: number;
}

const DEFAULT_SETTINGS: CancelWatchSettings = { afterMs: 1000, everyMs: 1000 };

/**
 * Calls `onCancel` with the reason once the run's or this attempt's cancel marker appears;
 * returns the function that ends the watch (call it when the chunk settles).
 */
export function watchCancel(store: ObjectStore, task: Task, onCancel: (why: string) => void, settings = DEFAULT_SETTINGS): () => void {
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const check = async () => {
    const [run, attempt] = await Promise.all([
      store.exists(keys.cancelRun(task.runId)),
      store.exists(keys.cancelAttempt(task.runId, task.index, task.attempt)),
    ]).catch(() => [false, false]); // a store hiccup: look again next time
    if (ended) return;
    if (run) return onCancel(`chunk ${task.index} stopped: its run was cancelled`);
    if (attempt) return onCancel(`chunk ${task.index} attempt ${task.attempt} stopped: another attempt finished the chunk first`);
    schedule(settings.everyMs);
  };
  const schedule = (ms: number) => {
    // Not unref'd: a chunk that only awaits ctx.signal must keep its process alive until the stop.
    timer = setTimeout(() => void check(), ms);
  };
  schedule(settings.afterMs);
  return () => {
    ended = true;
    clearTimeout(timer);
  };
}
