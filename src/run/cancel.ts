/**
 * Cancellation that reaches the workers. A Lambda chunk whose client stops waiting runs on to
 * its timeout, billed, so the client leaves markers in the store that workers check while a
 * chunk runs (worker/cancel-watch.ts): one for the whole run (an aborted signal, Ctrl-C,
 * `fanout cancel` from anywhere) and one per attempt no longer wanted (a beaten straggler).
 */
import { keys } from "../store/keys.js";
import { retrying } from "../store/retrying.js";
import type { ObjectStore } from "../store/types.js";

/** How often the client looks for a run marker another process wrote (`fanout cancel`): one HEAD. */
const POLL_MS = 1000;

/** The run's cancellation while it executes: its signal, and the markers it writes. */
export interface RunCancel {
  /** Aborted by the caller's signal or by a run marker someone else wrote. */
  readonly signal: AbortSignal;
  /** Tell the worker running this attempt to stop (a losing copy). */
  stopAttempt(index: number, attempt: number): void;
  /** Stop watching; waits for markers being written. */
  close(): Promise<void>;
}

/** The reason a run stopped by `fanout cancel` (seen in RunAbortedError's message). */
const cancelledElsewhere = () => new Error("cancelled by `fanout cancel`");

/**
 * Markers of an earlier, cancelled session of this run are removed first: a resumed run starts
 * its chunks at attempt 1 again, and must not be stopped by what stopped its predecessor.
 */
export async function watchRunCancel(store: ObjectStore, runId: string, outer: AbortSignal | undefined): Promise<RunCancel> {
  const stale = await retrying(() => store.list(keys.cancelPrefix(runId)));
  if (stale.length) await retrying(() => store.delete(stale));
  const ac = new AbortController();
  const writes = new Set<Promise<void>>();
  const mark = (key: string) => {
    const w = retrying(() => store.put(key, markerBody()), 3)
      .catch(() => {}) // a worker not told runs to its deadline, as before: not worth failing the run
      .finally(() => writes.delete(w));
    writes.add(w);
  };
  const onOuterAbort = () => {
    mark(keys.cancelRun(runId));
    ac.abort(outer!.reason);
  };
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener("abort", onOuterAbort, { once: true });
  let polling = false;
  const timer = setInterval(() => {
    if (polling || ac.signal.aborted) return;
    polling = true;
    void store
      .exists(keys.cancelRun(runId))
      .then((yes) => yes && ac.abort(cancelledElsewhere()), () => {})
      .finally(() => (polling = false));
  }, POLL_MS);
  timer.unref();
  return {
    signal: ac.signal,
    stopAttempt: (index, attempt) => mark(keys.cancelAttempt(runId, index, attempt)),
    close: async () => {
      clearInterval(timer);
      outer?.removeEventListener("abort", onOuterAbort);
      await Promise.all([...writes]);
    },
  };
}

/**
 * `fanout cancel`: write the run marker. The run's client aborts at its next look, and each
 * worker stops its chunk within about a second.
 */
export async function requestCancel(store: ObjectStore, runId: string): Promise<void> {
  await retrying(() => store.put(keys.cancelRun(runId), markerBody()));
}

/** What a marker holds: only its presence matters, but when it was written helps whoever looks. (Not empty: the SDK warns on an empty PutObject body.) */
const markerBody = () => JSON.stringify({ cancelledAt: new Date().toISOString() });
