import type { Backend, InvokeOptions } from "../../dist/src/compute/types.js";
import { InfraError } from "../../dist/src/errors.js";
import type { ErrorKind, Reply, Task } from "../../dist/src/types.js";

/** What one attempt does on the fake backend; `ms` is how long it takes (default 1). */
export type Step =
  /**
   * Replies ok with `value`; `ignoreCancel` plays a platform that cannot stop an invoke already
   * made; `mapMs`: the worker-side map time the reply reports (default: all of `ms`).
   */
  | { ok: unknown; ms?: number; ignoreCancel?: boolean; mapMs?: number }
  /** Rejects with InfraError of `kind`; `bystander`: it shared a process another chunk crashed. */
  | { infra: ErrorKind; ms?: number; bystander?: boolean }
  /** A failed reply: the chunk's own error (`user`, `serialize`) or the worker's (`timeout`...). */
  | { reply: ErrorKind; message?: string; ms?: number }
  /** Rejects with a plain Error, as a backend bug or a dropped connection would. */
  | { throws: string; ms?: number }
  /** Runs until cancelled. */
  | { hang: true };

export interface Call {
  index: number;
  attempt: number;
  isolate: boolean;
  /** The memory tier the invoke asked for (InvokeOptions.memoryMb), else the backend's 128 MB. */
  memoryMb: number;
  /** How the call ended, once it has. */
  end?: "replied" | "rejected" | "cancelled" | "throttled";
}

/**
 * A platform with a concurrency quota, as Lambda's: an invoke beyond `capacity` in flight is
 * refused with a 429 (TooManyRequestsException, "Rate Exceeded") before it runs, one round
 * trip (`rttMs`) later. With `retryAfterMs`, the 429 carries a Retry-After and the platform
 * refuses everything until it has passed.
 * (https://repost.aws/knowledge-center/lambda-troubleshoot-throttling; Invoke API, Errors:
 * TooManyRequestsException, HTTP 429, https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html)
 */
export interface Quota {
  capacity: number;
  rttMs?: number;
  retryAfterMs?: number;
}

/**
 * The Backend contract with no processes behind it: each attempt follows a script, so the
 * executor's retries, budgets, speculation and cancellation run in milliseconds, exactly.
 */
export class FakeBackend implements Backend {
  readonly name = "local" as const;
  readonly memoryMb = 128;
  readonly calls: Call[] = [];
  /** Largest number of invokes in flight at once. */
  peak = 0;
  /** Invokes refused with a 429 (quota only). */
  throttled = 0;
  /** Invokes made while a Retry-After the client had been told of was still running. */
  early = 0;
  private inFlight = 0;
  private closedUntil = 0;

  /**
   * `script(index, attempt, memoryMb)` says what that attempt does; chunks without a script reply
   * ok with their index. With a `quota`, invokes past its capacity are throttled instead of run.
   * `tiers`: the memory tiers an invoke may ask for, as Lambda's deployed tiers (Backend.tiers).
   */
  constructor(
    private readonly script: (index: number, attempt: number, memoryMb: number) => Step | undefined = () => undefined,
    private readonly quota?: Quota,
    readonly tiers?: readonly number[],
  ) {}

  get store(): never {
    throw new Error("FakeBackend has no store: the executor should never read it");
  }

  invoke(task: Task, opts: InvokeOptions = {}): Promise<Reply> {
    const memoryMb = opts.memoryMb ?? this.memoryMb;
    const step = this.script(task.index, task.attempt, memoryMb) ?? { ok: task.index };
    const call: Call = { index: task.index, attempt: task.attempt, isolate: opts.isolate === true, memoryMb };
    this.calls.push(call);
    if (this.quota && (this.inFlight >= this.quota.capacity || Date.now() < this.closedUntil)) return this.refuse(call, this.quota);
    this.peak = Math.max(this.peak, ++this.inFlight);
    const startedAt = Date.now();
    opts.started?.();
    return new Promise<Reply>((resolve, reject) => {
      const end = (how: NonNullable<Call["end"]>) => {
        if (call.end) return false;
        call.end = how;
        this.inFlight--;
        return true;
      };
      const timer = "hang" in step ? undefined : setTimeout(settle, step.ms ?? 1);
      if (!("ok" in step && step.ignoreCancel)) {
        opts.cancel = () => {
          clearTimeout(timer);
          if (end("cancelled")) reject(new InfraError("cancelled", `chunk ${task.index} cancelled`));
        };
      }
      function settle() {
        if ("infra" in step) {
          if (end("rejected")) reject(new InfraError(step.infra, `fake ${step.infra}`, { bystander: step.bystander ?? false }));
        } else if ("throws" in step) {
          if (end("rejected")) reject(new Error(step.throws));
        } else if (end("replied")) {
          resolve(reply(task, startedAt, step));
        }
      }
    });
  }

  async close(): Promise<void> {}

  private refuse(call: Call, quota: Quota): Promise<Reply> {
    if (Date.now() < this.closedUntil) this.early++;
    this.throttled++;
    call.end = "throttled";
    const { retryAfterMs } = quota;
    return new Promise((_resolve, reject) =>
      setTimeout(() => {
        // The client learns of the Retry-After now: from here on, an invoke is early.
        if (retryAfterMs !== undefined) this.closedUntil = Math.max(this.closedUntil, Date.now() + retryAfterMs);
        reject(new InfraError("throttled", "TooManyRequestsException: Rate Exceeded.", retryAfterMs === undefined ? {} : { retryAfterMs }));
      }, quota.rttMs ?? 1),
    );
  }

  /** The attempts made for one chunk, in order. */
  of(index: number): Call[] {
    return this.calls.filter((c) => c.index === index);
  }
}

function reply(task: Task, startedAt: number, step: Step): Reply {
  const ok = "ok" in step;
  const error = "reply" in step ? { kind: step.reply, name: step.reply === "user" ? "TypeError" : "Error", message: step.message ?? `fake ${step.reply}`, stack: "at chunk" } : undefined;
  return {
    v: 1,
    runId: task.runId,
    index: task.index,
    attempt: task.attempt,
    ok,
    ...(ok ? { value: step.ok } : {}),
    ...(error ? { error } : {}),
    timing: { startedAt, endedAt: "mapMs" in step && step.mapMs !== undefined ? startedAt + step.mapMs : Date.now(), loadMs: 0, coldStart: task.attempt === 1 },
    logs: [],
    worker: { platform: "local", id: "fake" },
    bytes: 0,
  };
}

/** Tasks for chunks 0..n-1 of a run, as the planner would make them (sources are not read). */
export function tasks(n: number, firstAttempt = 1): Task[] {
  return Array.from({ length: n }, (_, index) => ({
    v: 1 as const,
    runId: "r-fake",
    count: n,
    bundle: { key: "bundle", sha256: "0" },
    export: "default",
    timeoutMs: 60_000,
    inlineLimit: 1 << 20,
    index,
    attempt: firstAttempt,
    source: { kind: "inline" as const, value: index },
  }));
}
