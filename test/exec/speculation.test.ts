import { describe, expect, it } from "vitest";
import { copyCost, defaultSpeculationSettings, FinishedTimes, pickStragglers, type StragglerCandidate } from "../../dist/src/exec/speculation.js";
import type { AttemptRecord } from "../../dist/src/types.js";

// The straggler rule, exactly: copy a chunk whose only attempt has been out (client round trip,
// since invoke) max(2 x median, median + 100 ms) of finished chunks' round trips, once enough
// chunks finished to trust the median.
const settings = { factor: 2, floorMs: 100, minSamples: 3, maxInFlight: 2, intervalMs: 50 };
const NOW = 10_000;

type C = StragglerCandidate & { id: string };
const chunk = (id: string, ranMs: number, over: Partial<StragglerCandidate> = {}): C => ({
  id,
  done: false,
  speculatedOnce: false,
  running: [{ invokedAt: NOW - ranMs }],
  ...over,
});
const finished = (...samples: number[]) => ({ count: samples.length, samples });
const ids = (cs: C[]) => cs.map((c) => c.id);

describe("pickStragglers", () => {
  const cases: [string, C[], ReturnType<typeof finished>, number, string[]][] = [
    ["median 100: threshold 200", [chunk("a", 199), chunk("b", 200), chunk("c", 500)], finished(90, 100, 110), 0, ["b", "c"]],
    ["median 20: the 100 ms floor rules", [chunk("a", 119), chunk("b", 120)], finished(20, 20, 20), 0, ["b"]],
    ["too few finished chunks", [chunk("a", 10_000)], finished(100, 100), 0, []],
    ["copies in flight at the limit", [chunk("a", 10_000)], finished(1, 1, 1), 2, []],
    ["one slot left: first straggler only", [chunk("a", 900), chunk("b", 900)], finished(1, 1, 1), 1, ["a"]],
    ["copied once already", [chunk("a", 900, { speculatedOnce: true }), chunk("b", 900)], finished(1, 1, 1), 0, ["b"]],
    ["done, or two attempts running", [chunk("a", 900, { done: true }), { ...chunk("b", 900), running: [{ invokedAt: 0 }, { invokedAt: 0 }] }], finished(1, 1, 1), 0, []],
  ];
  it.each(cases)("%s", (_name, live, done, inFlight, expected) => {
    expect(ids(pickStragglers(live, done, inFlight, NOW, settings))).toEqual(expected);
  });

  it("counts finished chunks past the reservoir's 1000 samples", () => {
    const times = new FinishedTimes();
    for (let i = 0; i < 1500; i++) times.add(50);
    expect([times.count, times.samples.length]).toEqual([1500, 1000]);
    expect(ids(pickStragglers([chunk("a", 150)], times, 0, NOW, settings))).toEqual(["a"]);
  });

  it("defaults: 10% of chunks as samples (at least 3), 10% of concurrency as copies (at least 1)", () => {
    expect(defaultSpeculationSettings(360, 64)).toEqual({ factor: 2, floorMs: 100, minSamples: 36, maxInFlight: 7, intervalMs: 50 });
    expect(defaultSpeculationSettings(5, 4)).toMatchObject({ minSamples: 3, maxInFlight: 1 });
  });
});

describe("copyCost", () => {
  const rec = (speculative: boolean, won: boolean, invokedAt: number, returnedAt: number): AttemptRecord => ({
    index: 0,
    attempt: 1,
    speculative,
    invokedAt,
    returnedAt,
    coldStart: false,
    outcome: won ? "ok" : "cancelled",
    won,
  });
  it("counts copies and wins, and the client time of copies that did not win", () => {
    const attempts = [rec(false, false, 0, 900), rec(true, true, 500, 700), rec(true, false, 100, 350), rec(true, false, 1000, 1040), rec(false, true, 0, 100)];
    expect(copyCost(attempts)).toEqual({ copies: 3, won: 1, lostMs: 290 });
    expect(copyCost([rec(false, true, 0, 5)])).toEqual({ copies: 0, won: 0, lostMs: 0 });
  });
});
