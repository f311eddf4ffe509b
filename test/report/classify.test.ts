import { describe, expect, it } from "vitest";
import { classifyAttempts, countOutcomes, runMs } from "../../dist/src/report/classify.js";
import type { AttemptRecord } from "../../dist/src/types.js";

const at = (index: number, attempt: number, invokedAt: number, outcome: AttemptRecord["outcome"], more: Partial<AttemptRecord> = {}): AttemptRecord => ({
  index,
  attempt,
  speculative: false,
  invokedAt,
  returnedAt: invokedAt + 10,
  coldStart: false,
  outcome,
  won: outcome === "ok",
  ...more,
});

describe("classifyAttempts", () => {
  it("draws each attempt by what became of it and of its chunk", () => {
    const attempts = [
      at(0, 1, 0, "ok"), // ok
      at(1, 1, 0, "user"), // failed, then chunk 1 tried again
      at(1, 2, 20, "ok"),
      at(2, 1, 0, "timeout"), // failed, nothing after it
      at(3, 1, 0, "ok", { won: false }), // lost the race to its speculative copy
      at(3, 1, 5, "ok", { speculative: true, won: true }),
      at(4, 1, 0, "cancelled"),
      // A speculative copy that failed while the first attempt (same number, earlier invoke) won:
      // the copy came last, so it is "failed"; the first is ok.
      at(5, 1, 0, "ok"),
      at(5, 1, 3, "crash", { speculative: true }),
      // Same attempt number, but a later invoke of the chunk came after the failure: retried.
      at(6, 1, 0, "crash", { speculative: true }),
      at(6, 1, 4, "ok"),
    ];
    expect(classifyAttempts(attempts)).toEqual(["ok", "retried", "ok", "failed", "cancelled", "speculative", "cancelled", "ok", "failed", "retried", "ok"]);
  });

  it("gives nothing for no attempts", () => {
    expect(classifyAttempts([])).toEqual([]);
  });
});

describe("countOutcomes", () => {
  it("counts every outcome, zeros included, in display order", () => {
    const counts = countOutcomes(["ok", "failed", "ok", "cancelled"]);
    expect(counts).toEqual({ ok: 2, retried: 0, speculative: 0, failed: 1, cancelled: 1 });
    expect(Object.keys(counts)).toEqual(["ok", "retried", "speculative", "failed", "cancelled"]);
  });
});

describe("runMs", () => {
  it("is worker start to end when the worker reported them, else invoke to reply", () => {
    expect(runMs(at(0, 1, 100, "ok", { startedAt: 130, endedAt: 175, returnedAt: 190 }))).toBe(45);
    expect(runMs(at(0, 1, 100, "ok", { returnedAt: 190 }))).toBe(90);
    expect(runMs(at(0, 1, 100, "timeout", { startedAt: 120, returnedAt: 190 }))).toBe(70);
  });
});
