// An attempt's run time, counted one way by the summary, the report and bench.
import { describe, expect, it } from "vitest";
import { attemptRunMs } from "../../dist/src/util/attempts.js";

describe("attemptRunMs", () => {
  it("is the worker's own start to end when it reported them", () => {
    expect(attemptRunMs({ invokedAt: 1000, startedAt: 1040, endedAt: 1290, returnedAt: 1300 })).toBe(250);
  });
  it("falls back to the client's invoke and return for what the worker did not report", () => {
    expect(attemptRunMs({ invokedAt: 1000, returnedAt: 1300 })).toBe(300);
    expect(attemptRunMs({ invokedAt: 1000, startedAt: 1100, returnedAt: 1300 })).toBe(200);
    expect(attemptRunMs({ invokedAt: 1000, endedAt: 1200, returnedAt: 1300 })).toBe(200);
  });
});
