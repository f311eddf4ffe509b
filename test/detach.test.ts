// Detached runs on the local backend: `fanout run --detach` hands the run to a background
// driver; the client can die (SIGKILL, its whole process group) and `fanout attach` from
// another process still gets the exact answer, each chunk counted once. One driver per run:
// a resume while the driver lives is refused; a driver killed mid-run is replaced by attach.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { attach, submit, type Progress } from "fanout";
import { fanout, ROOT } from "./helpers/cli.js";
import { detachThenKill as killedDetach } from "./helpers/detach.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const DIR = tmpDir("detach");
afterAll(() => rmDir(DIR));

const SUM_0_80 = (79 * 80) / 2;

/** "<index> <attempt>" lines the counted fixture wrote, as a count per chunk index. */
function countsOf(file: string): number[] {
  const counts = new Array<number>(8).fill(0);
  for (const line of fs.readFileSync(file, "utf8").split("\n").filter(Boolean)) counts[Number(line.split(" ")[0])]!++;
  return counts;
}

/** `fanout run --detach` of the counted fixture, its client SIGKILLed once it printed the run id. */
async function detachThenKill(store: string, env: Record<string, string>): Promise<string> {
  const { runId, stderr } = await killedDetach(["test/fixtures/counted.ts", "--detach", "--store", store, "--no-speculate"], env);
  expect(stderr).toMatch(/attach: fanout attach \S+ --store /);
  return runId;
}

/** When the run's last chunk ended, by the workers' own clocks in the stored results. */
async function lastChunkEnd(store: string, runId: string): Promise<number> {
  const { FolderStore } = await import("../dist/src/store/folder.js");
  const { RunResults } = await import("../dist/src/store/results.js");
  const results = new RunResults(new FolderStore(store), runId);
  let end = 0;
  for (let i = 0; i < 8; i++) end = Math.max(end, (await results.envelope(i))!.timing.endedAt);
  return end;
}

