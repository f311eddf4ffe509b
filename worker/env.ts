import type { ObjectStore } from "../src/store/types.js";
import type { Task } from "../src/types.js";
import type { SecretReader } from "./secrets.js";

/** What a worker host (a local process, a Lambda container) gives the handler. */
export interface WorkerEnv {
  store: ObjectStore;
  platform: "local" | "lambda";
  workerId: string;
  memoryMb?: number;
  /** Where bundles fetched from a remote store are cached (e.g. /tmp on Lambda). */
  cacheDir: string;
  /**
   * Offered each result body before it is stored; returning true means the caller stores
   * it (batched) before the reply leaves. The local worker uses it to write segments.
   */
  defer?: (task: Task, ok: boolean, body: string) => boolean;
  /** Reads a run's secrets with this worker's credentials (SSM); absent, a run with secrets fails. */
  readSecret?: SecretReader;
  /** Told of a running chunk's `ctx.progress` (the local worker sends it over IPC; Lambda writes it with the live log). */
  progress?: (task: Task, fraction: number) => void;
  /**
   * Epoch ms by which the reply must leave (Lambda: a second before its timeout). Until then a
   * result PUT that fails for an outage is asked again (durable-put.ts); without it, once.
   */
  replyBy?: number;
}
