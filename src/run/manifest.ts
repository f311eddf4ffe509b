/** A run's manifest: made, marked running (with its heartbeat), finished, and read back. */
import { RunNotFoundError } from "../errors.js";
import { startHeartbeat, thisClient } from "./liveness.js";
import { keys } from "../store/keys.js";
import { retrying } from "../store/retrying.js";
import type { ObjectStore } from "../store/types.js";
import type { RunManifest, RunOptionsResolved, RunSummary } from "../types.js";

export function newManifest(
  runId: string,
  backend: string,
  file: string,
  exportName: string,
  bundleKey: string,
  sha256: string,
  chunks: number,
  inputKeys: string[],
  options: RunOptionsResolved,
): RunManifest {
  const now = new Date().toISOString();
  return {
    v: 1,
    runId,
    createdAt: now,
    updatedAt: now,
    status: "running",
    backend,
    job: { path: file, export: exportName, bundleKey, bundleSha256: sha256 },
    chunks,
    payloadsKey: keys.payloads(runId),
    inputKeys,
    options,
  };
}

/**
 * Mark the run running by this client and write it; the heartbeat it returns keeps the
 * manifest fresh and must be stopped (a beat in flight awaited) before the run's end is written.
 */
export async function startManifest(store: ObjectStore, manifest: RunManifest): Promise<{ stop(): Promise<void> }> {
  const write = () => store.put(keys.manifest(manifest.runId), JSON.stringify(manifest, null, 2));
  manifest.status = "running";
  manifest.updatedAt = new Date().toISOString();
  manifest.client = thisClient();
  await write();
  return startHeartbeat(manifest, write);
}

export async function finishManifest(
  store: ObjectStore,
  manifest: RunManifest,
  status: RunManifest["status"],
  summary: RunSummary,
  error?: RunManifest["error"],
): Promise<void> {
  manifest.status = status;
  manifest.updatedAt = new Date().toISOString();
  manifest.summary = { ...summary, status };
  if (error) manifest.error = error;
  else delete manifest.error;
  try {
    await retrying(() => store.put(keys.manifest(manifest.runId), JSON.stringify(manifest, null, 2)), 5);
  } catch {
    // The results are the source of truth; a manifest that could not be updated is not fatal.
  }
}

/** The manifest of run `runId` in `store`; RunNotFoundError when there is none. */
export async function readManifest(store: ObjectStore, runId: string): Promise<RunManifest> {
  const buf = await store.getIfExists(keys.manifest(runId));
  if (!buf) throw new RunNotFoundError(runId, store.location);
  return JSON.parse(buf.toString("utf8")) as RunManifest;
}
