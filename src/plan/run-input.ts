/**
 * `fromRun(runId)` / `--input-run`: an earlier run's results as this run's input, one item per
 * chunk result. The client only names them (run id and chunk indexes); each worker reads its
 * slice from the run store, so a two-stage pipeline never brings the first stage home.
 */
import { FanoutError, RunNotFoundError } from "../errors.js";
import { keys } from "../store/keys.js";
import { RunResults } from "../store/results.js";
import type { ObjectStore } from "../store/types.js";
import type { ChunkSource, RunManifest } from "../types.js";
import { splitPoints } from "./split.js";

/** The run's results are final only once it ended with them: succeeded, or partial (its failed chunks have none). */
const FINISHED: ReadonlySet<RunManifest["status"]> = new Set(["succeeded", "partial"]);

/** An input run that has not finished with results. */
class InputRunUnfinishedError extends FanoutError {
  override name = "InputRunUnfinishedError";
  constructor(runId: string, status: string) {
    super("E_INPUT_RUN_UNFINISHED", `run ${runId} ${status === "running" ? "is still running" : `ended ${status}`}: its results are not final, so it cannot be an input`, {
      hint: `finish it first (\`fanout status ${runId}\` says how), then start this run again`,
      exitCode: 2,
    });
  }
}

/** The chunk indexes of `runId`'s results in chunk order, after checking the run finished. */
async function finishedResults(store: ObjectStore, runId: string): Promise<number[]> {
  const buf = await store.getIfExists(keys.manifest(runId));
  if (!buf) throw new RunNotFoundError(runId, store.location);
  const manifest = JSON.parse(buf.toString("utf8")) as RunManifest;
  if (!FINISHED.has(manifest.status)) throw new InputRunUnfinishedError(runId, manifest.status);
  const done = await new RunResults(store, runId).done();
  return [...done].sort((a, b) => a - b);
}

/** Contiguous slices of the earlier run's results, one ChunkSource each. */
export async function planRunInput(store: ObjectStore, runId: string, fewer: (have: number, unit: string) => number): Promise<ChunkSource[]> {
  const indexes = await finishedResults(store, runId);
  const k = fewer(indexes.length, "results");
  const pts = splitPoints(indexes.length, k);
  const out: ChunkSource[] = [];
  for (let i = 0; i < k; i++) out.push({ kind: "results", runId, indexes: indexes.slice(pts[i], pts[i + 1]) });
  return out;
}

/** The values of these chunk results, in order: each its own object (Lambda, large values) or a segment line (local). */
export async function readRunResults(store: Pick<ObjectStore, "getIfExists" | "list">, runId: string, indexes: readonly number[]): Promise<unknown[]> {
  let all: RunResults | undefined;
  return Promise.all(
    indexes.map(async (i) => {
      const own = await store.getIfExists(keys.result(runId, i));
      if (own) return (JSON.parse(own.toString("utf8")) as { value?: unknown }).value;
      all ??= new RunResults(store as ObjectStore, runId);
      const env = await all.envelope(i);
      if (!env) throw new Error(`run ${runId} has no result for chunk ${i} any more (was it collected by fanout gc?)`);
      return env.value;
    }),
  );
}
