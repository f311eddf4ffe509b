import { setTimeout as sleep } from "node:timers/promises";
import type { Backend, InvokeOptions } from "../compute/types.js";
import { ChunkFailedError, InfraError } from "../errors.js";
import { quantile } from "../util/stats.js";
import { backoffMs } from "../util/backoff.js";
import type { AttemptRecord, ChunkOutcome, Progress, RemoteError, Reply, Task } from "../types.js";

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
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** Each winning reply as it arrives (for streaming results). */
  onResult?: (index: number, reply: Reply) => void;
  /** Stop dispatching after this many chunks failed for good (the rest stay resumable). */
  maxFailures?: number;
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
  /** Why dispatch stopped early, if it did. */
  stopped?: "aborted" | "too-many-failures";
}

/** One attempt in flight; it is also what the backend gets as InvokeOptions. */
class Running implements InvokeOptions {
  cancel?: (() => void) | undefined;
  /** Client time at which the worker reported the chunk started; undefined while queued. */
  startSeen?: number;
  constructor(
    readonly record: AttemptRecord,
    readonly isolate: boolean,
  ) {}
  started(): void {
    this.startSeen = Date.now();
  }
}

interface ChunkState {
  task: Task;
  launched: number;
  charged: number;
  throttles: number;
  outages: number;
  suspectReruns: number;
  /** Attempts in flight; almost always one, so an array beats a Map per chunk. */
  running: Running[];
  done: boolean;
  speculatedOnce: boolean;
}

const THROTTLE_BUDGET = 12;
/** Store or network outages: retried on their own budget (about a minute of backoff). */
const TRANSIENT_BUDGET = 10;
const SUSPECT_RERUNS = 3;
/** A chunk is a straggler once it has run this many times the median chunk time. */
const STRAGGLER_FACTOR = 2;

/**
 * Runs tasks on a backend at bounded concurrency, retrying infrastructure failures, rerunning
 * stragglers speculatively, and keeping one record per attempt. The first successful reply of
 * a chunk wins; later ones are cancelled or ignored, so nothing is counted twice.
 */