describe("detach and attach (local)", () => {
  it("detach, SIGKILL the client, attach from new processes (twice at once, then after the end): exact answer, each chunk run once", async () => {
    const store = path.join(DIR, "kill");
    const counts = path.join(DIR, "kill-counts.txt");
    const env = { FANOUT_T_COUNT_FILE: counts };
    const runId = await detachThenKill(store, env);
    const list = await fanout(["status", "--store", store]);
    expect(list.stdout).toMatch(new RegExp(`${runId}\\s+running\\s+8 chunks\\s+test/fixtures/counted\\.ts\\s+\\(detached\\)`));
    // A second driver for the same run is refused while this one lives, and runs nothing.
    const second = await fanout(["run", "test/fixtures/counted.ts", "--resume", runId, "--store", store, "-q"], { env });
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`^fanout: run ${runId} already has a driver \\(pid \\d+ on .+, lease generation 1\\) — follow it with \`fanout attach ${runId} --store `));
    const [a, b] = await Promise.all([0, 1].map(() => fanout(["attach", runId, "--store", store, "--json"], { env })));
    for (const r of [a!, b!]) {
      expect(r.code, r.stderr).toBe(0);
      const { result, summary } = JSON.parse(r.stdout);
      expect(result).toBe(SUM_0_80);
      expect(summary.succeeded).toBe(8);
      expect(summary.failed).toBe(0);
    }
    expect(countsOf(counts)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    const late = await fanout(["attach", runId, "--store", store], { env });
    expect(late.code).toBe(0);
    expect(JSON.parse(late.stdout)).toBe(SUM_0_80);
    expect((await fanout(["status", "--store", store])).stdout).toMatch(new RegExp(`${runId}\\s+succeeded`));
  }, 90_000);

  it("a driver killed mid-run: attach takes the stale lease over with a new driver and gets the exact answer", async () => {
    const store = path.join(DIR, "takeover");
    const counts = path.join(DIR, "takeover-counts.txt");
    process.env.FANOUT_T_COUNT_FILE = counts;
    try {
      const { runId } = await submit("test/fixtures/counted.ts", { cwd: ROOT, store, speculate: false });
      // submit returns once the first driver holds the lease: it started before this.
      const submittedAt = Date.now();
      const leaseFile = path.join(store, "runs", runId, "lease");
      const first = JSON.parse(fs.readFileSync(leaseFile, "utf8"));
      expect(first.generation).toBe(1);
      // Let a few chunks finish, then kill the driver (and its worker pool: its process group).
      while (fs.readdirSync(path.join(store, "runs", runId)).every((f) => f !== "results") || countsOf(counts).filter((c) => c > 0).length < 4) await new Promise((r) => setTimeout(r, 100));
      process.kill(-first.holder.pid, "SIGKILL");
      const notices: string[] = [];
      const seen: Progress[] = [];
      const res = await attach<number>(runId, { cwd: ROOT, store, onNotice: (l) => notices.push(l), onProgress: (p) => seen.push(p) });
      expect(res.result).toBe(SUM_0_80);
      expect(res.summary.succeeded).toBe(8);
      expect(notices.join("\n")).toMatch(/driver was gone: a new one \(pid \d+\) goes on with it/);
      // Each chunk counted once: progress never goes past the run, and the new driver ran only what had no result.
      for (const p of seen) expect(p.done + p.failed).toBeLessThanOrEqual(8);
      expect(countsOf(counts).every((c) => c >= 1 && c <= 2)).toBe(true);
      // The summary is the whole run's (both drivers'), as if one client had run it.
      const { summary } = JSON.parse((await fanout(["attach", runId, "--store", store, "--json"])).stdout);
      expect(summary.succeeded).toBe(8);
      expect(summary.skipped).toBe(0);
      expect(summary.retries).toBe(0);
      expect(summary.wallMs).toBeGreaterThanOrEqual((await lastChunkEnd(store, runId)) - submittedAt);
      expect(res.attempts.filter((a) => a.won).map((a) => a.index).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    } finally {
      delete process.env.FANOUT_T_COUNT_FILE;
    }
  }, 90_000);
  it("a driver killed after a retry: the whole run's summary still counts it (the driver's log is written after each setback)", async () => {
    const store = path.join(DIR, "setback");
    const counts = path.join(DIR, "setback-counts.txt");
    Object.assign(process.env, { FANOUT_T_COUNT_FILE: counts, FANOUT_T_THROW_FIRST: "0" });
    try {
      const { runId } = await submit("test/fixtures/counted.ts", { cwd: ROOT, store, speculate: false });
      const first = JSON.parse(fs.readFileSync(path.join(store, "runs", runId, "lease"), "utf8"));
      // Kill the driver once its log holds chunk 0's failed first attempt, and before the run ends.
      const log = path.join(store, "runs", runId, "attempts", "1.jsonl");
      const failedLogged = () => fs.existsSync(log) && fs.readFileSync(log, "utf8").includes('"index":0,"attempt":1,');
      for (let i = 0; i < 100 && !failedLogged(); i++) await new Promise((r) => setTimeout(r, 100));
      expect(failedLogged()).toBe(true);
      expect(countsOf(counts).filter((c) => c > 0).length).toBeLessThan(8);
      process.kill(-first.holder.pid, "SIGKILL");
      // The new driver's workers do not throw: any retry the summary counts is the dead driver's.
      delete process.env.FANOUT_T_THROW_FIRST;
      const res = await attach<number>(runId, { cwd: ROOT, store });
      expect(res.result).toBe(SUM_0_80);
      expect(res.summary.succeeded).toBe(8);
      expect(res.summary.retries).toBe(1);
      expect(res.attempts.filter((a) => a.index === 0).map((a) => [a.attempt, a.outcome])).toContainEqual([1, "user"]);
      expect(res.attempts.filter((a) => a.won).map((a) => a.index).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    } finally {
      delete process.env.FANOUT_T_COUNT_FILE;
      delete process.env.FANOUT_T_THROW_FIRST;
    }
  }, 90_000);
});

