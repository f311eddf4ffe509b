import type { ChunkSource, Reply, TaskBase } from "../src/types.js";

/** A task on the wire: what differs per task; the rest is its run's TaskBase. */
export type WireTask = [index: number, attempt: number, source: ChunkSource];

/**
 * Messages between the local backend and its worker processes (JSON over the IPC channel).
 * A run's shared task fields travel once per process (`base`), then only WireTasks.
 */
export type ToWorker =
  | { t: "run"; base?: TaskBase; runId: string; tasks: WireTask[] }
  | { t: "cancel"; ids: string[] };

export type ToParent =
  | { t: "ready"; pid: number }
  | { t: "started"; ids: string[] }
  | { t: "done"; replies: Reply[] }
  | { t: "beat" };
