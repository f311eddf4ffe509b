// Real faults on the emulated AWS stack: S3 (s3rver) stopped mid-run and restarted, and the
// Lambda endpoint answering 429 for a while (a loopback proxy in front of serverless-offline).
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { run, type RunResult } from "fanout";
import { BIN, fanout, ROOT } from "./helpers/cli.js";
import { emulatorForFile } from "./helpers/emulator.js";
import { startLambdaProxy } from "./helpers/lambda-proxy.js";

const emulated = emulatorForFile();

function countedOnce(r: RunResult, chunks: number): void {
  const winners = r.attempts.filter((a) => a.won).map((a) => a.index);
  expect(new Set(winners).size).toBe(chunks);
  expect(winners.length).toBe(chunks);
  expect(r.summary.succeeded).toBe(chunks);
}

const N = 2000;
const EXACT = ((N - 1) * N * (2 * N - 1)) / 6;

describe("fault injection on the emulated AWS stack", () => {
  it("Lambda answers 429 for a while: invocations back off and the run finishes exactly", async () => {
    // Lambda's 429 for the first 30 invocations, whatever is in flight.
    const proxy = await startLambdaProxy(emulated.current.emu.lambdaEndpoint, { throttle: 30 });
    const saved = process.env.FANOUT_EMULATOR!;
    process.env.FANOUT_EMULATOR = JSON.stringify({ ...JSON.parse(saved), lambdaEndpoint: proxy.url });
    try {
      const r = await run<number>("test/fixtures/faults/throw-first.ts", {
        backend: "emulated",
        chunks: 12,
        cwd: ROOT,
        speculate: false,
      });
      expect(r.result).toBe(EXACT);
      countedOnce(r, 12);
      expect(proxy.stats.refused).toBe(30);
      const throttled = r.attempts.filter((a) => a.outcome === "throttled").length;
      expect(throttled).toBe(30);
      // A 429 requeues the chunk without spending a retry; the summary counts them apart.
      expect(r.summary.throttle?.throttled).toBe(30);
      // At most throw-first's own error in chunk 3 (it throws on attempt 1 only, and a throttled
      // attempt still counts as an attempt, so chunk 3 may never see attempt 1 run).
      expect(r.summary.retries).toBeLessThanOrEqual(1);
    } finally {
      process.env.FANOUT_EMULATOR = saved;
      await proxy.close();
    }
  }, 120_000);

  it("a Lambda container dies mid-chunk: Lambda's Unhandled error is retried as a crash, the answer is exact", async () => {
    // Chunk 3's first invocation runs, then Lambda reports its container died mid-chunk.
    const proxy = await startLambdaProxy(emulated.current.emu.lambdaEndpoint, {
      runtimeExit: { when: (t) => t.index === 3 && t.attempt === 1, error: "signal: segmentation fault" },
    });
    const saved = process.env.FANOUT_EMULATOR!;
    process.env.FANOUT_EMULATOR = JSON.stringify({ ...JSON.parse(saved), lambdaEndpoint: proxy.url });
    try {
      const r = await run<number>("test/fixtures/faults/throw-first.ts", { backend: "emulated", chunks: 8, cwd: ROOT, speculate: false });
      // throw-first also throws in chunk 3 on attempt 1; the proxy hides that behind a crash.
      expect(proxy.stats.runtimeExits).toBe(1);
      expect(r.result).toBe(EXACT);
      countedOnce(r, 8);
      expect(r.attempts.find((a) => a.index === 3 && a.attempt === 1)?.outcome).toBe("crash");
    } finally {
      process.env.FANOUT_EMULATOR = saved;
      await proxy.close();
    }
  }, 120_000);

  it("a straggler 10x slower on its first attempt is overtaken by a speculative copy", async () => {
    const old = { ...process.env };
    Object.assign(process.env, { FANOUT_SLOW_MS: "150", FANOUT_SLOW_COUNT: "40", FANOUT_STRAGGLERS: "6" });
    try {
      const r = await run<number>("test/fixtures/faults/slow.ts", { backend: "emulated", chunks: 40, concurrency: 8, cwd: ROOT, speculate: true });
      expect(r.result).toBe((40 * 39) / 2);
      countedOnce(r, 40);
      expect(r.attempts.some((a) => a.index === 6 && a.speculative && a.won)).toBe(true);
    } finally {
      for (const k of ["FANOUT_SLOW_MS", "FANOUT_SLOW_COUNT", "FANOUT_STRAGGLERS"]) {
        if (old[k] === undefined) delete process.env[k];
        else process.env[k] = old[k];
      }
    }
  }, 120_000);

  it("the CLI killed with SIGKILL half way through an emulated run; --resume finishes it exactly", async () => {
    const env = { FANOUT_SLOW_MS: "300", FANOUT_SLOW_COUNT: "48", ...emulated.current.env };
    const child = spawn(process.execPath, [BIN, "run", "test/fixtures/faults/slow.ts", "--chunks", "48", "--concurrency", "4", "--backend", "emulated", "--no-speculate"], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    let runId: string | undefined;
    for (let i = 0; i < 400 && !runId; i++) {
      await new Promise((r) => setTimeout(r, 50));
      runId = /run (\d{8}T\d{6}Z-[a-z0-9]{6}):/.exec(stderr)?.[1];
    }
    expect(runId).toBeDefined();
    let done = 0;
    for (let i = 0; i < 400 && done < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const st = await fanout(["status", runId!, "--backend", "emulated", "--json"], { env });
      if (st.code === 0) done = JSON.parse(st.stdout).done;
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(done).toBeGreaterThanOrEqual(20);
    const resumed = await fanout(["run", "test/fixtures/faults/slow.ts", "--resume", runId!, "--backend", "emulated", "--json", "-q"], { env });
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    const out = JSON.parse(resumed.stdout);
    expect(out.result).toBe((48 * 47) / 2);
    expect(out.summary.skipped).toBeGreaterThanOrEqual(20);
    expect(out.summary.skipped).toBeLessThan(48);
  }, 120_000);

  // Twelve seconds outlast the SDK's own retries (ten attempts, full jitter, one token bucket per
  // client): before the worker waited for its result PUTs itself (durable-put.ts), chunks caught
  // in the outage came back transient and were computed again, in three runs out of three.
  it("S3 stopped for twelve seconds mid-run and restarted: result PUTs wait it out, nothing is lost or computed twice", async () => {
    let outage: Promise<void> | undefined;
    const old = { ms: process.env.FANOUT_SLOW_MS, n: process.env.FANOUT_SLOW_COUNT };
    process.env.FANOUT_SLOW_MS = "150";
    process.env.FANOUT_SLOW_COUNT = "48";
    try {
      const r = await run<number>("test/fixtures/faults/slow.ts", {
        backend: "emulated",
        chunks: 48,
        concurrency: 4,
        cwd: ROOT,
        speculate: false,
        onProgress: (p) => {
          if (!outage && p.done >= 8) outage = emulated.current.emu.outageS3(12_000);
        },
      });
      await outage;
      expect(outage).toBeDefined();
      expect(r.result).toBe((48 * 47) / 2);
      countedOnce(r, 48);
      // S3 trouble is retried where it happened (the worker's result PUT), so no chunk is computed twice.
      expect(r.attempts.filter((a) => a.attempt > 1 || a.outcome !== "ok")).toStrictEqual([]);
      expect(r.attempts.length).toBe(48);
    } finally {
      process.env.FANOUT_SLOW_MS = old.ms ?? "";
      process.env.FANOUT_SLOW_COUNT = old.n ?? "";
      if (old.ms === undefined) delete process.env.FANOUT_SLOW_MS;
      if (old.n === undefined) delete process.env.FANOUT_SLOW_COUNT;
    }
  }, 120_000);
});
