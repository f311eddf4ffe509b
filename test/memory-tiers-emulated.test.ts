// Memory tiers on the emulated AWS stack: serverless-offline serves the functions
// `fanout deploy --memory 256,1024` deploys (worker, worker1024), `--memory` picks one, and
// `--oom-retry` moves a chunk that runs out of memory up a tier. serverless-offline enforces no
// memory limit, so a loopback proxy answers as Lambda does when a Node runtime dies of a V8 heap
// OOM, for the 256 MB function only: Runtime.ExitError "Runtime exited with error: signal: aborted"
// (research-aws.md §1; https://docs.aws.amazon.com/lambda/latest/dg/nodejs-exceptions.html).
// `fanout bench --memory 256,1024` sweeps the same tiers, each on its own function.
import { describe, expect, it } from "vitest";
import { ChunkFailedError, run } from "fanout";
import { fanout, ROOT } from "./helpers/cli.js";
import { emulatorForFile } from "./helpers/emulator.js";
import { startLambdaProxy, type LambdaProxy } from "./helpers/lambda-proxy.js";

const emulated = emulatorForFile({ tiers: [256, 1024] });

const N = 2000;
const EXACT = ((N - 1) * N * (2 * N - 1)) / 6;
const JOB = "test/fixtures/faults/oom-tiers.ts";
const opts = { backend: "emulated", chunks: 6, concurrency: 2, cwd: ROOT, speculate: false } as const;

/** The run goes through a Lambda proxy where chunk 3 runs out of memory on the small tier's function. */
async function withOomProxy<T>(fn: (proxy: LambdaProxy, small: string) => Promise<T>): Promise<T> {
  const small = emulated.current.emu.functionName;
  const proxy = await startLambdaProxy(emulated.current.emu.lambdaEndpoint, {
    runtimeExit: { when: (t) => t.functionName === small && t.index === 3 },
  });
  const saved = process.env.FANOUT_EMULATOR!;
  process.env.FANOUT_EMULATOR = JSON.stringify({ ...JSON.parse(saved), lambdaEndpoint: proxy.url });
  try {
    return await fn(proxy, small);
  } finally {
    process.env.FANOUT_EMULATOR = saved;
    await proxy.close();
  }
}

