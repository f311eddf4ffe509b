// A detached run's summary across driver generations: each generation logs its own attempts and
// figures; the run's summary adds them up as if one client had run it, counts as skipped only
// the chunks done before the first generation began, and takes its wall time from the run's start.
import { describe, expect, it } from "vitest";
import { generationLog, summarize, unrecordedWins, wholeRun, withoutHandover } from "../../dist/src/run/summary.js";
import type { ExecuteOutcome } from "../../dist/src/exec/executor.js";
import type { AttemptRecord, RunManifest, RunOptionsResolved } from "../../dist/src/types.js";

const OPTS: RunOptionsResolved = { chunks: 6, concurrency: 2, timeoutMs: 60_000, retries: 2, memoryMb: 1024, speculate: false, retryUserErrors: false };
const MANIFEST = { runId: "20261128T040000Z-abcdef", chunks: 6, options: OPTS } as unknown as RunManifest;
const BACKEND = { name: "emulated", memoryMb: 1024 } as const;

/** An attempt of chunk `index` that ran `ms` from `at`, with a peak of `mb`. */
function attempt(index: number, at: number, ms: number, won: boolean, mb: number, coldStart = false): AttemptRecord {
  return { index, attempt: 1, speculative: false, invokedAt: at, startedAt: at, endedAt: at + ms, returnedAt: at + ms, coldStart, outcome: won ? "ok" : "crash", won, memory: { peakRssMb: mb, peakHeapMb: 1 } };
}

/** A generation's executor outcome: its attempts, the winners' values inline. */
function outcome(attempts: AttemptRecord[], retries: number): ExecuteOutcome {
  const won = attempts.filter((a) => a.won);
  return {
    values: new Map(won.map((a) => [a.index, a.index])),
    stored: new Set(),
    failures: new Map(),
    attempts,
    retries,
    speculated: 0,
    speculationWins: 0,
    startedAt: attempts[0]!.invokedAt,
    firstInvokeAt: attempts[0]!.invokedAt,
    lastInvokeAt: attempts.at(-1)!.invokedAt,
    endedAt: attempts.at(-1)!.returnedAt,
    throttle: { throttled: 0, lowest: 2, final: 2, ceiling: 2 },
    speculation: { copies: 0, won: 0, lostMs: 0 },
    stoppedEarly: 0,
  };
}

describe("a detached run's summary over its driver generations", () => {
  // Chunk 0 was done before the detached run began (a resume's); generation 1 ran 1, 2 (2 after
  // a crash) and 3; generation 2 ran 4 and 5, cold.
  const g1 = outcome([attempt(1, 1000, 100, true, 50, true), attempt(2, 1000, 40, false, 70), attempt(2, 1200, 300, true, 60), attempt(3, 1300, 200, true, 40)], 1);
  const g2 = outcome([attempt(4, 5000, 400, true, 90, true), attempt(5, 5000, 500, true, 80, true)], 0);
  const logs = [generationLog(1, 900, [0], g1), generationLog(2, 4900, [0, 1, 2, 3], g2)];

  it("adds every generation's attempts and figures, and skips only what was done before it began", () => {
    const whole = wholeRun(logs, g2);
    expect(whole.skipped).toBe(1);
    expect(whole.startedAt).toBe(900);
    const s = summarize(MANIFEST, BACKEND, whole.outcome, whole.skipped, 500, OPTS, 6000);
    expect(s.status).toBe("succeeded");
    expect(s.succeeded).toBe(6);
    expect(s.skipped).toBe(1);
    expect(s.failed).toBe(0);
    expect(s.retries).toBe(1);
    expect(s.coldStarts).toBe(3);
    expect(s.wallMs).toBe(5500);
    expect(s.dispatchMs).toBe(4000);
    expect(s.sumChunkMs).toBe(100 + 300 + 200 + 400 + 500);
    expect(s.chunkMs).toEqual({ p50: 300, p95: 500, p99: 500, max: 500 });
    expect(s.memory).toEqual({ p50Mb: 60, p95Mb: 90, maxMb: 90, limitMb: 1024 });
    expect(whole.outcome.attempts.filter((a) => a.won).map((a) => a.index)).toEqual([1, 2, 3, 4, 5]);
  });

  it("the last generation alone (the old summary) calls the earlier generations' chunks skipped", () => {
    const s = summarize(MANIFEST, BACKEND, g2, 4, 4900, OPTS, 6000);
    expect(s.skipped).toBe(4);
    expect(s.retries).toBe(0);
  });

  it("names the chunks a generation that died unlogged finished (done later, won by no logged attempt)", () => {
    // Generation 1 died after its first log (no attempts); generation 2 found 0, 1 and 2 done.
    const dead = generationLog(1, 900, []);
    const next = generationLog(2, 4900, [0, 1, 2], g2);
    expect(unrecordedWins([next, dead])).toEqual([0, 1, 2]);
    expect(unrecordedWins(logs)).toEqual([]);
    const whole = wholeRun([dead, next], g2);
    expect(whole.skipped).toBe(0);
    expect(summarize(MANIFEST, BACKEND, whole.outcome, whole.skipped, 900, OPTS, 6000).succeeded).toBe(5);
  });

  it("a generation that handed over leaves out the attempts its handover stopped, not a lost race", () => {
    const stopped = { ...attempt(5, 1500, 3, false, 10), outcome: "cancelled" as const };
    const race = { ...attempt(3, 1300, 50, false, 10), speculative: true, outcome: "cancelled" as const };
    const g = { ...outcome([...g1.attempts, race, stopped], 1), stoppedEarly: 2 };
    const log = withoutHandover(generationLog(1, 900, [0], g));
    expect(log.attempts.map((a) => [a.index, a.outcome])).toEqual([[1, "ok"], [2, "crash"], [2, "ok"], [3, "ok"], [3, "cancelled"]]);
    expect(log.figures.stoppedEarly).toBe(1);
  });
});
