// Real faults on the local backend: killed processes, flaky and hanging chunks, memory
// exhaustion, a store that goes away, a CLI killed mid-run, stragglers. Each run must end
// with the exact answer and every chunk counted exactly once.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ChunkFailedError, run, type RunResult } from "fanout";
import { BIN, fanout, ROOT } from "./helpers/cli.js";
import { withEnv } from "./helpers/env.js";

const STORE = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-faults-"));
afterAll(() => fs.rmSync(STORE, { recursive: true, force: true }));

const N = 2000;
const EXACT = ((N - 1) * N * (2 * N - 1)) / 6;


/** Every chunk has exactly one winning attempt, and the run says every chunk succeeded. */
function countedOnce(r: RunResult, chunks: number): void {
  const winners = r.attempts.filter((a) => a.won).map((a) => a.index);
  expect(new Set(winners).size).toBe(winners.length);
  expect(winners.length + r.summary.skipped).toBe(chunks);
  expect(r.summary.succeeded).toBe(chunks);
  expect(r.summary.failed).toBe(0);
}

const opts = { store: STORE, cwd: ROOT, speculate: false } as const;

describe("fault injection on the local backend", () => {
  it("a worker process killed mid-chunk: its chunk and its neighbours are rerun, the answer is exact", async () => {
    const r = await run<number>("test/fixtures/faults/kill-first.ts", { ...opts, chunks: 16 });
    expect(r.result).toBe(EXACT);
    countedOnce(r, 16);
    const crashed = r.attempts.filter((a) => a.outcome === "crash");
    expect(crashed.length).toBeGreaterThanOrEqual(1);
    expect(crashed.some((a) => a.index === 3)).toBe(true);
  });

  it("a chunk that throws on its first attempt only is retried when the job allows it", async () => {
    const r = await run<number>("test/fixtures/faults/throw-first.ts", { ...opts, chunks: 10 });
    expect(r.result).toBe(EXACT);
    countedOnce(r, 10);
    expect(r.summary.retries).toBe(1);
  });

  it("a chunk that never settles is ended by the worker's timer and retried", async () => {
    const r = await withEnv({ FANOUT_HANG: "async" }, () => run<number>("test/fixtures/faults/hang-first.ts", { ...opts, chunks: 8 }));
    expect(r.result).toBe(EXACT);
    countedOnce(r, 8);
    expect(r.attempts.find((a) => a.index === 3 && a.attempt === 1)?.outcome).toBe("timeout");
  });

  it("a chunk that never yields is killed from outside after its deadline and retried", async () => {
    const r = await withEnv({ FANOUT_HANG: "sync" }, () => run<number>("test/fixtures/faults/hang-first.ts", { ...opts, chunks: 8 }));
    expect(r.result).toBe(EXACT);
    countedOnce(r, 8);
    expect(r.attempts.some((a) => a.index === 3 && a.outcome === "timeout")).toBe(true);
  });

  it("a chunk that allocates past its memory limit fails as out of memory, naming the limit", async () => {
    const err = await run("test/fixtures/faults/oom.ts", { ...opts, chunks: 6 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChunkFailedError);
    const e = err as ChunkFailedError;
    expect(e.index).toBe(3);
    expect(e.remote.kind).toBe("oom");
    expect(e.message).toMatch(/out of memory/);
    expect(e.message).toMatch(/64 MB/);
    expect(e.hint).toMatch(/--memory/);
    // The other chunks finished and are kept.
    const status = await fanout(["status", e.runId, "--json", "--store", STORE]);
    expect(JSON.parse(status.stdout)).toMatchObject({ done: 5, failed: 1, missing: 1 });
  });

  it("the store goes away for two seconds mid-run: writes are retried and nothing is lost", async () => {
    let outage: Promise<void> | undefined;
    const r = await withEnv({ FANOUT_SLOW_MS: "100", FANOUT_SLOW_COUNT: "40" }, () =>
      run<number>("test/fixtures/faults/slow.ts", {
        ...opts,
        chunks: 40,
        concurrency: 4,
        onProgress: (p) => {
          if (outage || p.done < 8) return;
          // Replace the run's results folder with a plain file: every write into it fails.
          const runsDir = path.join(STORE, "runs");
          const runId = fs.readdirSync(runsDir).sort().pop()!;
          const dir = path.join(runsDir, runId, "results");
          outage = (async () => {
            fs.renameSync(dir, `${dir}.away`);
            fs.writeFileSync(dir, "store unavailable");
            await new Promise((res) => setTimeout(res, 2000));
            fs.rmSync(dir);
            fs.renameSync(`${dir}.away`, dir);
          })();
        },
      }),
    );
    await outage;
    expect(outage).toBeDefined();
    expect(r.result).toBe((40 * 39) / 2);
    countedOnce(r, 40);
    expect(r.attempts.some((a) => a.outcome === "transient")).toBe(true);
  });

  it("the CLI killed with SIGKILL half way; --resume runs only the rest and gets the exact answer", async () => {
    const env = { ...process.env, FANOUT_SLOW_MS: "150", FANOUT_SLOW_COUNT: "60" };
    const child = spawn(process.execPath, [BIN, "run", "test/fixtures/faults/slow.ts", "--chunks", "60", "--concurrency", "6", "--store", STORE, "-q", "--no-speculate"], {
      cwd: ROOT,
      env,
      stdio: "ignore",
    });
    // Watch the store until about half the chunks have results, then pull the plug.
    const runsDir = path.join(STORE, "runs");
    const before = new Set(fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : []);
    let runId: string | undefined;
    for (let i = 0; i < 400 && !runId; i++) {
      await new Promise((r) => setTimeout(r, 50));
      runId = (fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : []).find((d) => !before.has(d));
    }
    expect(runId).toBeDefined();
    const { RunResults, FolderStore } = await import("../dist/src/store/folder.js").then(async (m) => ({ ...m, ...(await import("../dist/src/store/results.js")) }));
    const folder = new FolderStore(STORE);
    for (let i = 0; i < 400; i++) {
      await new Promise((r) => setTimeout(r, 50));
      if ((await new RunResults(folder, runId!).done()).size >= 30) break;
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const doneAtKill = (await new RunResults(folder, runId!).done()).size;
    expect(doneAtKill).toBeGreaterThanOrEqual(30);
    expect(doneAtKill).toBeLessThan(60);

    // Its client is gone, so the run is no longer shown as running; status says how to go on.
    const status = await fanout(["status", runId!, "--store", STORE, "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ runId, status: "interrupted", done: doneAtKill, missing: 60 - doneAtKill, client: { pid: child.pid } });
    expect(JSON.parse(status.stdout).resume).toBe(`fanout run test/fixtures/faults/slow.ts --resume ${runId} --store ${STORE}`);
    const shown = await fanout(["status", runId!, "--store", STORE]);
    expect(shown.stdout).toMatch(new RegExp(`^run ${runId}: interrupted · ${doneAtKill}/60 chunks have results`));
    expect(shown.stdout).toContain(`  resume: fanout run test/fixtures/faults/slow.ts --resume ${runId} --store ${STORE}\n`);

    const resumed = await fanout(["run", "test/fixtures/faults/slow.ts", "--resume", runId!, "--store", STORE, "--json", "-q"], {
      env: { FANOUT_SLOW_MS: "150", FANOUT_SLOW_COUNT: "60" },
    });
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    const out = JSON.parse(resumed.stdout);
    expect(out.result).toBe((60 * 59) / 2);
    expect(out.summary.skipped).toBe(doneAtKill);
    expect(out.summary.succeeded).toBe(60);
  });

  it("Ctrl-C cancels in-flight chunks, exits 130 and prints the resume command, which finishes the run", async () => {
    const env = { ...process.env, FANOUT_SLOW_MS: "300", FANOUT_SLOW_COUNT: "40" };
    const child = spawn(process.execPath, [BIN, "run", "test/fixtures/faults/slow.ts", "--chunks", "40", "--concurrency", "4", "--store", STORE, "--no-speculate"], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    // Interrupt once the run has started and some chunks are done.
    for (let i = 0; i < 200 && !/run \S+: 40 chunks/.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1200));
    child.kill("SIGINT");
    const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    expect(code).toBe(130);
    const m = /resume with: fanout run test\/fixtures\/faults\/slow\.ts --resume (\S+)/.exec(stderr);
    expect(m, stderr).not.toBeNull();
    const resumed = await fanout(["run", "test/fixtures/faults/slow.ts", "--resume", m![1]!, "--store", STORE, "--json", "-q"], { env: { FANOUT_SLOW_MS: "300", FANOUT_SLOW_COUNT: "40" } });
    expect(resumed.code).toBe(0);
    const out = JSON.parse(resumed.stdout);
    expect(out.result).toBe((40 * 39) / 2);
    expect(out.summary.skipped).toBeGreaterThan(0);
    expect(out.summary.skipped).toBeLessThan(40);
  });

  it("--resume refuses a job whose bundle changed", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-resume-"));
    const job = path.join(dir, "job.mjs");
    fs.writeFileSync(job, `import { defineJob, range } from "fanout"; export default defineJob({ input: range(0, 4), map: (c) => c.start });\n`);
    const first = await run(job, { store: STORE, cwd: ROOT, chunks: 4 });
    fs.writeFileSync(job, `import { defineJob, range } from "fanout"; export default defineJob({ input: range(0, 4), map: (c) => c.end });\n`);
    const again = await fanout(["run", job, "--resume", first.runId, "--store", STORE, "-q"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^fanout: run \S+ was made from a different build of the job .* — to keep its results and run the rest with the new build: fanout run \S+ --resume \S+ --rebuild --store /);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("a straggler 10x slower than the rest", () => {
    const env = { FANOUT_SLOW_MS: "100", FANOUT_SLOW_COUNT: "40", FANOUT_STRAGGLERS: "5,17" };
    it("with speculation: a copy is started, wins, and the answer is exact", async () => {
      const r = await withEnv(env, () => run<number>("test/fixtures/faults/slow.ts", { store: STORE, cwd: ROOT, chunks: 40, concurrency: 8, speculate: true }));
      expect(r.result).toBe((40 * 39) / 2);
      countedOnce(r, 40);
      expect(r.summary.speculated).toBeGreaterThanOrEqual(2);
      expect(r.summary.speculationWins).toBeGreaterThanOrEqual(2);
      const wonBySpeculation = r.attempts.filter((a) => a.won && a.speculative).map((a) => a.index).sort((a, b) => a - b);
      expect(wonBySpeculation).toEqual(expect.arrayContaining([5, 17]));
    });
    it("without speculation: no copies, same exact answer", async () => {
      const r = await withEnv(env, () => run<number>("test/fixtures/faults/slow.ts", { store: STORE, cwd: ROOT, chunks: 40, concurrency: 8, speculate: false }));
      expect(r.result).toBe((40 * 39) / 2);
      countedOnce(r, 40);
      expect(r.summary.speculated).toBe(0);
    });
  });
});
