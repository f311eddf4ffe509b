import type { Backend } from "../compute/types.js";
import type { ChunkFailedError, FanoutError, InfraError } from "../errors.js";
import type { AttemptRecord, Progress, Reply, Task } from "../types.js";
import type { RetrySettings } from "./policy.js";
import type { SpeculationSettings } from "./speculation.js";
import type { ThrottleFigures, ThrottleSettings } from "./throttle.js";

export interface ExecuteParams {
  backend: Backend;
  runId: string;
  /** The chunks to run now (on resume: only those without a result). */
  tasks: Task[];
  /** Chunks in the whole run, for progress. */
  total: number;
  /** Chunks whose results already exist (resume). */
  skipped: number;
  concurrency: number;
  retries: number;
  retryUserErrors: boolean;
  speculate: boolean;
  /** `--oom-retry`: a chunk out of memory reruns on the backend's next memory tier up (Backend.tiers). */
  oomRetry?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** Each winning reply as it arrives (for streaming results). */
  onResult?: (index: number, reply: Reply) => void;
  /** Stop dispatching after this many chunks failed for good (the rest stay resumable). */
  maxFailures?: number;
  /**
   * An attempt still running is no longer wanted (its chunk was won by another attempt, or
   * failed for good): the caller tells its worker to stop (a cancel marker in the store).
   */
  onStopAttempt?: (index: number, attempt: number) => void;
  /**
   * An attempt ended without a reply from its code (an InfraError): awaited before the chunk
   * is retried or its copy's outcome counts, so the caller can clean up after a worker that
   * died (src/run/outputs.ts releases its output claim). Must not throw.
   */
  onAttemptFailed?: (task: Task, error: InfraError) => Promise<void>;
  /**
   * An attempt ended without winning (it failed, crashed, was throttled or cancelled). `sofar`
   * is the outcome so far and still changing: read it later, not now. A detached run's driver
   * writes its attempt log from it, since a setback, unlike a win, leaves nothing in the store.
   */
  onSetback?: (sofar: Readonly<ExecuteOutcome>) => void;
  /** Overrides of the fixed budgets, backoff curves and straggler rule (tests use short delays). */
  tuning?: {
    retry?: Partial<Omit<RetrySettings, "retries" | "retryUserErrors">>;
    speculation?: Partial<SpeculationSettings>;
    throttle?: Partial<ThrottleSettings>;
  };
}

export interface ExecuteOutcome {
  /** Winning values that came back inline, by chunk index (replies themselves are not kept). */
  values: Map<number, unknown>;
  /** Chunks whose winning value is too large for a reply: read it from the store. */
  stored: Set<number>;
  failures: Map<number, ChunkFailedError>;
  attempts: AttemptRecord[];
  retries: number;
  speculated: number;
  speculationWins: number;
  startedAt: number;
  firstInvokeAt: number;
  lastInvokeAt: number;
  endedAt: number;
  /** 429s and the in-flight limit they led to (lowest, and at the end). */
  throttle: ThrottleFigures;
  /** Straggler copies: made, won, and client time of those that did not win (see copyCost). */
  speculation: { copies: number; won: number; lostMs: number };
  /** Attempts cancelled while in flight: losers of a race with their copy, and all of them on abort. */
  stoppedEarly: number;
  /** Why dispatch stopped early, if it did. */
  stopped?: "aborted" | "too-many-failures" | "fatal";
  /** The error that stopped the run for every chunk alike (see InfraError.fatal). */
  fatal?: FanoutError;
}
