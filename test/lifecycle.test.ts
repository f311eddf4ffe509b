// The life of a run after it goes wrong, through the real CLI: fix the job and resume with
// --rebuild, the report and --json of failed and cancelled runs, runs whose client died,
// and `fanout logs` without a run id.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, fanout, ROOT } from "./helpers/cli.js";

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-lifecycle-"));
const STORE = path.join(DIR, "store");
afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

/** Sum of 0..79 over 8 chunks; `bug` makes the chunk starting at 30 throw. */
function writeJob(file: string, opts: { bug: boolean; end?: number }): void {
  fs.writeFileSync(
    file,
    `import { defineJob, range } from "fanout";
export default defineJob({
  input: range(0, ${opts.end ?? 80}),
  map({ start, end }) {
    ${opts.bug ? `if (start === 30) throw new Error("off by one at " + start);` : ""}
    let s = 0;
    for (let i = start; i < end; i++) s += i;
    return s;
  },
  reduce: (sums) => sums.reduce((a, b) => a + b, 0),
});
`,
  );
}

/** The command after the last ": " of the failure line's hint, as argv for fanout(). */
function hintedCommand(stderr: string, pattern: RegExp): string[] {
  const m = pattern.exec(stderr);
  expect(m, stderr).not.toBeNull();
  const words = m![1]!.trim().split(/\s+/);
  expect(words[0]).toBe("fanout");
  return words.slice(1);
}

async function failedRun(job: string): Promise<{ runId: string; stderr: string }> {
  const first = await fanout(["run", job, "--chunks", "8", "--store", STORE, "-q"]);
  expect(first.code).toBe(1);
  const runId = /--resume (\S+)/.exec(first.stderr)?.[1];
  expect(runId, first.stderr).toBeDefined();
  return { runId: runId!, stderr: first.stderr };
}

describe("fix a failed chunk's bug and resume with --rebuild", () => {
  it("keeps the finished results, runs the failed chunk with the new build, and records both builds", async () => {
    const job = path.join(DIR, "fixme.ts");
    writeJob(job, { bug: true });
    const { runId, stderr } = await failedRun(job);
    // The failure line names the command that works after the fix, backend and store included.
    expect(stderr).toMatch(/^fanout: chunk 3 failed: Error: off by one at 30/);
    const resume = hintedCommand(stderr, /keeping other results: (fanout run .*)$/m);
    expect(resume).toEqual(["run", job, "--resume", runId, "--rebuild", "--store", STORE]);

    // Without --rebuild the changed build is refused, and the refusal names --rebuild.
    writeJob(job, { bug: false });
    const refused = await fanout(["run", job, "--resume", runId, "--store", STORE, "-q"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`^fanout: run ${runId} was made from a different build of the job .* — to keep its results and run the rest with the new build: fanout run \\S+ --resume ${runId} --rebuild --store`));

    const report = path.join(DIR, "rebuilt.html");
    const resumed = await fanout([...resume, "--json", "-q", "--report", report]);
    expect(resumed.stderr).toBe(`report: ${report}\n`);
    expect(resumed.code).toBe(0);
    const out = JSON.parse(resumed.stdout);
    expect(out.result).toBe((80 * 79) / 2);
    expect(out.summary.skipped).toBe(7);
    expect(out.summary.succeeded).toBe(8);
    expect(out.summary.builds.map((b: { chunks: number }) => b.chunks)).toEqual([7, 1]);
    const [oldSha, newSha] = out.summary.builds.map((b: { bundleSha256: string }) => b.bundleSha256);
    expect(oldSha).not.toBe(newSha);

    // status and the report show both builds; chunk 3's own envelope names the new one.
    const status = await fanout(["status", runId, "--store", STORE]);
    expect(status.stdout).toMatch(/: succeeded · 8\/8 chunks have results/);
    expect(status.stdout).toContain(`builds: 7 chunks by bundle ${oldSha.slice(0, 12)} · 1 chunk by bundle ${newSha.slice(0, 12)}`);
    const json = JSON.parse((await fanout(["status", runId, "--store", STORE, "--json"])).stdout);
    expect(json.builds).toEqual([
      { bundleSha256: oldSha, chunks: 7 },
      { bundleSha256: newSha, chunks: 1 },
    ]);
    const html = fs.readFileSync(report, "utf8");
    expect(html).toMatch(new RegExp(`data-key="builds" data-value="2"><th>[^<]+</th><td>7 by bundle ${oldSha.slice(0, 12)} · 1 by bundle ${newSha.slice(0, 12)}</td>`));
    const envelopes = fs.readdirSync(path.join(STORE, "runs", runId, "results")).flatMap((f) =>
      fs.readFileSync(path.join(STORE, "runs", runId, "results", f), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)),
    );
    expect(envelopes.find((e) => e.index === 3).bundleSha256).toBe(newSha);
    expect(envelopes.find((e) => e.index === 0).bundleSha256).toBe(oldSha);
  });

  it("refuses a rebuild whose input or chunk plan changed, saying which", async () => {
    const job = path.join(DIR, "regrow.ts");
    writeJob(job, { bug: true });
    const { runId } = await failedRun(job);
    writeJob(job, { bug: false, end: 81 });
    const changed = await fanout(["run", job, "--resume", runId, "--rebuild", "--store", STORE, "-q"]);
    expect(changed.code).toBe(2);
    expect(changed.stderr).toBe(`fanout: cannot resume run ${runId} with the new build: its chunks' inputs changed — results of different inputs cannot be mixed; start a new run without --resume\n`);
    writeJob(job, { bug: false, end: 7 });
    const fewer = await fanout(["run", job, "--resume", runId, "--rebuild", "--store", STORE, "-q"]);
    expect(fewer.code).toBe(2);
    expect(fewer.stderr).toMatch(/with the new build: it now makes 7 chunks, not 8 — /);
    // Nothing was lost: the run still resumes with a fixed build of the same input.
    writeJob(job, { bug: false });
    const ok = await fanout(["run", job, "--resume", runId, "--rebuild", "--store", STORE, "--json", "-q"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ result: (80 * 79) / 2, summary: { skipped: 7 } });
  });
});

