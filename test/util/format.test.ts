// The one duration formatter (src/util/format.ts), shared by the CLI, bench and the HTML report.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fmtMs } from "../../dist/src/util/format.js";

describe("fmtMs", () => {
  it("rounds once, to the precision it shows", () => {
    expect(fmtMs(0)).toBe("0 ms");
    expect(fmtMs(999.4)).toBe("999 ms");
    expect(fmtMs(999.6)).toBe("1.00 s");
    expect(fmtMs(1234)).toBe("1.23 s");
    expect(fmtMs(9_999)).toBe("10.0 s");
    expect(fmtMs(12_345)).toBe("12.3 s");
    expect(fmtMs(59_940)).toBe("59.9 s");
    expect(fmtMs(59_960)).toBe("1 min 0 s");
    expect(fmtMs(119_700)).toBe("2 min 0 s");
    expect(fmtMs(1_891_000)).toBe("31 min 31 s");
    expect(fmtMs(3_599_600)).toBe("1 h 0 min");
    expect(fmtMs(5_400_000)).toBe("1 h 30 min");
  });

  // The HTML report's copy had these two; the one formatter keeps them.
  it("keeps two decimals under a millisecond, and shows a non-number as a dash", () => {
    expect(fmtMs(0.25)).toBe("0.25 ms");
    expect(fmtMs(0.999)).toBe("1.00 ms");
    expect(fmtMs(-3)).toBe("0 ms");
    expect(fmtMs(NaN)).toBe("–");
    expect(fmtMs(Infinity)).toBe("–");
  });

  it("never prints 60 of a unit, nor 1000 ms", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 48 * 3_600_000, noNaN: true }), (ms) => {
        const s = fmtMs(ms);
        expect(s).not.toMatch(/(^|[^\d.])60(\.0+)? (s|min)\b|1000 ms/);
      }),
      { numRuns: 5000 },
    );
    for (const edge of [59_950, 59_999.9, 119_500, 3_599_500, 3_599_999]) expect(fmtMs(edge)).not.toMatch(/(^|[^\d.])60(\.0+)? (s|min)/);
  });
});
