import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { afterAll, describe, expect, it, vi } from "vitest";
import { run, FanoutError, UsageError, type AttemptRecord } from "fanout";
import { benchOptionsFrom, registerBench } from "../dist/cli/commands/bench.js";
import { countStragglers, parallelismOf, runBench } from "../dist/src/bench/bench.js";
import { benchTable } from "../dist/src/bench/table.js";
import { billedMsOf, DEPLOY_DEFAULTS, estimateCost, estimateS3Requests, fmtUsd, pricedAs, PRICES_US_EAST_1 } from "../dist/src/bench/cost.js";
import { deepEqual, firstDifference, runSequential, sampleIndices } from "../dist/src/bench/sequential.js";

// Read by examples/primes.ts at the top level: set before anything imports it.
process.env.FANOUT_PRIMES_LIMIT = "100000";
const PRIMES_BELOW_1E5 = 9592;

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-bench-test-"));
const store = path.join(tmp, "store");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("sequential baseline", () => {
  it("equals run()'s result for examples/primes.ts", async () => {
    const seq = await runSequential("examples/primes.ts", { chunks: 16, cwd: ROOT });
    const par = await run<number>("examples/primes.ts", { chunks: 16, store, cwd: ROOT });
    expect(seq.result).toBe(PRIMES_BELOW_1E5);
    expect(par.result).toBe(PRIMES_BELOW_1E5);
    expect(deepEqual(seq.result, par.result)).toBe(true);
    expect(seq.sampled).toBe(false);
    expect(seq.ran).toHaveLength(16);
    expect(seq.chunkMs).toHaveLength(16);
    expect(seq.wallMs).toBeCloseTo(seq.setupMs + seq.loopMs, 6);
  });

  it("resolves lines() chunks like the workers (wordcount) and equals run()", async () => {
    const seq = await runSequential("examples/wordcount.ts", { chunks: 7, cwd: ROOT });
    const par = await run("examples/wordcount.ts", { chunks: 7, store, cwd: ROOT });
    expect(firstDifference(seq.result, par.result)).toBeUndefined();
    expect(deepEqual(seq.result, par.result)).toBe(true);
  });

  it("samples evenly spaced chunks and extrapolates", async () => {
    expect(sampleIndices(10, 3)).toEqual([0, 5, 9]);
    expect(sampleIndices(5, 9)).toEqual([0, 1, 2, 3, 4]);
    expect(sampleIndices(100, 1)).toEqual([49]);
    const seq = await runSequential("examples/primes.ts", { chunks: 20, sample: 4, cwd: ROOT });
    expect(seq.sampled).toBe(true);
    expect(seq.ran).toEqual([0, 6, 13, 19]);
    expect(seq.result).toBeUndefined();
    expect(seq.values.filter((v) => v !== undefined)).toHaveLength(4);
    expect(seq.wallMs).toBeCloseTo(seq.setupMs + (seq.loopMs * 20) / 4, 6);
  });

  it("deepEqual and firstDifference", () => {
    expect(deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(deepEqual([undefined], [null])).toBe(true);
    expect(deepEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(deepEqual([1, 2], [1, 2, 3])).toBe(false);
    expect(deepEqual({ a: 1 }, [1])).toBe(false);
    expect(firstDifference({ a: [1, { b: 2 }] }, { a: [1, { b: 3 }] })).toBe("result.a[1].b: 2 vs 3");
  });
});

describe("cost estimate", () => {
  const attempts = [
    { invokedAt: 0, startedAt: 10, endedAt: 1010.2, returnedAt: 1020 }, // worker timing: 1000.2 ms -> 1001
    { invokedAt: 0, returnedAt: 250 }, // no worker timing: client-observed 250 ms
    { invokedAt: 0, startedAt: 5, endedAt: 5.3, returnedAt: 9 }, // 0.3 ms -> 1 ms
  ];

  it("x86_64 at 1024 MB: GB-seconds at 1 ms granularity, requests, S3", () => {
    const c = estimateCost({ attempts, memoryMb: 1024, arch: "x86_64", s3Puts: 1000, s3Gets: 10_000 });
    expect(c.billedMs).toBe(1001 + 250 + 1);
    expect(c.gbSeconds).toBeCloseTo(1.252, 12);
    expect(c.lambdaDuration).toBeCloseTo(1.252 * 0.0000166667, 15);
    expect(c.lambdaRequests).toBeCloseTo(3 * 0.0000002, 15);
    expect(c.s3PutCost).toBeCloseTo(0.005, 15);
    expect(c.s3GetCost).toBeCloseTo(0.004, 15);
    expect(c.total).toBeCloseTo(0.0000208667084 + 0.0000006 + 0.009, 12);
    expect(c.invocations).toBe(3);
    expect(c.pricesAsOf).toBe(PRICES_US_EAST_1.asOf);
  });

  it("arm64 at 1769 MB, and a price override", () => {
    const c = estimateCost({ attempts, memoryMb: 1769, arch: "arm64", s3Puts: 0, s3Gets: 0 });
    expect(c.gbSeconds).toBeCloseTo((1769 / 1024) * 1.252, 12);
    expect(c.lambdaDuration).toBeCloseTo((1769 / 1024) * 1.252 * 0.0000133334, 15);
    expect(c.total).toBeCloseTo(c.lambdaDuration + 3 * 0.0000002, 15);
    const o = estimateCost({ attempts, memoryMb: 2048, arch: "arm64", s3Puts: 2, s3Gets: 0, prices: { lambdaGbSecond: { arm64: 1 }, s3Put: 0.5, region: "eu-west-1" } });
    expect(o.lambdaDuration).toBeCloseTo(2 * 1.252, 12);
    expect(o.s3PutCost).toBe(1);
    expect(o.region).toBe("eu-west-1");
    expect(o.lambdaRequests).toBeCloseTo(3 * 0.0000002, 15);
  });

  it("10,000 chunks of 2 s at 1024 MB x86_64 cost $0.335 in Lambda duration", () => {
    const many = Array.from({ length: 10_000 }, () => ({ invokedAt: 0, startedAt: 0, endedAt: 2000, returnedAt: 2000 }));
    const c = estimateCost({ attempts: many, memoryMb: 1024, arch: "x86_64", s3Puts: 0, s3Gets: 0 });
    expect(c.gbSeconds).toBe(20_000);
    expect(c.lambdaDuration).toBeCloseTo(0.333334, 9);
    expect(c.lambdaRequests).toBeCloseTo(0.002, 12);
    expect(fmtUsd(c.total)).toBe("$0.3353");
  });

  // Lambda bills the whole handler (bundle load, payload GET, map, result PUT) and, since
  // August 2025, the INIT phase of a new environment; a synchronous call the client hung up
  // on runs (and bills) to its end; a throttled call never ran. (docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html,
  // "AWS Lambda standardizes billing for INIT Phase", aws.amazon.com/blogs/compute, 2025.)
  it("bills the handler, INIT on cold starts, abandoned calls to the timeout, and no throttled call", () => {
    const lambda = [
      { invokedAt: 0, startedAt: 100, endedAt: 600, returnedAt: 700, handlerMs: 650, initMs: 180, outcome: "ok" as const }, // cold: 650 + 180
      { invokedAt: 0, startedAt: 10, endedAt: 510, returnedAt: 560, handlerMs: 540, outcome: "ok" as const }, // warm: 540
      { invokedAt: 0, returnedAt: 300, outcome: "cancelled" as const }, // lost race, hung up at 300 ms: runs to the 5 s timeout
      { invokedAt: 0, returnedAt: 35_000, outcome: "timeout" as const }, // client gave up after timeout + grace
      { invokedAt: 0, returnedAt: 20, outcome: "throttled" as const }, // 429: never ran, no request charge
      { invokedAt: 0, returnedAt: 900, outcome: "crash" as const }, // container died: billed as long as it lived
    ];
    const c = estimateCost({ attempts: lambda, memoryMb: 1024, arch: "arm64", timeoutMs: 5000, s3Puts: 0, s3Gets: 0 });
    expect(c.invocations).toBe(5);
    expect(c.billedMs).toBe(830 + 540 + 5000 + 35_000 + 900);
    expect(c.initMs).toBe(180);
    expect(c.estimated).toBe(2);
    expect(c.lambdaRequests).toBeCloseTo(5 * 0.0000002, 15);
    expect(c.basis).toMatch(/whole handler \(INIT of new environments included\).*2 without a reply billed to the chunk timeout/);
    expect(billedMsOf(lambda[4]!)).toBe(0);
    // Without a timeout, an unanswered call is billed as long as the client waited.
    expect(billedMsOf(lambda[2]!)).toBe(300);
  });

  it("prices a run at the flags, else what is deployed on AWS, else what fanout deploy deploys (1769 MB arm64)", () => {
    expect(DEPLOY_DEFAULTS).toEqual({ memoryMb: 1769, arch: "arm64" });
    expect(pricedAs({}, { backend: "local", memoryMb: 1024 })).toEqual({ memoryMb: 1769, arch: "arm64" });
    expect(pricedAs({}, { backend: "emulated", memoryMb: 1024 })).toEqual({ memoryMb: 1769, arch: "arm64" });
    expect(pricedAs({}, { backend: "aws", memoryMb: 3008, arch: "x86_64" })).toEqual({ memoryMb: 3008, arch: "x86_64" });
    expect(pricedAs({ memory: 512, arch: "x86_64" }, { backend: "aws", memoryMb: 3008, arch: "arm64" })).toEqual({ memoryMb: 512, arch: "x86_64" });
  });

  it("billedMsOf, S3 request counts and validation", () => {
    expect(billedMsOf({ invokedAt: 0, returnedAt: 0 })).toBe(1);
    expect(billedMsOf({ invokedAt: 0, startedAt: 1, endedAt: 11, returnedAt: 20 }, 5)).toBe(15);
    const recs = [
      { outcome: "ok", coldStart: true },
      { outcome: "user", coldStart: false },
      { outcome: "cancelled", coldStart: false },
      { outcome: "ok", coldStart: true },
    ] as Pick<AttemptRecord, "outcome" | "coldStart">[];
    expect(estimateS3Requests(recs)).toEqual({ puts: 3 + 5, gets: 2 });
    expect(() => estimateCost({ attempts, memoryMb: 0, arch: "x86_64", s3Puts: 0, s3Gets: 0 })).toThrow(RangeError);
    expect(() => estimateCost({ attempts, memoryMb: 128, arch: "mips" as "arm64", s3Puts: 0, s3Gets: 0 })).toThrow(RangeError);
  });
});

describe("fanout bench (exported functions)", () => {
  it("runBench: primes against the sequential baseline", async () => {
    const { report } = await runBench("examples/primes.ts", { chunks: 8, store, cwd: ROOT, memory: 512, arch: "arm64" });
    expect(report.resultsEqual).toBe(true);
    expect(report.comparison).toMatch(/results equal/);
    expect(report.chunks).toBe(8);
    expect(report.run.attempts).toBeGreaterThanOrEqual(8);
    expect(report.speedup).toBeGreaterThan(0);
    // 8 chunks, concurrency 8, but the pool has 2 processes: at most 2 chunks run at once.
    expect(report.parallelism).toBe(Math.min(8, os.availableParallelism()));
    expect(report.efficiency).toBeCloseTo(report.speedup / report.parallelism, 12);
    expect(report.cost.memoryMb).toBe(512);
    expect(report.cost.arch).toBe("arm64");
    expect(report.cost.total).toBeGreaterThan(0);
    const table = benchTable(report).join("\n");
    expect(table).toMatch(/^wall\s/m);
    expect(table).toMatch(/speedup/);
    expect(table).toMatch(/results equal/);
    expect(table).toMatch(/est\. AWS cost \(512 MB arm64\)/);
  });

  it("efficiency divides by the parallelism available: min(concurrency, chunks, processes)", async () => {
    const { report } = await runBench("examples/primes.ts", { chunks: 8, processes: 2, store, cwd: ROOT });
    expect(report.concurrency).toBe(8);
    expect(report.parallelism).toBe(2);
    expect(report.efficiency).toBeCloseTo(report.speedup / 2, 12);
    expect(benchTable(report).join("\n")).toContain("(speedup / 2 chunks at once: min(concurrency 8, chunks 8, processes))");
    expect(parallelismOf("local", 8, 3, 4)).toBe(3);
    expect(parallelismOf("local", 2, 8, 4)).toBe(2);
    expect(parallelismOf("local", 8, 8, 4)).toBe(4);
    expect(parallelismOf("aws", 100, 360, 2)).toBe(100); // Lambda has no local pool
    expect(benchOptionsFrom({ processes: "3" })).toMatchObject({ processes: 3 });
  });

  it("runBench with --baseline-sample compares the sampled chunks and says it extrapolated", async () => {
    const { report } = await runBench("examples/primes.ts", { chunks: 12, baselineSample: 3, store, cwd: ROOT });
    expect(report.baseline.sampled).toBe(true);
    expect(report.baseline.chunksRun).toBe(3);
    expect(report.baseline.note).toMatch(/sampled: ran 3 of 12/);
    expect(report.resultsEqual).toBe(true);
    expect(report.comparison).toMatch(/3 sampled chunks/);
    expect(benchTable(report).join("\n")).toMatch(/\(est\.\)/);
  });

  it("the command: --json prints one object; a result mismatch fails with exit code 1", async () => {
    const job = path.join(tmp, "differs.ts");
    fs.writeFileSync(job, `import { defineJob, range } from "fanout";\nexport default defineJob({ input: range(0, 4), map: (c, ctx) => ctx.runId });\n`);
    let out = "";
    const spy = vi.spyOn(process.stdout, "write").mockImplementation(((s: string, cb?: () => void) => {
      out += s;
      cb?.();
      return true;
    }) as typeof process.stdout.write);
    try {
      const program = new Command().exitOverride();
      registerBench(program);
      await program.parseAsync(["node", "fanout", "bench", "examples/primes.ts", "--chunks", "4", "--json", "-q", "--store", store, "--report", path.join(tmp, "r.html")]);
      const obj = JSON.parse(out);
      expect(obj.resultsEqual).toBe(true);
      expect(obj.chunks).toBe(4);
      expect(obj.cost.currency).toBe("USD");
      const html = fs.readFileSync(path.join(tmp, "r.html"), "utf8");
      expect(html).toContain('data-testid="compare"');
      expect(html).toContain('data-testid="cost"');

      out = "";
      const p2 = new Command().exitOverride();
      registerBench(p2);
      const err = await p2.parseAsync(["node", "fanout", "bench", job, "-q", "--store", store, "--chunks", "4"]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FanoutError);
      expect((err as FanoutError).exitCode).toBe(1);
      expect((err as FanoutError).code).toBe("E_BENCH_MISMATCH");
      expect(out).toMatch(/results DIFFER: result\[0\]: "sequential" vs/);
    } finally {
      spy.mockRestore();
    }
  });

  it("flag checks", () => {
    expect(() => benchOptionsFrom({ arch: "sparc" })).toThrow(UsageError);
    expect(() => benchOptionsFrom({ baseline: "remote" })).toThrow(UsageError);
    expect(() => benchOptionsFrom({ chunks: "0" })).toThrow(UsageError);
    expect(benchOptionsFrom({ chunks: "5", baselineSample: "2", arch: "arm64", speculate: false })).toMatchObject({ chunks: 5, baselineSample: 2, arch: "arm64", speculate: false, baseline: "sequential", backend: "local" });
  });

  it("counts stragglers over 2x the median", () => {
    const mk = (ms: number): AttemptRecord => ({ index: 0, attempt: 1, speculative: false, invokedAt: 0, startedAt: 0, endedAt: ms, returnedAt: ms, coldStart: false, outcome: "ok", won: true });
    expect(countStragglers([mk(100), mk(100), mk(110), mk(221), mk(1000)])).toBe(2);
    expect(countStragglers([mk(1), mk(1), mk(3)])).toBe(0); // 3 ms is not a straggler among 1 ms chunks
  });
});
