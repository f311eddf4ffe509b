// Cancellation that reaches the worker, on the emulated AWS stack. On Lambda a chunk whose
// client stops waiting runs on to its timeout, billed ("Cancelling the local Invoke does not
// guarantee that a Lambda invocation already accepted by AWS will stop executing":
// https://github.com/danmoz/caddy-lambda/issues/69; see research-aws.md §5), and
// serverless-offline likewise runs the handler on after the client drops the request. Only the
// cancel marker in the store can stop it. Each chunk (test/fixtures/cancel-loop.ts) records when
// and why it stopped in a file of its own: that record is what is measured.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run, RunAbortedError } from "fanout";
import { fanout, ROOT } from "./helpers/cli.js";
import { emulatorForFile } from "./helpers/emulator.js";
import { withEnv } from "./helpers/env.js";

const emulated = emulatorForFile();
const DIRS = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-cancel-emu-"));
afterAll(() => fs.rmSync(DIRS, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Stopped {
  startedAt: number;
  stoppedAt: number;
  aborted: boolean;
  reason: string;
}

/** Waits (up to `ms`) for a file the chunks write, and reads it. */
async function record<T>(file: string, ms = 15_000): Promise<T | undefined> {
  for (let waited = 0; waited < ms && !fs.existsSync(file); waited += 50) await sleep(50);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as T) : undefined;
}


describe("cancellation reaches the worker on the emulated stack", () => {
  it("`fanout cancel` stops running Lambda chunks within ~2 s, by the chunks' own records", async () => {
    const dir = fs.mkdtempSync(path.join(DIRS, "cancel-"));
    let runId = "";
    await withEnv({ FANOUT_T_DIR: dir, FANOUT_T_CHUNKS: "2", FANOUT_T_MODE: "all" }, async () => {
      const pending = run("test/fixtures/cancel-loop.ts", { backend: "emulated", cwd: ROOT, chunks: 2, speculate: false, onNotice: (l) => (runId ||= /run (\S+):/.exec(l)?.[1] ?? "") });
      pending.catch(() => {});
      expect(await record(path.join(dir, "started-0-1.json"), 60_000)).toBeDefined();
      expect(await record(path.join(dir, "started-1-1.json"))).toBeDefined();
      const cancelAt = Date.now();
      const res = await fanout(["cancel", runId, "--backend", "emulated"], { env: emulated.current.env });
      expect(res.stderr).toBe("");
      expect(res.code).toBe(0);
      const err = await pending.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RunAbortedError);
      expect((err as RunAbortedError).summary?.stoppedEarly).toBe(2);
      for (const i of [0, 1]) {
        // Without the worker's watch, these chunks run their full 30 s.
        const stopped = await record<Stopped>(path.join(dir, `stopped-${i}-1.json`));
        expect(stopped, `chunk ${i} recorded its stop`).toBeDefined();
        expect(stopped!.aborted).toBe(true);
        expect(stopped!.reason).toBe(`chunk ${i} stopped: its run was cancelled`);
        expect(stopped!.stoppedAt - cancelAt).toBeLessThan(2500);
      }
    });
  }, 120_000);

  it("a straggler beaten by its speculative copy is stopped on its worker", async () => {
    const dir = fs.mkdtempSync(path.join(DIRS, "straggler-"));
    await withEnv({ FANOUT_T_DIR: dir, FANOUT_T_CHUNKS: "8", FANOUT_T_MODE: "straggler" }, async () => {
      const r = await run<number>("test/fixtures/cancel-loop.ts", { backend: "emulated", cwd: ROOT, chunks: 8, concurrency: 8, speculate: true });
      expect(r.result).toBe(8);
      const copy = r.attempts.find((a) => a.index === 0 && a.speculative && a.won);
      expect(copy, "chunk 0's copy won").toBeDefined();
      expect(r.summary.stoppedEarly).toBe(1);
      const stopped = await record<Stopped>(path.join(dir, "stopped-0-1.json"));
      expect(stopped, "the beaten first attempt recorded its stop").toBeDefined();
      expect(stopped!.aborted).toBe(true);
      expect(stopped!.reason).toBe("chunk 0 attempt 1 stopped: another attempt finished the chunk first");
      // The copy's win is when the loser was told; it stops at its next look (about a second).
      expect(stopped!.stoppedAt - copy!.returnedAt).toBeLessThan(2500);
    });
  }, 120_000);
});
