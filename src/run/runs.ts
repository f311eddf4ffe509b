/**
 * The runs in a store, in the order they started. A run id begins with its start second, so
 * ids sort by start only to the second: runs started within one second (a script, a test, a
 * pipeline's two stages) are told apart by their manifests' createdAt, to the millisecond.
 */
import pLimit from "p-limit";
import { isRunId } from "../store/keys.js";
import type { ObjectStore } from "../store/types.js";
import type { RunManifest } from "../types.js";
import { readManifest } from "./manifest.js";

/** The ids of the runs that have a manifest, sorted as strings (by start second). */
async function runIds(store: ObjectStore): Promise<string[]> {
  const keys = await store.list("runs/");
  return keys.filter((k) => k.endsWith("/manifest.json")).map((k) => k.split("/")[1]!).filter(isRunId).sort();
}

/** Oldest first: by createdAt, then by id. */
function byStart(a: RunManifest, b: RunManifest): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0;
}

/** Every run's manifest, oldest first. */
export async function runManifests(store: ObjectStore): Promise<RunManifest[]> {
  const ids = await runIds(store);
  // A few reads at once: a store of thousands of runs must not open thousands of files (EMFILE).
  const limit = pLimit(16);
  const manifests = await Promise.all(ids.map((id) => limit(() => readManifest(store, id))));
  return manifests.sort(byStart);
}

/** The id of the newest run, or undefined for an empty store; reads only the manifests of its start second. */
export async function latestRunId(store: ObjectStore): Promise<string | undefined> {
  const ids = await runIds(store);
  const last = ids.at(-1);
  if (last === undefined) return undefined;
  const second = last.slice(0, last.indexOf("-"));
  const candidates = ids.filter((id) => id.startsWith(`${second}-`));
  if (candidates.length === 1) return last;
  const manifests = await Promise.all(candidates.map((id) => readManifest(store, id)));
  return manifests.sort(byStart).at(-1)!.runId;
}
