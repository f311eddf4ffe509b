import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run, type Progress } from "fanout";
import { progressLine } from "../dist/cli/render.js";
import { ETA_MIN_DONE, ETA_MIN_ELAPSED_MS, etaOf } from "../dist/src/exec/progress.js";
import { ROOT } from "./helpers/cli.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const DIR = tmpDir("progress");
afterAll(() => rmDir(DIR));

describe("ETA", () => {
  it("is unknown until enough chunks finished and enough time passed", () => {
    expect(ETA_MIN_DONE).toBe(3);
    expect(ETA_MIN_ELAPSED_MS).toBe(1000);
    expect(etaOf(1, 359, 750)).toEqual({}); // the case: one chunk in, 0.75 s
    expect(etaOf(100, 260, 500)).toEqual({}); // fast, but not a second yet
    expect(etaOf(2, 358, 5000)).toEqual({}); // a second passed, too few chunks
    expect(etaOf(3, 357, 1000)).toEqual({ etaSec: 119 }); // 3 per second
    expect(etaOf(10, 0, 2000)).toEqual({ etaSec: 0 });
  });

  it("progress line shows it rounded once, and nothing while unknown", () => {
    const p: Progress = { total: 360, done: 1, failed: 0, running: 4, skipped: 0, retries: 0, speculated: 0, rate: 0.5, elapsedMs: 750 };
    expect(progressLine(p)).toBe("1/360 done · 4 running · 0 failed · 0.5/s");
    expect(progressLine({ ...p, etaSec: 119.7 })).toBe("1/360 done · 4 running · 0 failed · 0.5/s · ETA 2 min 0 s");
  });

  it("a run reports no ETA in its first second", async () => {
    const seen: Progress[] = [];
    const res = await run<number>("test/fixtures/staggered-sum.ts", { cwd: ROOT, store: path.join(DIR, "store"), chunks: 12, onProgress: (p) => seen.push(p) });
    expect(res.summary.succeeded).toBe(12);
    expect(seen.length).toBeGreaterThan(0);
    for (const p of seen) {
      if (p.elapsedMs < 1000 || p.done - p.skipped < 3) expect(p.etaSec, JSON.stringify(p)).toBeUndefined();
    }
  });
});
