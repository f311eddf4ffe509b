import type { Progress } from "../types.js";
import type { ExecuteOutcome, ExecuteParams } from "./types.js";

/** No ETA before this much of a run: the first chunks' rate includes the pool's start-up. */
export const ETA_MIN_DONE = 3;
export const ETA_MIN_ELAPSED_MS = 1000;

/** Seconds left at the rate so far, once a rate is known (see ETA_MIN_*); else nothing. */
export function etaOf(done: number, left: number, elapsedMs: number): { etaSec?: number } {
  if (done < ETA_MIN_DONE || elapsedMs < ETA_MIN_ELAPSED_MS) return {};
  return { etaSec: (left * elapsedMs) / done / 1000 };
}

/** Progress for onProgress: on each finished chunk (at most every 100 ms) and every 250 ms. */
export function makeProgressReporter(params: ExecuteParams, out: ExecuteOutcome, running: () => number, limit: () => number, partial: () => number) {
  let last = 0;
  const snapshot = (): Progress => {
    const now = Date.now();
    const done = out.values.size + out.stored.size;
    const elapsedMs = now - out.startedAt;
    const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
    const left = params.total - params.skipped - done - out.failures.size;
    const inFlightLimit = limit();
    const part = partial();
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
      ...(inFlightLimit < params.concurrency ? { limit: inFlightLimit } : {}),
      ...(part > 0 ? { partial: part } : {}),
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