describe("a failed or cancelled run still gives its report and its JSON", () => {
  it("a failed run: --json prints { error, summary } with exit 1, and --report is written", async () => {
    const report = path.join(DIR, "failed.html");
    const res = await fanout(["run", "test/fixtures/map-throws.ts", "--store", STORE, "--json", "--report", report, "-q"]);
    expect(res.code).toBe(1);
    const out = JSON.parse(res.stdout);
    expect(out.error).toMatchObject({ code: "E_CHUNK_USER", index: 2, kind: "user", exitCode: 1, failedChunks: 1 });
    expect(out.error.hint).toContain("--rebuild");
    expect(out.summary).toMatchObject({ status: "failed", chunks: 4, succeeded: 3, failed: 1 });
    const html = fs.readFileSync(report, "utf8");
    expect(html).toContain(`<td>${out.summary.runId}</td>`);
    expect(html).toMatch(/data-key="status"><th>status<\/th><td>failed<\/td>/);
    expect(html).toMatch(/data-key="failed" data-value="1"/);
  });

  it("a cancelled run (SIGINT): exit 130, --json prints { error, summary }, --report is written", async () => {
    const report = path.join(DIR, "cancelled.html");
    const child = spawn(process.execPath, [BIN, "run", "test/fixtures/faults/slow.ts", "--chunks", "40", "--concurrency", "4", "--store", STORE, "--no-speculate", "--json", "--report", report], {
      cwd: ROOT,
      env: { ...process.env, FANOUT_SLOW_MS: "300", FANOUT_SLOW_COUNT: "40" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    for (let i = 0; i < 200 && !/run \S+: 40 chunks/.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1000));
    child.kill("SIGINT");
    const code = await new Promise<number | null>((r) => child.once("close", (c) => r(c)));
    expect(code, stderr).toBe(130);
    const out = JSON.parse(stdout);
    expect(out.error).toMatchObject({ code: "E_ABORTED", exitCode: 130 });
    expect(out.summary).toMatchObject({ status: "aborted", chunks: 40 });
    expect(out.summary.succeeded).toBeLessThan(40);
    expect(fs.readFileSync(report, "utf8")).toMatch(/data-key="status"><th>status<\/th><td>aborted<\/td>/);
  });

  it("a run that never started (bad flag value): --json prints { error, summary: null } with exit 2", async () => {
    const res = await fanout(["run", "examples/primes.ts", "--chunks", "0", "--store", STORE, "--json", "-q"]);
    expect(res.code).toBe(2);
    expect(JSON.parse(res.stdout)).toEqual({
      error: { code: "E_USAGE", message: '--chunks must be a positive integer, got "0"', hint: "e.g. --chunks 100", exitCode: 2 },
      summary: null,
    });
  });
});

describe("runs whose client is gone", () => {
  it("a manifest left running by a client on another host shows interrupted once its heartbeat is stale", async () => {
    const done = await fanout(["run", "test/fixtures/sum.ts", "--chunks", "4", "--store", STORE, "--json", "-q"]);
    const runId = JSON.parse(done.stdout).summary.runId as string;
    const file = path.join(STORE, "runs", runId, "manifest.json");
    const m = JSON.parse(fs.readFileSync(file, "utf8"));
    const leave = (updatedAt: Date) =>
      fs.writeFileSync(file, JSON.stringify({ ...m, status: "running", updatedAt: updatedAt.toISOString(), client: { host: "another-host.invalid", pid: 1, heartbeatMs: 15_000 } }));
    leave(new Date());
    expect(JSON.parse((await fanout(["status", runId, "--store", STORE, "--json"])).stdout).status).toBe("running");
    leave(new Date(Date.now() - 5 * 60_000));
    const status = await fanout(["status", runId, "--store", STORE]);
    expect(status.stdout).toMatch(new RegExp(`^run ${runId}: interrupted · `));
    expect(status.stdout).toMatch(/interrupted: its client \(pid 1 on another-host\.invalid\) is gone/);
    expect(status.stdout).toContain(`resume: fanout run test/fixtures/sum.ts --resume ${runId} --store ${STORE}`);
    const list = await fanout(["status", "--store", STORE]);
    expect(list.stdout).toMatch(new RegExp(`${runId}  interrupted `));
  });
});

describe("fanout logs without a run id", () => {
  it("shows the latest run's chunks", async () => {
    const store = path.join(DIR, "logs-store");
    await fanout(["run", "test/fixtures/sum.ts", "--chunks", "2", "--store", store, "-q"]);
    await new Promise((r) => setTimeout(r, 1100)); // run ids have one-second resolution
    const second = await fanout(["run", "test/fixtures/map-throws.ts", "--store", store, "--json", "-q"]);
    const latest = JSON.parse(second.stdout).summary.runId as string;
    const logs = await fanout(["logs", "--store", store]);
    expect(logs.code).toBe(0);
    expect(logs.stderr).toBe(`latest run: ${latest}\n`);
    expect(logs.stdout.match(/^--- chunk \d+/gm)).toEqual(["--- chunk 0", "--- chunk 1", "--- chunk 2", "--- chunk 3"]);
    expect(logs.stdout).toContain("error (user): Error: bad value 2 in fixture");
  });
});
