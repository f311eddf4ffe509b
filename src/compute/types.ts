import type { AwsOptions, BackendName } from "../options.js";
import type { ObjectStore } from "../store/types.js";
import type { Reply, Task } from "../types.js";

/**
 * One attempt's dealings with a backend, passed to `invoke` (the executor passes one object
 * per attempt that is all of these: at 100,000 chunks every allocation shows).
 */
export interface InvokeOptions {
  /**
   * Set by the backend when it takes the task: calling it makes the invoke promise reject
   * with InfraError("cancelled") at once and stops the chunk where the backend can.
   */
  cancel?: (() => void) | undefined;
  /** Run alone, in a process of its own (after a crash shared by several chunks). */
  isolate?: boolean;
  /** Called by the backend when the worker actually starts the chunk (queued time is not run time). */
  started?(): void;
}

/**
 * Where chunks run. The local pool and Lambda implement the same call: a Task in, the
 * worker's Reply out. A chunk's own failure is a Reply with ok=false; failures around the
 * chunk (crash, kill, throttle, outage, cancel) reject with InfraError.
 */
export interface Backend {
  readonly name: "local" | "aws" | "emulated";
  readonly store: ObjectStore;
  /** Memory a chunk gets, in MB, for reports and cost. */
  readonly memoryMb: number;
  /**
   * Apply the run's memory setting once the job's defaults are known (before the first
   * invoke). Backends whose memory is fixed elsewhere (Lambda: at deploy) ignore it.
   */
  setMemory?(mb: number): void;
  invoke(task: Task, opts?: InvokeOptions): Promise<Reply>;
  close(): Promise<void>;
}

/** What a run asks of its backend; `openBackend` picks and opens it. */
export interface BackendConfig {
  backend: BackendName;
  cwd: string;
  store?: string;
  processes?: number;
  memoryMb: number;
  concurrency: number;
  aws?: AwsOptions;
}
