// Memory tiers on the local backend, where a tier is the worker processes' V8 heap cap.
// --oom-retry: a chunk that holds ~160 MB of heap dies out of memory under a 64 MB cap and reruns
// alone in a process with the next tier's heap, where it fits: the answer is exact and the
// summary says so. `fanout bench --memory a,b,c --sample k`: the same chunks on each tier, the
// table, --json and the report's sweep section.
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
    expect((err as ChunkFailedError).hint).toMatch(/^raise --memory \(or add --oom-retry to rerun such chunks with a larger heap\), /);
  }, 60_000);

  it("a run that failed out of memory, resumed with --oom-retry, finishes exactly (only the failed chunk runs)", async () => {
    const first = await fanout(["run", JOB, "--chunks", "6", "--processes", "2", "--concurrency", "1", "--memory", "64", "--store", STORE, "--no-speculate"]);
    expect(first.code).toBe(1);
    const runId = /--resume (\S+)/.exec(first.stderr)![1]!;
    const res = await fanout(["run", JOB, "--resume", runId, "--processes", "2", "--memory", "64", "--oom-retry", "--store", STORE, "--json"]);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { result: number; summary: { skipped: number; escalated: unknown } };
    expect(out.result).toBe(EXACT);
    expect(out.summary.skipped).toBe(5);
    expect(out.summary.escalated).toEqual([{ fromMb: 64, toMb: 256, chunks: 1 }]);
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

describe("fanout bench --memory 256,512,1024 --sample 3: a memory sweep on the local backend", () => {
  const TIERS = [256, 512, 1024];

  it("runs the same sample of chunks (same indexes) once per tier, each with that tier's memory", async () => {
    const { runMemorySweep } = await import("../dist/src/bench/sweep.js");
    const { report, runs } = await runMemorySweep("examples/primes.ts", { tiers: TIERS, sample: 3, chunks: 6, store: STORE, cwd: ROOT, processes: 2 });
    expect(runs.map((r) => r.summary.memoryMb)).toEqual(TIERS);
    for (const r of runs) expect(r.attempts.filter((a) => a.won).map((a) => a.index).sort()).toEqual([0, 3, 5]);
    expect(new Set(runs.map((r) => r.runId)).size).toBe(3);
    expect(report.sample).toEqual([0, 3, 5]);
    expect(report.tiers.map((t) => [t.memoryMb, t.runId, t.attempts])).toEqual(runs.map((r, i) => [TIERS[i], r.runId, 3]));
    // Each tier's run holds only the sample, by design: status says so, and offers no resume.
    const shown = await fanout(["status", runs[1]!.runId, "--store", STORE]);
    expect(shown.stdout).toContain("\n  (bench sample: 3 chunks at 512 MB): only chunks 0, 3, 5 were run, to time them\n");
    expect(shown.stdout).not.toContain("resume:");
    const listed = (await fanout(["status", "--store", STORE])).stdout.split("\n").find((l) => l.startsWith(runs[2]!.runId));
    expect(listed).toMatch(/ {2}\(bench sample: 3 chunks at 1024 MB\)$/);
  }, 120_000);

  it("the table: one line per tier, the fastest and the recommended marked, and why the figures are local", async () => {
    const res = await fanout(["bench", "examples/primes.ts", "--chunks", "6", "--processes", "2", "--memory", "256,512,1024", "--sample", "3", "--store", STORE, "-q"]);
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(8);
    expect(lines[0]).toBe("fanout bench examples/primes.ts · memory sweep on local · chunks 0, 3, 5 (3 of 6) on each tier");
    expect(lines[1]).toMatch(/^memory {3}chunk mean {2}p50 +p95 +sample wall {2}attempts {2}peak RSS {2}est\. cost\/chunk {2}est\. cost \(sample\)$/);
    const row = /^(\d+) MB +\d+(?:\.\d+)? m?s +\d+(?:\.\d+)? m?s +\d+(?:\.\d+)? m?s +\d+(?:\.\d+)? m?s +3 +\d+ MB +\$[\d.e-]+ +\$[\d.e-]+(?: {2}← (fastest|recommended|fastest, recommended))?$/;
    const rows = lines.slice(2, 5).map((l) => row.exec(l));
    expect(rows.map((m) => Number(m?.[1]))).toEqual([256, 512, 1024]);
    const marked = (what: string) => rows.filter((m) => m?.[2]?.includes(what)).map((m) => Number(m![1]));
    expect(marked("fastest")).toHaveLength(1);
    expect(marked("recommended")).toHaveLength(1);
    expect(lines[5]).toBe(`recommended: --memory ${marked("recommended")[0]} (the cheapest within 10% of the fastest, ${marked("fastest")[0]} MB)`);
    expect(lines[6]).toBe("note: local: memory is the workers' V8 heap cap here and does not change speed; the times are not Lambda's, the cost model is");
    expect(lines[7]).toMatch(/^cost: each tier's sample priced at that memory, arm64, /);
  }, 120_000);

  it("--json: the sweep's figures, exactly structured; --report: a sweep table in the HTML", async () => {
    const report = `${STORE}/sweep.html`;
    const res = await fanout(["bench", "examples/primes.ts", "--chunks", "6", "--processes", "2", "--memory", "256,1024", "--sample", "2", "--store", STORE, "--json", "--report", report]);
    expect(res.code, res.stderr).toBe(0);
    const r = JSON.parse(res.stdout);
    expect(Object.keys(r)).toEqual(["kind", "job", "backend", "chunks", "sample", "arch", "tiers", "fastestMb", "recommendedMb", "within", "basis", "costBasis"]);
    expect(r).toMatchObject({ kind: "memory-sweep", job: "examples/primes.ts", backend: "local", chunks: 6, sample: [0, 5], arch: "arm64", within: 0.1 });
    expect(r.tiers.map((t: { memoryMb: number }) => t.memoryMb)).toEqual([256, 1024]);
    for (const t of r.tiers) {
      expect(Object.keys(t)).toEqual(["memoryMb", "runId", "chunkMs", "wallMs", "attempts", "peakMb", "cost", "costPerChunk"]);
      // The workers' peak RSS: plausible for a small job, and under its tier.
      expect(t.peakMb).toBeGreaterThan(10);
      expect(t.peakMb).toBeLessThan(t.memoryMb);
      expect(Object.keys(t.chunkMs)).toEqual(["mean", "p50", "p95", "max"]);
      expect(t.attempts).toBe(2);
      expect(t.costPerChunk).toBeCloseTo(t.cost / 2, 12);
    }
    // The recommendation follows from the figures: the cheapest within 10% of the fastest mean.
    const fastest = r.tiers.reduce((a: any, b: any) => (b.chunkMs.mean < a.chunkMs.mean ? b : a));
    expect(r.fastestMb).toBe(fastest.memoryMb);
    const near = r.tiers.filter((t: any) => t.chunkMs.mean <= fastest.chunkMs.mean * 1.1);
    expect(near.map((t: any) => t.memoryMb)).toContain(r.recommendedMb);
    const html = (await import("node:fs")).readFileSync(report, "utf8");
    const rows = [...html.matchAll(/<tr data-testid="sweep-row" data-memory="(\d+)"[^>]*?( data-recommended="true")?>/g)];
    expect(rows.map((m) => Number(m[1]))).toEqual([256, 1024]);
    expect(rows.filter((m) => m[2]).map((m) => Number(m[1]))).toEqual([r.recommendedMb]);
    expect(html).toContain(`recommended: --memory ${r.recommendedMb} (the cheapest within 10% of the fastest, ${r.fastestMb} MB)`);
  }, 120_000);

  it("recommend(): the fastest by mean, then the cheapest per chunk within 10% of it", async () => {
    const { recommend } = await import("../dist/src/bench/sweep.js");
    const t = (memoryMb: number, mean: number, costPerChunk: number) => ({ memoryMb, chunkMs: { mean, p50: mean, p95: mean, max: mean }, costPerChunk });
    // Lambda-like: 1769 MB is 5% slower than 3008 MB and cheaper; 1024 MB is too slow.
    expect(recommend([t(1024, 200, 3), t(1769, 105, 2.6), t(3008, 100, 4)], 0.1)).toEqual({ fastestMb: 3008, recommendedMb: 1769 });
    // Nothing within 10%: the fastest is also the recommendation.
    expect(recommend([t(1024, 300, 1), t(3008, 100, 4)], 0.1)).toEqual({ fastestMb: 3008, recommendedMb: 3008 });
    // Equal cost: less memory.
    expect(recommend([t(1024, 100, 2), t(2048, 100, 2)], 0.1)).toEqual({ fastestMb: 1024, recommendedMb: 1024 });
  });
});
