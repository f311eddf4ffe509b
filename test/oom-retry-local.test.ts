// --oom-retry on the local backend: memory tiers are the worker processes' V8 heap caps. A chunk
// that holds ~160 MB of heap dies out of memory under a 64 MB cap and reruns alone in a process
// with the next tier's heap, where it fits: the answer is exact and the summary says so.
import { afterAll, describe, expect, it } from "vitest";
import { ChunkFailedError, run } from "fanout";
import { fanout, ROOT } from "./helpers/cli.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const STORE = tmpDir("oom-retry");
afterAll(() => rmDir(STORE));

const N = 2000;
const EXACT = ((N - 1) * N * (2 * N - 1)) / 6;
const JOB = "test/fixtures/faults/oom-tiers.ts";
// One chunk in flight: an OOM is then the chunk's own, not a shared process's (which would rerun
// its chunks alone on the same tier first: test/exec/executor.test.ts covers that order).
const opts = { store: STORE, cwd: ROOT, speculate: false, chunks: 6, processes: 2, concurrency: 1 } as const;

describe("--oom-retry on the local backend", () => {
  it("--memory 64,256: chunk 3 runs out of memory at 64 MB, reruns at 256 MB, and the answer is exact", async () => {
    const r = await run<number>(JOB, { ...opts, memory: [64, 256], oomRetry: true });
    expect(r.result).toBe(EXACT);
    expect(r.summary.succeeded).toBe(6);
    expect(r.summary.retries).toBe(0);
    const chunk3 = r.attempts.filter((a) => a.index === 3).map((a) => [a.attempt, a.outcome, a.memoryMb ?? 64, a.won]);
    expect(chunk3).toEqual([
      [1, "oom", 64, false],
      [2, "ok", 256, true],
    ]);
    // Only chunk 3 moved; the others ran on the run's own 64 MB.
    expect(r.attempts.filter((a) => a.index !== 3).every((a) => a.memoryMb === undefined && a.outcome === "ok")).toBe(true);
    expect(r.summary.escalated).toEqual([{ fromMb: 64, toMb: 256, chunks: 1 }]);
    expect(r.summary.memoryMb).toBe(64);
  }, 60_000);

  it("with one --memory the tiers double: 64 → 128 (still too small) → 256", async () => {
    const r = await run<number>(JOB, { ...opts, memory: 64, oomRetry: true });
    expect(r.result).toBe(EXACT);
    expect(r.attempts.filter((a) => a.index === 3).map((a) => [a.outcome, a.memoryMb ?? 64])).toEqual([
      ["oom", 64],
      ["oom", 128],
      ["ok", 256],
    ]);
    expect(r.summary.escalated).toEqual([{ fromMb: 64, toMb: 256, chunks: 1 }]);
  }, 60_000);

  it("without --oom-retry the same chunk fails out of memory", async () => {
    const err = await run(JOB, { ...opts, memory: 64 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChunkFailedError);
    expect((err as ChunkFailedError).index).toBe(3);
    expect((err as ChunkFailedError).remote.kind).toBe("oom");
  }, 60_000);

  it("the CLI: --memory 64,256 --oom-retry prints the escalation in the summary and --json", async () => {
    const res = await fanout(["run", JOB, "--chunks", "6", "--processes", "2", "--concurrency", "1", "--memory", "64,256", "--oom-retry", "--store", STORE, "--no-speculate", "--json"]);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { result: number; summary: { escalated: unknown } };
    expect(out.result).toBe(EXACT);
    expect(out.summary.escalated).toEqual([{ fromMb: 64, toMb: 256, chunks: 1 }]);
    expect(res.stderr).toContain("1 chunk escalated 64→256 MB (out of memory, --oom-retry)");
  }, 60_000);
});