describe("memory tiers on the emulated stack", () => {
  it("serves one worker per tier, named as the stack's WorkerTiers output names them", () => {
    const fn = emulated.current.emu.functionName;
    expect(emulated.current.emu.tiers).toBe(`256=${fn},1024=${fn}1024`);
  });

  it("--memory 256 --oom-retry: chunk 3 dies of OOM on the 256 MB function, reruns on the 1024 MB one, the answer is exact", async () => {
    await withOomProxy(async (proxy) => {
      const r = await run<number>(JOB, { ...opts, memory: 256, oomRetry: true });
      expect(r.result).toBe(EXACT);
      expect(proxy.stats.runtimeExits).toBe(1);
      expect(r.attempts.filter((a) => a.index === 3).map((a) => [a.attempt, a.outcome, a.memoryMb ?? 256, a.won])).toEqual([
        [1, "oom", 256, false],
        [2, "ok", 1024, true],
      ]);
      expect(r.summary.memoryMb).toBe(256);
      expect(r.summary.escalated).toEqual([{ fromMb: 256, toMb: 1024, chunks: 1 }]);
      expect(r.summary.retries).toBe(0);
    });
  }, 120_000);

  it("without --oom-retry the chunk fails out of memory, naming the 256 MB limit", async () => {
    await withOomProxy(async (proxy) => {
      const err = await run(JOB, { ...opts, memory: 256, retries: 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ChunkFailedError);
      expect((err as ChunkFailedError).remote.kind).toBe("oom");
      expect((err as ChunkFailedError).message).toMatch(/limit 256 MB/);
      // The way out names the tiers and --oom-retry.
      expect((err as ChunkFailedError).hint).toMatch(/^deploy a larger memory tier with `fanout deploy --memory <mb>,<larger mb>` and rerun such chunks on it with --oom-retry, .* --oom-retry$/);
      expect(proxy.stats.runtimeExits).toBe(2);
    });
  }, 120_000);

  it("--memory 1024 runs every chunk on the 1024 MB function (the small one's OOM never happens)", async () => {
    await withOomProxy(async (proxy) => {
      const r = await run<number>(JOB, { ...opts, memory: 1024 });
      expect(r.result).toBe(EXACT);
      expect(proxy.stats.runtimeExits).toBe(0);
      expect(proxy.stats.invoked).toBe(6);
      expect(r.summary.memoryMb).toBe(1024);
    });
  }, 120_000);

  it("--oom-retry on the top tier says there is nowhere to move a chunk to", async () => {
    const notices: string[] = [];
    const r = await run<number>(JOB, { ...opts, memory: 1024, oomRetry: true, onNotice: (l) => notices.push(l) });
    expect(r.result).toBe(EXACT);
    expect(notices).toContain(
      "--oom-retry: no memory tier above 1024 MB to move a chunk to, so one out of memory is retried on the same memory (deploy one with `fanout deploy --memory 1024,<larger mb>`)",
    );
  }, 120_000);

  it("the CLI: --memory 512, which no tier has, is one line naming the deployed tiers", async () => {
    const res = await fanout(["run", JOB, "--backend", "emulated", "--chunks", "2", "--memory", "512"], { env: emulated.current.env });
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split("\n").at(-1)).toBe(
      "fanout: --memory 512 is not a deployed memory tier (the stack has 256, 1024 MB) — pass --memory 256 or 1024, or deploy that tier with `fanout deploy --memory 256,1024,512`",
    );
  }, 60_000);

  it("the CLI: --oom-retry prints the escalation in its summary", async () => {
    await withOomProxy(async () => {
      const res = await fanout(["run", JOB, "--backend", "emulated", "--chunks", "6", "--concurrency", "2", "--no-speculate", "--memory", "256", "--oom-retry"]);
      expect(res.code, res.stderr).toBe(0);
      expect(JSON.parse(res.stdout)).toBe(EXACT);
      expect(res.stderr).toContain("1 chunk escalated 256→1024 MB (out of memory, --oom-retry)");
    });
  }, 120_000);

  it("fanout bench --memory 256,1024 --sample 2: each tier on its own function, the same chunks, figures said to be emulated", async () => {
    const small = emulated.current.emu.functionName;
    const seen: string[] = [];
    // Never answers anything itself: it only records which function each invocation went to.
    const proxy = await startLambdaProxy(emulated.current.emu.lambdaEndpoint, { runtimeExit: { when: (t) => (seen.push(`${t.functionName}#${t.index}`), false) } });
    const env = { FANOUT_EMULATOR: JSON.stringify({ ...JSON.parse(emulated.current.env.FANOUT_EMULATOR!), lambdaEndpoint: proxy.url }) };
    try {
      const res = await fanout(["bench", "examples/primes.ts", "--backend", "emulated", "--chunks", "6", "--memory", "256,1024", "--sample", "2", "--json", "-q"], { env });
      expect(res.code, res.stderr).toBe(0);
      const r = JSON.parse(res.stdout);
      expect(r).toMatchObject({ kind: "memory-sweep", backend: "emulated", chunks: 6, sample: [0, 5], arch: "arm64", within: 0.1 });
      expect(r.tiers.map((t: { memoryMb: number; attempts: number }) => [t.memoryMb, t.attempts])).toEqual([
        [256, 2],
        [1024, 2],
      ]);
      expect(r.basis).toBe("emulated: every tier runs on this machine's CPU, so memory does not change speed here; the times are not Lambda's, the cost model is");
      expect(seen.sort()).toEqual([`${small}#0`, `${small}#5`, `${small}1024#0`, `${small}1024#5`]);
      const table = await fanout(["bench", "examples/primes.ts", "--backend", "emulated", "--chunks", "6", "--memory", "256,1024", "--sample", "2", "-q"], { env });
      expect(table.code, table.stderr).toBe(0);
      const lines = table.stdout.trimEnd().split("\n");
      expect(lines[0]).toBe("fanout bench examples/primes.ts · memory sweep on emulated · chunks 0, 5 (2 of 6) on each tier");
      expect(lines.slice(2, 4).map((l) => /^(\d+) MB /.exec(l)?.[1])).toEqual(["256", "1024"]);
      expect(lines[4]).toMatch(/^recommended: --memory (256|1024) \(the cheapest within 10% of the fastest, (256|1024) MB\)$/);
      expect(lines[5]).toBe(`note: ${r.basis}`);
    } finally {
      await proxy.close();
    }
  }, 120_000);
});
