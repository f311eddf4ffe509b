import { afterAll, describe, expect, it } from "vitest";
import { run, RunAbortedError, type Progress } from "fanout";
import { FolderStore } from "../dist/src/store/folder.js";
import { RunResults } from "../dist/src/store/results.js";
import { fanout, ROOT, type CliResult } from "./helpers/cli.js";
import { errorLines, rmDir, runIdIn, stackLines, tmpDir } from "./helpers/tmp.js";

// The local backend with real worker processes: isolation of crashing chunks, per-chunk logs,
// use of several processes, overlap of waiting chunks, the chunk context, and cancellation.
const STORE = tmpDir("local");
afterAll(() => rmDir(STORE));

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return fanout([...args, "--store", STORE], { env });
}

async function status(runId: string) {
  const r = await cli(["status", runId, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { status: string; chunks: number; done: number; failed: number; missing: number };
}

/** The stored values of a run's chunks that have a result. */
async function storedValues(runId: string): Promise<Map<number, unknown>> {
  const results = new RunResults(new FolderStore(STORE), runId);
  const out = new Map<number, unknown>();
  for (const i of [...(await results.done())].sort((a, b) => a - b)) out.set(i, (await results.envelope(i))!.value);
  return out;
}

/** Runs a six-chunk fixture in which chunk 2 misbehaves; checks that only chunk 2 failed. */
async function onlyChunk2Fails(fixture: string, ...mustContain: RegExp[]): Promise<string> {
  const r = await cli(["run", `test/fixtures/${fixture}`, "-q"]);
  expect(r.code, r.stderr).toBe(1);
  const lines = errorLines(r.stderr);
  expect(lines, r.stderr).toHaveLength(1);
  expect(stackLines(r.stderr)).toEqual([]);
  expect(lines[0]).toMatch(/^fanout: chunk 2 failed: /);
  for (const m of mustContain) expect(lines[0]).toMatch(m);
  const runId = runIdIn(lines[0]!);
  const st = await status(runId);
  expect(st).toMatchObject({ status: "failed", chunks: 6, done: 5, missing: 1 });
  const values = await storedValues(runId);
  expect([...values.entries()]).toEqual([
    [0, 0],
    [1, 10],
    [3, 30],
    [4, 40],
    [5, 50],
  ]);
  return runId;
}

describe("a misbehaving chunk fails only itself", () => {
  it("a chunk that SIGKILLs its worker process: the other chunks succeed, the error says the process died", async () => {
    await onlyChunk2Fails("kill-self.ts", /worker process died/, /SIGKILL/);
  });

  it("a chunk whose process was killed is recorded: status counts it failed and `fanout logs` says why", async () => {
    const r = await cli(["run", "test/fixtures/kill-self.ts", "-q", "--retries", "0"]);
    expect(r.code).toBe(1);
    const runId = runIdIn(r.stderr);
    // The error line sends the user to `fanout logs <runId> 2`; that must explain the failure.
    expect(r.stderr).toContain(`fanout logs ${runId} 2`);
    const logs = await cli(["logs", runId, "2"]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/worker process died/);
    expect(await status(runId)).toMatchObject({ done: 5, failed: 1, missing: 1 });
  });

  it("a chunk that calls process.exit(3)", async () => {
    const runId = await onlyChunk2Fails("exit-self.ts", /process\.exit\(3\)/);
    expect((await status(runId)).failed).toBe(1);
  });

  it("a chunk that throws from a stray setTimeout", async () => {
    const runId = await onlyChunk2Fails("stray-throw.ts", /stray timer boom in chunk 2/);
    expect((await status(runId)).failed).toBe(1);
  });
});

describe("logs and processes", () => {
  it("ctx.log and console output inside map are kept per chunk and printed by `fanout logs`", async () => {
    const r = await cli(["run", "test/fixtures/logs.ts", "--chunks", "5", "--json", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    // Console output of map goes to the chunk's log, not to the run's stdout.
    const out = JSON.parse(r.stdout) as { result: number[]; summary: { runId: string } };
    expect(out.result).toEqual([0, 1, 2, 3, 4]);
    const runId = out.summary.runId;
    for (const i of [0, 3]) {
      const logs = await cli(["logs", runId, String(i)]);
      expect(logs.code, logs.stderr).toBe(0);
      const lines = logs.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(new RegExp(`^--- chunk ${i} \\(attempt 1, ok, .*local-\\d+\\)$`));
      expect(lines.slice(1)).toEqual([
        `ctx.log line ${i} { start: ${i} }`,
        `console.log line from chunk ${i}`,
        `console.error line from chunk ${i}`,
        `last line of chunk ${i}`,
      ]);
    }
    // Without a chunk index, every chunk's block in order.
    const all = await cli(["logs", runId]);
    expect(all.stdout.split("\n").filter((l) => l.startsWith("--- chunk ")).map((l) => Number(/chunk (\d+)/.exec(l)![1]))).toEqual([0, 1, 2, 3, 4]);
  });

  it("CPU-bound chunks run in more than one worker process, with correct results", async () => {
    const r = await cli(["run", "test/fixtures/cpu.ts", "--chunks", "8", "--json", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { result: { start: number; x: number }[]; summary: { runId: string } };
    const expected = Array.from({ length: 8 }, (_, start) => {
      let x = start + 1;
      for (let i = 0; i < 30_000_000; i++) x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return { start, x };
    });
    expect(out.result).toEqual(expected);
    const logs = await cli(["logs", out.summary.runId]);
    const workers = new Set(logs.stdout.split("\n").filter((l) => l.startsWith("--- chunk ")).map((l) => /(local-\d+)\)$/.exec(l)![1]));
    expect(workers.size).toBeGreaterThan(1);
  });

  it("200 chunks each waiting 300 ms at concurrency 200 all finish, overlapping", async () => {
    const r = await cli(["run", "examples/sleep.ts", "--chunks", "200", "--concurrency", "200", "--json", "-q"], {
      FANOUT_SLEEP_MS: "300",
      FANOUT_SLEEP_ITEMS: "200",
    });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { result: unknown; summary: { chunks: number; succeeded: number; failed: number; sumChunkMs: number; wallMs: number } };
    expect(out.result).toEqual({ items: 200, msEach: 300 });
    expect(out.summary).toMatchObject({ chunks: 200, succeeded: 200, failed: 0 });
    expect(out.summary.sumChunkMs).toBeGreaterThanOrEqual(200 * 300);
    expect(out.summary.sumChunkMs / out.summary.wallMs).toBeGreaterThan(20);
  });
});

describe("the chunk context", () => {
  it("ctx.index, ctx.count, ctx.attempt and ctx.runId are right", async () => {
    const r = await cli(["run", "test/fixtures/context.ts", "--chunks", "3", "--json", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { result: unknown; summary: { retries: number } };
    expect(out.result).toEqual([
      { start: 100, end: 102, index: 0, count: 3, attempt: 1, runIdOk: true },
      { start: 102, end: 104, index: 1, count: 3, attempt: 1, runIdOk: true },
      { start: 104, end: 107, index: 2, count: 3, attempt: 1, runIdOk: true },
    ]);
    expect(out.summary.retries).toBe(0);
  });

  it("a retried chunk sees ctx.attempt 2 (retryErrors in the job's defaults)", async () => {
    const r = await cli(["run", "test/fixtures/context.ts", "--chunks", "3", "--json", "-q"], { FANOUT_T_FLAKY: "1" });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { result: { attempt: number; index: number }[]; summary: { retries: number } };
    expect(out.result.map((c) => [c.index, c.attempt])).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
    expect(out.summary.retries).toBe(3);
  });
});

/** Fails the test instead of hanging it when a promise does not settle in time. */
function settleWithin<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms / 1000} s (hang)`)), ms);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

/** Runs a job with an AbortController that fires once `doneAtLeast` chunks are done. */
async function abortAfter(job: string, concurrency: number, doneAtLeast: number): Promise<unknown> {
  const ac = new AbortController();
  const running = run(job, {
    cwd: ROOT,
    store: STORE,
    concurrency,
    signal: ac.signal,
    onProgress: (p: Progress) => {
      if (p.done >= doneAtLeast && !ac.signal.aborted) ac.abort(new Error("test cancels"));
    },
  });
  return settleWithin(
    running.then(
      () => undefined,
      (e: unknown) => e,
    ),
    15_000,
    "run() after its signal was aborted",
  );
}

describe("cancellation and resume", () => {
  it("run() aborted while chunks are running rejects with RunAbortedError; resume runs only the missing chunks, exact answer", async () => {
    // All 20 chunks in flight at once, finishing one after another.
    const job = "test/fixtures/staggered-sum.ts";
    const err = await abortAfter(job, 20, 4);
    expect(err).toBeInstanceOf(RunAbortedError);
    const runId = (err as RunAbortedError).runId;
    expect((err as RunAbortedError).exitCode).toBe(130);
    const before = await status(runId);
    expect(before.status).toBe("aborted");
    expect(before.done).toBeGreaterThanOrEqual(4);
    expect(before.done).toBeLessThan(20);
    const doneBefore = new Set((await storedValues(runId)).keys());

    const res = await run<number>(job, { cwd: ROOT, store: STORE, resume: runId });
    expect(res.runId).toBe(runId);
    expect(res.result).toBe(19900); // 0 + 1 + ... + 199
    expect(res.summary.skipped).toBe(before.done);
    expect(res.summary.skipped).toBeGreaterThan(0);
    expect(res.summary.succeeded).toBe(20);
    const ran = new Set(res.attempts.map((a) => a.index));
    expect(ran.size).toBe(20 - before.done);
    for (const i of ran) expect(doneBefore.has(i)).toBe(false);
    expect((await storedValues(runId)).size).toBe(20);
    expect((await status(runId)).status).toBe("succeeded");
  });

  it("run() aborted while chunks are still queued (concurrency below the chunk count) settles with RunAbortedError, and resumes", async () => {
    const job = "test/fixtures/slow-sum.ts";
    const err = await abortAfter(job, 2, 4);
    expect(err).toBeInstanceOf(RunAbortedError);
    const runId = (err as RunAbortedError).runId;
    const before = await status(runId);
    expect(before.done).toBeLessThan(20);
    const res = await run<number>(job, { cwd: ROOT, store: STORE, concurrency: 2, resume: runId });
    expect(res.result).toBe(19900);
    expect(res.summary.skipped).toBe(before.done);
    expect(new Set(res.attempts.map((a) => a.index)).size).toBe(20 - before.done);
  }, 30_000);

  it("--resume after a failed chunk runs only that chunk and prints the exact answer", async () => {
    const job = "test/fixtures/staggered-sum.ts";
    const first = await cli(["run", job, "-q", "--concurrency", "20"], { FANOUT_T_FAIL_CHUNK: "3" });
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr).toContain("chunk 3 fails on request");
    const runId = runIdIn(first.stderr);
    expect(await status(runId)).toMatchObject({ done: 19, failed: 1, missing: 1 });
    const again = await cli(["run", job, "--resume", runId, "--json", "-q"]);
    expect(again.code, again.stderr).toBe(0);
    const out = JSON.parse(again.stdout) as { result: number; summary: { skipped: number; succeeded: number; runId: string } };
    expect(out.result).toBe(19900);
    expect(out.summary).toMatchObject({ runId, skipped: 19, succeeded: 20 });
    expect(await status(runId)).toMatchObject({ status: "succeeded", done: 20, missing: 0 });
  });
});
