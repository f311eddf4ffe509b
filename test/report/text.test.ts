import { describe, expect, it } from "vitest";
import { escapeHtml, fmtTick, ticks } from "../../dist/src/report/text.js";

describe("ticks", () => {
  it("steps by 1, 2 or 5 times a power of ten from 0 to past the maximum", () => {
    expect(ticks(10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(ticks(7, 6)).toEqual([0, 2, 4, 6]);
    expect(ticks(450, 8)).toEqual([0, 100, 200, 300, 400]);
    expect(ticks(0)).toEqual([0]);
    expect(ticks(Number.NaN)).toEqual([0]);
  });
});

describe("fmtTick", () => {
  it("writes ms under a 2 s span, tenths of a second under 20 s, whole seconds beyond", () => {
    expect(fmtTick(1234.4, 1999)).toBe("1234 ms");
    expect(fmtTick(1250, 5000)).toBe("1.3 s");
    expect(fmtTick(15_600, 60_000)).toBe("16 s");
  });
});

describe("escapeHtml", () => {
  it("escapes the five HTML metacharacters", () => {
    expect(escapeHtml(`<a href="x">Tom & Jerry's</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    expect(escapeHtml(42)).toBe("42");
  });
});
