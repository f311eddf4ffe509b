import { setTimeout as sleep } from "node:timers/promises";
import { ChunkFailedError, InfraError, type FanoutError } from "../errors.js";
import type { Backend } from "../compute/types.js";
import type { AttemptRecord, RemoteError, Reply, Task } from "../types.js";
import { Attempt } from "./attempt.js";
import { ConcurrencyGate } from "./gate.js";
import { DEFAULT_RETRY_SETTINGS, decideRetry, failureOf, fatalOf, type RetrySettings, type RetryState } from "./policy.js";
import { makeProgressReporter } from "./progress.js";
import { copyCost, defaultSpeculationSettings, FinishedTimes, watchForStragglers } from "./speculation.js";
import { DEFAULT_THROTTLE_SETTINGS, ThrottleController, type ThrottleVerdict } from "./throttle.js";
import type { ExecuteOutcome, ExecuteParams } from "./types.js";

export type { ExecuteOutcome, ExecuteParams } from "./types.js";

/** One chunk being dispatched: its attempts and the retry budgets it has spent (flat: one object per chunk). */
interface ChunkState extends RetryState {
  task: Task;
  /** The attempt number of the latest attempt launched (a resumed chunk starts past 1). */
  lastAttempt: number;
  /** Rerun in a process of its own from now on (after a crash it was a bystander to). */
  isolate: boolean;
  /** The memory tier it runs on after running out of memory (`--oom-retry`); 0: the backend's own. */
  memoryMb: number;
  /** Attempts in flight; almost always one, so an array beats a Map per chunk. */
  running: Attempt[];
  done: boolean;
  speculatedOnce: boolean;
}

/**
 * Runs tasks on a backend at bounded concurrency, retrying infrastructure failures, rerunning
 * stragglers speculatively, and keeping one record per attempt. The first successful reply of
 * a chunk wins; later ones are cancelled or ignored, so nothing is counted twice.
 */
export async function execute(params: ExecuteParams): Promise<ExecuteOutcome> {
  const run = new Execution(params);
  const { signal } = params;
  const onAbort = () => run.abort();
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort, { once: true });
  const stopWatching = params.speculate
    ? watchForStragglers({
        settings: { ...defaultSpeculationSettings(params.tasks.length, params.concurrency), ...params.tuning?.speculation },
        live: run.live,
        finished: run.finishedTimes,
        copiesInFlight: () => run.copiesInFlight,
        // No copies while the platform throttles: a copy would be one more invocation it refuses.
        stopped: () => run.out.stopped !== undefined || run.throttle.limit < run.throttle.ceiling,
        copy: (s) => void run.runCopy(s),
      })
    : undefined;
  try {
    await run.dispatchAll();
  } finally {
    stopWatching?.();
    signal?.removeEventListener("abort", onAbort);
    run.finish();
  }
  return run.out;
}

/** The state of one execute() call, shared by its dispatch loop, its attempts and its straggler watch. */
class Execution {
  readonly out: ExecuteOutcome;
  /** Chunks with an attempt in flight; its size is the "running" count of progress. */
  readonly live = new Set<ChunkState>();
  readonly finishedTimes = new FinishedTimes();
  copiesInFlight = 0;
  /** The run's in-flight limit, lowered by 429s and raised by successes; the gate follows it. */
  readonly throttle: ThrottleController;
  private readonly gate: ConcurrencyGate;
  private readonly retry: RetrySettings;
  private readonly maxFailures: number;
  private readonly progress: ReturnType<typeof makeProgressReporter>;

  constructor(private readonly params: ExecuteParams) {
    this.out = {
      values: new Map(),
      stored: new Set(),
      failures: new Map(),
      attempts: [],
      retries: 0,
      speculated: 0,
      speculationWins: 0,
      startedAt: Date.now(),
      firstInvokeAt: 0,
      lastInvokeAt: 0,
      endedAt: 0,
      throttle: { throttled: 0, lowest: params.concurrency, final: params.concurrency, ceiling: params.concurrency },
      speculation: { copies: 0, won: 0, lostMs: 0 },
      stoppedEarly: 0,
    };
    this.throttle = new ThrottleController(params.concurrency, this.out.startedAt, { ...DEFAULT_THROTTLE_SETTINGS, ...params.tuning?.throttle });
    this.gate = new ConcurrencyGate(this.throttle.limit);
    this.retry = {
      ...DEFAULT_RETRY_SETTINGS,
      ...params.tuning?.retry,
      retries: params.retries,
      retryUserErrors: params.retryUserErrors,
      ...(params.oomRetry ? { oomTiers: oomTiers(params.backend) } : {}),
    };
    this.maxFailures = params.maxFailures ?? Infinity;
    this.progress = makeProgressReporter(params, this.out, () => this.live.size, () => this.throttle.limit, () => this.partial());
  }

