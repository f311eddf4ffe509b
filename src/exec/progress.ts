import type { Progress } from "../types.js";
import type { ExecuteOutcome, ExecuteParams } from "./types.js";

/** Progress for onProgress: on each finished chunk (at most every 100 ms) and every 250 ms. */
export function makeProgressReporter(params: ExecuteParams, out: ExecuteOutcome, running: () => number) {
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
      ...(rate > 0 ? { etaSec: left / rate } : {}),
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
