import { describe, expect, it } from "vitest";
import { concurrencySteps, histogramBins } from "../../dist/src/report/charts.js";

describe("concurrencySteps", () => {
  it("counts open intervals at each distinct time", () => {
    expect(
      concurrencySteps([
        [0, 10],
        [5, 20],
        [10, 15], // opens as the first closes: one point at t=10, still 2 open
        [30, 40],
      ]),
    ).toEqual([
      [0, 1],
      [5, 2],
      [10, 2],
      [15, 1],
      [20, 0],
      [30, 1],
      [40, 0],
    ]);
  });

  it("is empty for no intervals", () => {
    expect(concurrencySteps([])).toEqual([]);
  });
});

describe("histogramBins", () => {
  it("bins from zero when the spread is wide; bins are [from, to), the maximum in the last", () => {
    expect(histogramBins([10, 20, 30, 40, 100])).toEqual({ min: 0, max: 100, width: 20, counts: [1, 2, 1, 0, 1] });
  });

  it("zooms the axis when every time is alike", () => {
    // lo 100 > 0.4 * hi: the axis starts at 100 rounded down to a tick step of 2 (spread 10 / 5).
    expect(histogramBins([100, 102, 104, 106, 108, 110])).toEqual({ min: 100, max: 110, width: 2, counts: [1, 1, 1, 1, 2] });
  });

  it("uses about sqrt(n) bins, at most 40", () => {
    expect(histogramBins(Array.from({ length: 100 }, (_, i) => i)).counts.length).toBe(10);
    expect(histogramBins(Array.from({ length: 10_000 }, (_, i) => i)).counts.length).toBe(40);
  });
});
