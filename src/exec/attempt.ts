import type { Backend, InvokeOptions } from "../compute/types.js";
import { InfraError } from "../errors.js";
import type { AttemptRecord, Reply, Task } from "../types.js";

/**
 * One attempt at one chunk: its timeline record while in flight, and also what the backend
 * gets as InvokeOptions (one object per attempt: at 100,000 chunks every allocation shows).
 */
export class Attempt implements InvokeOptions {
  cancel?: (() => void) | undefined;
  readonly record: AttemptRecord;
  /** The chunk's latest `ctx.progress` while this attempt runs (0 until it reports). */
  fraction = 0;
  /** The memory tier to run on (`--oom-retry`), when not the backend's own. */
  readonly memoryMb?: number;
  /**
   * Set only when the run shows progress: a backend then reports the chunk's ctx.progress, and
   * on Lambda that means reading it back from the store (requests nobody would look at otherwise).
   */
  readonly progress?: (fraction: number) => void;
  constructor(
    readonly task: Task,
    speculative: boolean,
    readonly isolate: boolean,
    memoryMb = 0,
    followProgress = false,
  ) {
    this.record = {
      index: task.index,
      attempt: task.attempt,
      speculative,
      invokedAt: Date.now(),
      returnedAt: 0,
      coldStart: false,
      outcome: "cancelled",
      won: false,
    };
    if (memoryMb > 0) this.memoryMb = this.record.memoryMb = memoryMb;
    if (followProgress) this.progress = (fraction) => (this.fraction = fraction);
  }

  /** Client time at which the attempt was handed to the backend: where its round trip starts. */
  get invokedAt(): number {
    return this.record.invokedAt;
  }

  /** Invokes the backend; resolves with its reply or an InfraError, never throws, and fills in the record. */
  async run(backend: Backend): Promise<Reply | InfraError> {
    let result: Reply | InfraError;
    try {
      result = await backend.invoke(this.task, this);
    } catch (err) {
      result = err instanceof InfraError ? err : new InfraError("transient", (err as Error)?.message ?? String(err), { cause: err });
    }
    const record = this.record;
    record.returnedAt = Date.now();
    if (result instanceof InfraError) {
      record.outcome = result.kind;
    } else {
      record.startedAt = result.timing.startedAt;
      record.endedAt = result.timing.endedAt;
      record.coldStart = result.timing.coldStart;
      if (result.timing.handlerMs !== undefined) record.handlerMs = result.timing.handlerMs;
      if (result.timing.initMs !== undefined) record.initMs = result.timing.initMs;
      if (result.memory) record.memory = result.memory;
      if (result.timing.depsMs !== undefined) record.depsMs = result.timing.depsMs;
      record.outcome = result.ok ? "ok" : (result.error?.kind ?? "user");
    }
    return result;
  }
}