export async function execute(params: ExecuteParams): Promise<ExecuteOutcome> {
  const { backend, tasks, signal } = params;
  const out: ExecuteOutcome = {
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
  };
  // A chunk's state is made when it is dispatched, not up front: 100,000 idle states (and
  // their queue entries) would be heap the garbage collector walks for the whole run.
  const newState = (task: Task): ChunkState => ({
    task,
    launched: task.attempt - 1,
    charged: 0,
    throttles: 0,
    outages: 0,
    suspectReruns: 0,
    running: [],
    done: false,
    speculatedOnce: false,
  });
  const maxFailures = params.maxFailures ?? Infinity;
  const runTimes: number[] = [];
  let finished = 0;
  /** Chunks with an attempt in flight; its size is the "running" count of progress. */
  const live = new Set<ChunkState>();
  let speculativeInFlight = 0;
  const stop = (why: "aborted" | "too-many-failures") => {
    out.stopped ??= why;
  };

  const progress = makeProgressReporter(params, out, () => live.size);

  const onRunAbort = () => {
    stop("aborted");
    for (const s of live) for (const r of s.running) r.cancel?.();
  };
  if (signal?.aborted) onRunAbort();
  signal?.addEventListener("abort", onRunAbort, { once: true });

  /** One attempt on the backend; resolves with a reply or an InfraError, never throws. */
  const launch = async (s: ChunkState, speculative: boolean, isolate: boolean): Promise<Reply | InfraError> => {
    const attempt = ++s.launched;
    const task: Task = attempt === s.task.attempt ? s.task : { ...s.task, attempt };
    const now = Date.now();
    if (out.firstInvokeAt === 0) out.firstInvokeAt = now;
    out.lastInvokeAt = now;
    const record: AttemptRecord = {
      index: task.index,
      attempt,
      speculative,
      invokedAt: now,
      returnedAt: 0,
      coldStart: false,
      outcome: "cancelled",
      won: false,
    };
    const running = new Running(record, isolate);
    s.running.push(running);
    if (s.running.length === 1) live.add(s);
    out.attempts.push(record);
    let result: Reply | InfraError;
    try {
      result = await backend.invoke(task, running);
    } catch (err) {
      result = err instanceof InfraError ? err : new InfraError("transient", (err as Error)?.message ?? String(err), { cause: err });
    }
    record.returnedAt = Date.now();
    s.running.splice(s.running.indexOf(running), 1);
    if (s.running.length === 0) live.delete(s);
    if (result instanceof InfraError) {
      record.outcome = result.kind;
    } else {
      record.startedAt = result.timing.startedAt;
      record.endedAt = result.timing.endedAt;
      record.coldStart = result.timing.coldStart;
      record.outcome = result.ok ? "ok" : (result.error?.kind ?? "user");
      if (result.ok && !s.done) win(s, result, record);
    }
    return result;
  };

  const win = (s: ChunkState, reply: Reply, record: AttemptRecord) => {
    s.done = true;
    record.won = true;
    if (record.speculative) out.speculationWins++;
    // A bounded reservoir keeps the median cheap for runs of 100,000 chunks.
    const t = reply.timing.endedAt - reply.timing.startedAt;
    if (runTimes.length < 1000) runTimes.push(t);
    else runTimes[Math.floor(Math.random() * runTimes.length)] = t;
    finished++;
    if (reply.stored) out.stored.add(s.task.index);
    else out.values.set(s.task.index, reply.value);
    for (const r of s.running) r.cancel?.();
    params.onResult?.(s.task.index, reply);
    progress.tick();
  };

  const fail = (s: ChunkState, error: RemoteError) => {
    s.done = true;
    out.failures.set(s.task.index, new ChunkFailedError(s.task.index, error, s.launched, params.runId));
    for (const r of s.running) r.cancel?.();
    progress.tick();
    if (out.failures.size >= maxFailures) stop("too-many-failures");
  };

  const runChunk = async (s: ChunkState): Promise<void> => {
    let isolate = false;
    while (!s.done && !out.stopped) {
      let result = await launch(s, false, isolate);
      if (s.done) return;
      if (!(result instanceof InfraError) && result.error && result.error.kind !== "user" && result.error.kind !== "serialize") {
        // The worker stopped the chunk itself (its timer, say): a platform outcome, retried as one.
        result = new InfraError(result.error.kind, result.error.message);
      }
      if (!(result instanceof InfraError)) {
        // A failed reply: the chunk's own code (or its result) is at fault.
        const error = result.error ?? { kind: "user", name: "Error", message: "chunk failed" };
        if (params.retryUserErrors && error.kind === "user" && s.charged < params.retries) {
          s.charged++;
          out.retries++;
          await pause(backoffMs(s.charged));
          continue;
        }
        return fail(s, error);
      }
      if (result.kind === "cancelled") {
        if (out.stopped || s.done) return;
        continue;
      }
      if (result.innocent && s.suspectReruns < SUSPECT_RERUNS) {
        // Shared a process with a chunk that killed it: rerun alone, free of charge.
        s.suspectReruns++;
        isolate = true;
        continue;
      }
      if (result.kind === "throttled" && s.throttles < THROTTLE_BUDGET) {
        s.throttles++;
        out.retries++;
        await pause(backoffMs(s.throttles, 500, 20_000));
        continue;
      }
      if (result.kind === "transient" && s.outages < TRANSIENT_BUDGET) {
        s.outages++;
        out.retries++;
        await pause(backoffMs(s.outages, 500, 10_000));
        continue;
      }
      if (s.charged < params.retries && result.kind !== "serialize") {
        s.charged++;
        out.retries++;
        await pause(backoffMs(s.charged));
        continue;
      }
      // The stack of an InfraError is this process's, not the chunk's: leave it out.
      return fail(s, { kind: result.kind, name: result.name, message: result.message });
    }
  };

  const pause = async (ms: number) => {
    try {
      await sleep(ms, undefined, signal ? { signal } : undefined);
    } catch {
      /* aborted: the loop sees out.stopped */
    }
  };

  const runSpeculative = async (s: ChunkState) => {
    speculativeInFlight++;
    out.speculated++;
    try {
      await launch(s, true, false);
    } finally {
      speculativeInFlight--;
    }
  };

  // Stragglers: rerun a chunk that has run far longer than the median finished chunk.
  const minSamples = Math.max(3, Math.ceil(tasks.length * 0.1));
  const maxSpeculative = Math.max(1, Math.ceil(params.concurrency * 0.1));
  let specTimer: NodeJS.Timeout | undefined;
  if (params.speculate) {
    specTimer = setInterval(() => {
      if (out.stopped || finished < minSamples || speculativeInFlight >= maxSpeculative) return;
      const median = quantile(runTimes, 0.5);
      // The floor keeps tiny chunks, whose replies wait a few ms for batched writes, from looking slow.
      const threshold = Math.max(STRAGGLER_FACTOR * median, median + 100);
      const now = Date.now();
      for (const s of live) {
        if (s.done || s.speculatedOnce || s.running.length !== 1) continue;
        const only = s.running[0]!;
        if (only.startSeen === undefined || now - only.startSeen < threshold) continue;
        s.speculatedOnce = true;
        void runSpeculative(s);
        if (speculativeInFlight >= maxSpeculative) break;
      }
    }, 50);
    specTimer.unref();
  }

  try {
    // The concurrency limit is a counter, not a queue: a chunk's state is made only when a
    // slot frees up. (p-limit, used elsewhere, keeps promises and a queue entry per task,
    // which profiling showed to be the executor's largest cost for no-op chunks.)
    await new Promise<void>((resolve) => {
      const limit = Math.max(1, params.concurrency);
      let next = 0;
      let inFlight = 0;
      const onSettled = () => {
        inFlight--;
        feed();
      };
      const feed = () => {
        while (inFlight < limit && next < tasks.length && !out.stopped) {
          inFlight++;
          runChunk(newState(tasks[next++]!)).then(onSettled, onSettled);
        }
        if (inFlight === 0 && (next === tasks.length || out.stopped)) resolve();
      };
      feed();
    });
    // Speculative copies still in flight lost (their chunk is done) or run on: wait them out.
    while (speculativeInFlight > 0) await sleep(5);
  } finally {
    if (specTimer) clearInterval(specTimer);
    signal?.removeEventListener("abort", onRunAbort);
    out.endedAt = Date.now();
    progress.final();
  }
  return out;
}

