// Partial results (--max-failures / maxFailures): a run with a few failed chunks finishes as
// `partial` when the option allows it, reduce sees the gaps, and a resume runs only those.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ChunkFailedError, run } from "fanout";
import { fanout, ROOT } from "./helpers/cli.js";
import { withEnv } from "./helpers/env.js";

const STORE = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-partial-"));
afterAll(() => fs.rmSync(STORE, { recursive: true, force: true }));

const JOB = "test/fixtures/partial.ts";
/** Sum of 0..99 split into 10 chunks of 10: chunk i holds 10i..10i+9. */
const chunkSum = (i: number) => 100 * i + 45;
const ALL = 4950;


describe("partial results", () => {
  it("CLI: --max-failures 2 with chunks 3 and 7 failing prints the result without them, exit 4, a line naming them; --resume runs only those", async () => {
    const first = await fanout(["run", JOB, "--chunks", "10", "--max-failures", "2", "--store", STORE, "--json", "-q"], { env: { FANOUT_FAIL_CHUNKS: "3,7" } });
    expect(first.code).toBe(4);
    const out = JSON.parse(first.stdout);
    expect(out.result).toEqual({ sum: ALL - chunkSum(3) - chunkSum(7), failed: [3, 7], gaps: [3, 7] });
    expect(out.summary.status).toBe("partial");
    expect(out.summary.failedChunks).toEqual([3, 7]);
    expect(out.summary.succeeded).toBe(8);
    const runId = out.summary.runId as string;
    const lines = first.stderr.split("\n").filter(Boolean);
    expect(lines).toEqual([
      `fanout: run ${runId} finished partial: 2 of 10 chunks failed (3, 7); the result leaves them out — see \`fanout logs ${runId} 3 --store ${STORE}\`; run only the failed chunks again with: fanout run ${JOB} --resume ${runId} --store ${STORE}`,
    ]);
    const manifest = JSON.parse(fs.readFileSync(path.join(STORE, "runs", runId, "manifest.json"), "utf8"));
    expect(manifest.status).toBe("partial");

    // status names the failed chunks: in the run's view, in JSON, and in the list of runs.
    const shown = await fanout(["status", runId, "--store", STORE]);
    expect(shown.stdout.split("\n")[0]).toBe(`run ${runId}: partial · 8/10 chunks have results · 2 failed (3, 7)`);
    expect(shown.stdout).toContain(`\n  logs: fanout logs ${runId} 3 --store ${STORE}\n`);
    expect(JSON.parse((await fanout(["status", runId, "--store", STORE, "--json"])).stdout)).toMatchObject({ status: "partial", done: 8, failed: 2, failedChunks: [3, 7] });
    const listed = await fanout(["status", "--store", STORE]);
    expect(listed.stdout.split("\n").find((l) => l.startsWith(runId))).toMatch(/ partial .* test\/fixtures\/partial\.ts {2}\(2 failed: 3, 7\)$/);
    expect(JSON.parse((await fanout(["status", "--store", STORE, "--json"])).stdout).find((r: { runId: string }) => r.runId === runId)).toMatchObject({ status: "partial", failedChunks: [3, 7] });

    // The failing chunks are fixed (the variable is gone): the resume runs chunks 3 and 7 only.
    const resumed = await fanout(["run", JOB, "--resume", runId, "--store", STORE, "--json", "-q"]);
    expect(resumed.code).toBe(0);
    const done = JSON.parse(resumed.stdout);
    expect(done.result).toEqual({ sum: ALL, failed: [], gaps: [] });
    expect(done.summary.status).toBe("succeeded");
    expect(done.summary.skipped).toBe(8);
  }, 60_000);

  it("library: maxFailures \"20%\" of 10 chunks allows 2; reduce gets undefined in the failed places and { failed }", async () => {
    const r = await withEnv({ FANOUT_FAIL_CHUNKS: "0,9" }, () => run<{ sum: number; failed: number[]; gaps: number[] }>(JOB, { store: STORE, cwd: ROOT, chunks: 10, maxFailures: "20%" }));
    expect(r.summary.status).toBe("partial");
    expect(r.result).toEqual({ sum: ALL - chunkSum(0) - chunkSum(9), failed: [0, 9], gaps: [0, 9] });
    expect(r.summary.failedChunks).toEqual([0, 9]);
  }, 60_000);

  it("more failures than allowed: the run fails as without the option (exit 1), naming the limit", async () => {
    const res = await fanout(["run", JOB, "--chunks", "10", "--max-failures", "1", "--store", STORE, "-q"], { env: { FANOUT_FAIL_CHUNKS: "2,5" } });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^fanout: more chunks failed than --max-failures 1 allows; chunk 2 failed: Error: chunk 2 fails on purpose/);
    expect(res.stdout).toBe("");
  }, 60_000);

  it("without the option a single failure fails the run, as before", async () => {
    const err = await withEnv({ FANOUT_FAIL_CHUNKS: "4" }, () => run(JOB, { store: STORE, cwd: ROOT, chunks: 10 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChunkFailedError);
    expect((err as ChunkFailedError).summary?.status).toBe("failed");
    expect((err as ChunkFailedError).summary?.failedChunks).toEqual([4]);
  }, 60_000);
});
