import type { AwsOptions, BackendName } from "../options.js";
import type { ObjectStore } from "../store/types.js";
import type { DriverEvent, Reply, Task } from "../types.js";

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
  /** Called by the backend with the chunk's latest `ctx.progress` fraction while it runs. */
  progress?(fraction: number): void;
  /** Run on this memory tier (one of Backend.tiers) instead of the backend's own memory (`--oom-retry`). */
  memoryMb?: number;
}

/**
 * Where chunks run. The local pool and Lambda implement the same call: a Task in, the
 * worker's Reply out. A chunk's own failure is a Reply with ok=false; failures around the
 * chunk (crash, kill, throttle, outage, cancel) reject with InfraError. The store is not
 * inside: a run opens its store first and the compute beside it (see RunStore).
 */
export interface Backend {
  readonly name: "local" | "aws" | "emulated";
  /** Memory a chunk gets, in MB, for reports and cost. */
  readonly memoryMb: number;
  /** Lambda's deployed architecture, read in preflight, for cost; absent elsewhere. */
  readonly arch?: "arm64" | "x86_64";
  invoke(task: Task, opts?: InvokeOptions): Promise<Reply>;
  close(): Promise<void>;
  /** The most chunks the platform lets run at once (Lambda: the account's unreserved concurrency), when known. */
  readonly concurrencyCap?: number;
  /**
   * The memory tiers in MB an invoke may ask for (InvokeOptions.memoryMb), ascending, from
   * memoryMb up: Lambda's deployed tiers, or the local pool's heap caps. Absent: memoryMb only.
   */
  readonly tiers?: readonly number[];
  /** MB of /tmp a remote worker has for the job's assets (Lambda's ephemeral storage); absent where chunks read in place. */
  readonly tmpMb?: number;
  /** Lambda: invoke the function asynchronously as a detached run's driver; resolves once Lambda accepted the event. */
  startDriver?(driver: Omit<DriverEvent["driver"], "bucket">): Promise<void>;
}

/** Where a run's objects live: the backend's kind of store, and which one. */
export interface StoreConfig {
  backend: BackendName;
  cwd: string;
  /** The local store's folder, from cwd (the emulated stack's objects live inside it too). */
  store?: string;
  aws?: AwsOptions;
}

/** What the compute opened beside a store needs, known once the run's options are resolved. */
export interface ComputeConfig {
  memoryMb: number;
  /** The memory was asked for (flag or job default), so a deployed tier must match it. */
  memoryAsked?: boolean;
  /** The tiers the run may climb (`--memory 512,2048`), the first being memoryMb. */
  tiers?: readonly number[];
  concurrency: number;
  /** The run's per-chunk timeout (a deployed Lambda's own timeout must not be shorter). */
  timeoutMs?: number;
  /** Worker processes of the local pool. */
  processes?: number;
}

/**
 * A run's store, opened first (payloads, the bundle and results go there before any chunk
 * runs), and the way to open the compute that reads and writes it. Closing it ends what
 * opening started (an emulated stack); close the compute first.
 */
export interface RunStore {
  readonly store: ObjectStore;
  openCompute(c: ComputeConfig): Promise<Backend>;
  close(): Promise<void>;
}