  /** Chunks' worth of work done by running chunks, by their ctx.progress (the furthest attempt of each). */
  private partial(): number {
    let sum = 0;
    for (const s of this.live) {
      let best = 0;
      for (const a of s.running) if (a.fraction > best) best = a.fraction;
      sum += best;
    }
    return sum;
  }

  /** Runs every task through the gate, then waits out speculative copies still in flight. */
  async dispatchAll(): Promise<void> {
    const { tasks } = this.params;
    // A chunk's state is made when it is dispatched, not up front: 100,000 idle states
    // would be heap the garbage collector walks for the whole run.
    await this.gate.drain(tasks.length, (i) => this.runChunk(newChunkState(tasks[i]!)), () => this.out.stopped !== undefined);
    // Copies whose chunk is done lost; others run on: wait them out.
    while (this.copiesInFlight > 0) await sleep(5);
  }

  abort(): void {
    this.stop("aborted");
    // The run's own cancel marker tells remote workers (see ExecuteParams.signal); no per-attempt one.
    for (const s of this.live) this.stopRunning(s, false);
  }

  finish(): void {
    this.out.endedAt = Date.now();
    this.out.throttle = this.throttle.figures();
    this.out.speculation = copyCost(this.out.attempts);
    this.progress.final();
  }

  /** Attempts one chunk until it wins, fails for good, or the run stops. */
  private async runChunk(s: ChunkState): Promise<void> {
    while (!s.done && !this.out.stopped) {
      await this.holdOff();
      if (this.out.stopped) return;
      const window = this.throttle.window;
      const result = await this.launch(s, false);
      if (s.done) return;
      const fatal = fatalOf(result);
      if (fatal) return this.halt(fatal);
      const failure = failureOf(result);
      const decision = decideRetry(failure, s, this.retry);
      switch (decision.action) {
        case "fail":
          return this.fail(s, decision.error);
        case "requeue":
          continue;
        case "throttled": {
          const verdict = this.throttled(window, result as InfraError);
          if (verdict.giveUp) return this.fail(s, stalledError(failure.error, this.throttle.settings.stallMs));
          // The slot goes back while the chunk waits: the lowered limit then holds at once.
          await this.gate.stepOut(() => this.pause(verdict.pauseMs));
          continue;
        }
        case "rerun-isolated":
          s.isolatedReruns++;
          s.isolate = true;
          continue;
        case "escalate":
          s.tier = decision.tier;
          s.memoryMb = decision.memoryMb;
          continue;
        case "retry":
          s[decision.budget]++;
          this.out.retries++;
          await this.pause(decision.afterMs);
      }
    }
  }

  /** A speculative copy of a straggler; whichever attempt replies first wins. */
  async runCopy(s: ChunkState): Promise<void> {
    this.copiesInFlight++;
    this.out.speculated++;
    try {
      const window = this.throttle.window;
      const result = await this.launch(s, true);
      // A throttled copy is dropped (its chunk still runs), but the 429 still lowers the limit.
      if (result instanceof InfraError && result.kind === "throttled") this.throttled(window, result);
    } finally {
      this.copiesInFlight--;
    }
  }

  /** One attempt on the backend; resolves with a reply or an InfraError, never throws. */
  private async launch(s: ChunkState, speculative: boolean): Promise<Reply | InfraError> {
    const attemptNo = ++s.lastAttempt;
    const task: Task = attemptNo === s.task.attempt ? s.task : { ...s.task, attempt: attemptNo };
    const attempt = new Attempt(task, speculative, speculative ? false : s.isolate, s.memoryMb, this.params.onProgress !== undefined);
    const { out } = this;
    if (out.firstInvokeAt === 0) out.firstInvokeAt = attempt.record.invokedAt;
    out.lastInvokeAt = attempt.record.invokedAt;
    s.running.push(attempt);
    if (s.running.length === 1) this.live.add(s);
    out.attempts.push(attempt.record);
    const result = await attempt.run(this.params.backend);
    s.running.splice(s.running.indexOf(attempt), 1);
    if (s.running.length === 0) this.live.delete(s);
    if (result instanceof InfraError) await this.params.onAttemptFailed?.(task, result);
    else {
      // Any reply, ok or not, is an invocation the platform accepted.
      if (this.throttle.onSuccess(attempt.record.returnedAt)) this.gate.setLimit(this.throttle.limit);
      if (result.ok && !s.done) this.win(s, result, attempt.record);
    }
    if (!attempt.record.won) this.params.onSetback?.(out);
    return result;
  }

