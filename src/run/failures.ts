import type { ExecuteOutcome } from "../exec/executor.js";
import { keys } from "../store/keys.js";
import { retrying } from "../store/retrying.js";
import type { ObjectStore } from "../store/types.js";
import type { ResultEnvelope } from "../types.js";

/**
 * A chunk whose worker died (crash, OOM, kill) could not write its own failure envelope:
 * write it from here, so `status` and `logs` tell what happened to every chunk.
 */
export async function recordFailures(store: ObjectStore, runId: string, outcome: ExecuteOutcome): Promise<void> {
  for (const [index, f] of outcome.failures) {
    if (f.remote.kind === "user" || f.remote.kind === "serialize") continue; // the worker wrote it
    const last = outcome.attempts.filter((a) => a.index === index).pop();
    const envelope: ResultEnvelope = {
      v: 1,
      runId,
      index,
      attempt: f.attempts,
      ok: false,
      error: f.remote,
      timing: { startedAt: last?.invokedAt ?? 0, endedAt: last?.returnedAt ?? 0, loadMs: 0, coldStart: false },
      logs: [`[fanout: recorded by the client after ${f.attempts} attempt(s); the worker could not report]`],
      worker: { platform: "local", id: "client" },
    };
    await retrying(() => store.put(keys.failure(runId, index), JSON.stringify(envelope)), 3).catch(() => {});
  }
}
