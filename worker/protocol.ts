import type { Reply, Task } from "../src/types.js";

/** Messages between the local backend and its worker processes (JSON over the IPC channel). */
export type ToWorker = { t: "run"; tasks: Task[] } | { t: "cancel"; ids: string[] };

export type ToParent =
  | { t: "ready"; pid: number }
  | { t: "started"; ids: string[] }
  | { t: "done"; replies: Reply[] }
  | { t: "beat" };
