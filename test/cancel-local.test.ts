// Cancellation on the local backend: `fanout cancel` from another process stops a run and its
// running chunks, and an aborted AbortSignal leaves the run's cancel marker for workers. The
// chunks (test/fixtures/cancel-loop.ts) would run 30 s; each records its own beats, so when it
// stopped is the chunk's account, not this test's clock.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run, RunAbortedError } from "fanout";
import { BIN, fanout, ROOT } from "./helpers/cli.js";

const STORE = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-cancel-"));
afterAll(() => fs.rmSync(STORE, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (up to 20 s) until `n` chunks wrote their started record. */
async function startedChunks(dir: string, n: number): Promise<void> {
  for (let i = 0; i < 400 && fs.readdirSync(dir).filter((f) => f.startsWith("started-")).length < n; i++) await sleep(50);
  expect(fs.readdirSync(dir).filter((f) => f.startsWith("started-")).length).toBe(n);
}

/** The last beat of every chunk that looped: when it stopped, by its own clock. */
function lastBeats(dir: string): number[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith("beat-"))
    .map((f) => (JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as { at: number }).at);
}

describe("cancellation on the local backend", () => {
  it("`fanout cancel <runId>` from another process stops the run (exit 130) and its running chunks within ~2 s; the summary counts them", async () => {
    const dir = fs.mkdtempSync(path.join(STORE, "chunks-"));
    const child = spawn(process.execPath, [BIN, "run", "test/fixtures/cancel-loop.ts", "--chunks", "3", "--store", STORE, "--json", "-q"], {
      cwd: ROOT,
      env: { ...process.env, FANOUT_T_DIR: dir, FANOUT_T_CHUNKS: "3" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    await startedChunks(dir, 3);
    const runId = fs.readdirSync(path.join(STORE, "runs"))[0]!;
    const cancelAt = Date.now();
    const res = await fanout(["cancel", runId, "--store", STORE]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`cancelling run ${runId}`);
    expect(await exited).toBe(130);
    expect(stderr).toContain(`run ${runId} was cancelled: cancelled by \`fanout cancel\``);
    const out = JSON.parse(stdout);
    expect(out.summary.status).toBe("aborted");
    expect(out.summary.stoppedEarly).toBe(3);
    await sleep(500);
    const beats = lastBeats(dir);
    expect(beats).toHaveLength(3);
    // Each chunk's last beat: within ~2 s of the cancel (the client looks once a second).
    for (const at of beats) expect(at - cancelAt).toBeLessThan(2500);
    // A finished run cannot be cancelled: the command says so.
    const again = await fanout(["cancel", runId, "--store", STORE]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already finished \(aborted\): there is nothing to cancel/);
  }, 60_000);

  it("an aborted AbortSignal writes the run's cancel marker for its workers, and the chunks stop", async () => {
    const dir = fs.mkdtempSync(path.join(STORE, "chunks-"));
    const ac = new AbortController();
    process.env.FANOUT_T_DIR = dir;
    process.env.FANOUT_T_CHUNKS = "2";
    let runId = "";
    try {
      const pending = run("test/fixtures/cancel-loop.ts", { store: STORE, cwd: ROOT, chunks: 2, signal: ac.signal, onNotice: (l) => (runId ||= /run (\S+):/.exec(l)?.[1] ?? "") });
      pending.catch(() => {});
      await startedChunks(dir, 2);
      const abortAt = Date.now();
      ac.abort(new Error("test stops it"));
      const err = await pending.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RunAbortedError);
      expect(fs.existsSync(path.join(STORE, "runs", runId, "cancel", "run"))).toBe(true);
      await sleep(500);
      for (const at of lastBeats(dir)) expect(at - abortAt).toBeLessThan(2500);
    } finally {
      delete process.env.FANOUT_T_DIR;
      delete process.env.FANOUT_T_CHUNKS;
    }
  }, 60_000);
});