/** No ETA before this much of a run: the first chunks' rate includes the pool's start-up. */
export const ETA_MIN_DONE = 3;
export const ETA_MIN_ELAPSED_MS = 1000;

/** Seconds left at the rate so far, once a rate is known (see ETA_MIN_*); else nothing. */
export function etaOf(done: number, left: number, elapsedMs: number): { etaSec?: number } {
  if (done < ETA_MIN_DONE || elapsedMs < ETA_MIN_ELAPSED_MS) return {};
  return { etaSec: (left * elapsedMs) / done / 1000 };
}

function makeProgressReporter(params: ExecuteParams, out: ExecuteOutcome, running: () => number) {
  let last = 0;
  const snapshot = (): Progress => {
    const now = Date.now();
    const done = out.values.size + out.stored.size;
    const elapsedMs = now - out.startedAt;
    const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
    const left = params.total - params.skipped - done - out.failures.size;
    return {
      total: params.total,
      done: done + params.skipped,
      failed: out.failures.size,
      running: running(),
      skipped: params.skipped,
      retries: out.retries,
      speculated: out.speculated,
      rate,
      ...etaOf(done, left, elapsedMs),
      elapsedMs,
    };
  };
  const emit = () => params.onProgress?.(snapshot());
  const timer = params.onProgress ? setInterval(emit, 250) : undefined;
  timer?.unref();
  return {
    tick() {
      if (!params.onProgress) return;
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        emit();
      }
    },
    final() {
      if (timer) clearInterval(timer);
      emit();
    },
  };
}

export type { ChunkOutcome };
