import { describe, expect, it } from "vitest";
import { attemptEnd, layoutTimeline } from "../../dist/src/report/timeline-layout.js";
import type { AttemptRecord } from "../../dist/src/types.js";

const at = (index: number, invokedAt: number, returnedAt: number, more: Partial<AttemptRecord> = {}): AttemptRecord => ({
  index,
  attempt: 1,
  speculative: false,
  invokedAt,
  returnedAt,
  coldStart: false,
  outcome: "ok",
  won: true,
  ...more,
});

describe("layoutTimeline", () => {
  it("gives overlapping attempts of a chunk their own lanes and reuses a lane once it is free", () => {
    const attempts = [
      at(2, 1000, 1100),
      at(0, 1010, 1400), // chunk 0: first attempt, slow
      at(0, 1200, 1300, { speculative: true }), // overlaps it: lane 1
      at(0, 1350, 1390, { speculative: true }), // lane 1 is free again at 1300 (lane 0 is busy until 1400)
      at(0, 1400, 1450), // lane 0 is free at 1400
    ];
    const l = layoutTimeline(attempts);
    expect(l.t0).toBe(1000);
    expect(l.span).toBe(450);
    expect(l.rows).toBe(3);
    expect(l.lane).toEqual([0, 0, 1, 1, 0]);
    expect([...l.lanes.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [0, 2],
      [2, 1],
    ]);
  });

  it("places attempts by invoke time within a chunk, whatever their order in the list", () => {
    const l = layoutTimeline([at(0, 50, 60), at(0, 0, 100)]);
    expect(l.lane).toEqual([1, 0]);
    expect(l.lanes.get(0)).toBe(2);
  });

  it("ends a bar at the worker's end when that is after the reply (clock skew), and spans at least 1 ms", () => {
    expect(attemptEnd(at(0, 0, 100, { endedAt: 120 }))).toBe(120);
    expect(attemptEnd(at(0, 0, 100, { endedAt: 90 }))).toBe(100);
    const l = layoutTimeline([at(0, 5000, 5000)]);
    expect({ t0: l.t0, span: l.span, rows: l.rows }).toEqual({ t0: 5000, span: 1, rows: 1 });
  });
});
