// Live output from inside running chunks, on the local backend: ctx.progress moves the
// progress display before the first chunk ends, and `fanout logs -f` shows a chunk's line
// while that chunk still runs (the worker flushes new lines to the store every 2 s).
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run, type Progress } from "fanout";
import { progressLine } from "../dist/cli/render.js";
import { ROOT } from "./helpers/cli.js";
import { followLiveLines } from "./helpers/follow.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const DIR = tmpDir("live");

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}
afterAll(() => rmDir(DIR));

describe("live progress and logs (local)", () => {
  it("4 chunks of 2 s calling ctx.progress show fractional progress before the first one finishes", async () => {
    const seen: Progress[] = [];
    const res = await run<number>("test/fixtures/progress-steps.ts", { cwd: ROOT, store: path.join(DIR, "progress"), chunks: 4, concurrency: 4, speculate: false, onProgress: (p) => seen.push({ ...p }) });
    expect(res.result).toBe(0 + 1 + 2 + 3);
    const early = seen.filter((p) => p.done === 0 && (p.partial ?? 0) > 0);
    expect(early.length, JSON.stringify(seen.slice(0, 12))).toBeGreaterThan(0);
    // Each running chunk counts by its own fraction: at most one chunk's worth per running chunk.
    for (const p of early) expect(p.partial!).toBeLessThanOrEqual(p.running);
    expect(Math.max(...early.map((p) => p.partial!))).toBeGreaterThanOrEqual(1);
    expect(progressLine({ ...early[0]!, partial: 1.25, rate: 0, running: 4 })).toMatch(/^1\.3\/4 done · 4 running/);
  }, 60_000);

  it("logs -f prints a chunk's line before that chunk ends, and every line once", async () => {
    const f = await followLiveLines(["--store", path.join(DIR, "logs")]);
    expect(f.runCode).toBe(0);
    expect(f.followCode).toBe(0);
    expect(f.beginSeenAt).toBeGreaterThan(0);
    expect(f.beginSeenAt).toBeLessThan(f.chunk0EndedAt);
    expect(f.lines).toEqual(["begin 0", "end 0"]);
    // The parts "begin 0" came from are removed once the chunk's result holds every line.
    expect(filesUnder(path.join(DIR, "logs", "runs", f.runId, "live"))).toEqual([]);
  }, 60_000);
});