  /** A 429: feeds the run's limit (sent in `window`: see ThrottleController.window) and says how long to wait. */
  private throttled(window: number, err: InfraError): ThrottleVerdict {
    const verdict = this.throttle.on429(Date.now(), window, err.retryAfterMs);
    this.gate.setLimit(this.throttle.limit);
    return verdict;
  }

  /** Holds an invocation back while the platform's Retry-After runs. */
  private async holdOff(): Promise<void> {
    if (this.throttle.notBefore === 0) return;
    for (let ms = this.throttle.holdMs(Date.now()); ms > 0 && !this.out.stopped; ms = this.throttle.holdMs(Date.now())) await this.pause(ms);
  }

  private win(s: ChunkState, reply: Reply, record: AttemptRecord): void {
    s.done = true;
    record.won = true;
    if (record.speculative) this.out.speculationWins++;
    this.finishedTimes.add(record.returnedAt - record.invokedAt);
    if (reply.stored) this.out.stored.add(s.task.index);
    else this.out.values.set(s.task.index, reply.value);
    this.stopRunning(s, true);
    this.params.onResult?.(s.task.index, reply);
    this.progress.tick();
  }

  private fail(s: ChunkState, error: RemoteError): void {
    s.done = true;
    this.out.failures.set(s.task.index, new ChunkFailedError(s.task.index, error, s.lastAttempt, this.params.runId));
    this.stopRunning(s, true);
    this.progress.tick();
    if (this.out.failures.size >= this.maxFailures) this.stop("too-many-failures");
  }

  /** Every chunk would fail alike: stop dispatching and cancel what runs (finished results are kept). */
  private halt(err: FanoutError): void {
    this.out.fatal ??= err;
    this.stop("fatal");
    for (const s of this.live) this.stopRunning(s, false);
  }

  /**
   * Cancels the chunk's attempts still in flight: the backend drops them on the client, and
   * `onStopAttempt` (when `tell`) lets a remote worker know, which the cancel alone cannot reach.
   */
  private stopRunning(s: ChunkState, tell: boolean): void {
    for (const a of s.running) {
      this.out.stoppedEarly++;
      if (tell) this.params.onStopAttempt?.(a.task.index, a.task.attempt);
      a.cancel?.();
    }
  }

  private stop(why: "aborted" | "too-many-failures" | "fatal"): void {
    this.out.stopped ??= why;
  }

  /** Waits out a retry's backoff; an abort ends the wait early (the loop then sees out.stopped). */
  private async pause(ms: number): Promise<void> {
    const { signal } = this.params;
    try {
      await sleep(ms, undefined, signal ? { signal } : undefined);
    } catch {
      /* aborted */
    }
  }
}

function newChunkState(task: Task): ChunkState {
  // Written out, not spread from newRetryState(): this runs once per chunk, 100,000 times.
  return { task, lastAttempt: task.attempt - 1, retriesUsed: 0, outagesUsed: 0, isolatedReruns: 0, tier: 0, memoryMb: 0, isolate: false, running: [], done: false, speculatedOnce: false };
}

/** The tiers an out-of-memory chunk climbs: the backend's own memory, then its larger tiers. */
function oomTiers(backend: Backend): number[] {
  return [backend.memoryMb, ...(backend.tiers ?? []).filter((mb) => mb > backend.memoryMb)];
}


/** A chunk throttled with the limit at 1 and nothing accepted for stallMs: the account has no room for it. */
function stalledError(last: RemoteError, stallMs: number): RemoteError {
  const message = `the platform refused every invocation for ${stallMs / 1000} s, even one at a time (last: ${last.message})`;
  return { kind: "throttled", name: "InfraError", message };
}
