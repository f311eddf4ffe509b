// A run's variables in one worker process: set for its chunks only, overlapping chunks of the
// same run, holding back a chunk of another run (or of none) until the process is free of
// them, restored after; secrets read once per process; values masked in logs and errors.
import { createHash } from "node:crypto";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runTask } from "../../dist/worker/handler.js";
import { SecretError } from "../../dist/worker/secrets.js";
import { FolderStore } from "../../dist/src/store/folder.js";
import type { Reply, Task } from "../../dist/src/types.js";
import { rmDir, tmpDir } from "../helpers/tmp.js";

const dir = tmpDir("worker-env");
afterAll(() => rmDir(dir));
const store = new FolderStore(path.join(dir, "store"));
const env = { store, platform: "local" as const, workerId: "test-env", cacheDir: path.join(dir, "cache") };

const code = `
const late = [];
export async function hold(ms, ctx) {
  await new Promise((r) => setTimeout(r, ms));
  ctx.log("X is " + process.env.FANOUT_T_X);
  setTimeout(() => late.push(process.env.FANOUT_T_X ?? null), 30);
  return process.env.FANOUT_T_X ?? null;
}
export function lateSeen() { return late; }
export function fail() { throw new Error("leaked " + process.env.FANOUT_T_X); }
`;
const sha256 = createHash("sha256").update(code).digest("hex");
const bundle = { key: `bundles/${sha256}.mjs`, sha256 };
await store.put(bundle.key, code);

let nextIndex = 0;
function task(over: Partial<Task>): Task {
  return { v: 1, runId: "run-env", count: 100, bundle, export: "hold", timeoutMs: 0, inlineLimit: 1024, index: nextIndex++, attempt: 1, source: { kind: "inline", value: 50 }, ...over };
}

describe("a run's variables in a shared worker process", () => {
  it("are set for their chunks only: another run's chunk waits, then sees none; later async work sees none", async () => {
    const vars = { FANOUT_T_X: "value-of-x" };
    const a1 = runTask(task({ env: vars }), env);
    const a2 = runTask(task({ env: vars }), env);
    const other = runTask(task({ source: { kind: "inline", value: 1 } }), env);
    const [r1, r2, r3] = (await Promise.all([a1, a2, other])) as Reply[];
    expect([r1!.value, r2!.value, r3!.value]).toEqual(["value-of-x", "value-of-x", null]);
    // The two chunks of one run overlapped; the other run's chunk started after both ended.
    expect(r2!.timing.startedAt).toBeLessThan(r1!.timing.endedAt);
    expect(r3!.timing.startedAt).toBeGreaterThanOrEqual(Math.max(r1!.timing.endedAt, r2!.timing.endedAt));
    expect(process.env.FANOUT_T_X).toBeUndefined();
    await new Promise((r) => setTimeout(r, 100));
    const late = (await runTask(task({ export: "lateSeen" }), env)) as Reply;
    expect(late.value).toEqual([null, null, null]);
  });

  it("masks the values in the chunk's logs and error", async () => {
    const vars = { FANOUT_T_X: "value-of-x" };
    expect(await runTask(task({ env: vars, source: { kind: "inline", value: 1 } }), env)).toMatchObject({ ok: true, logs: ["X is ***"] });
    const r = (await runTask(task({ env: vars, export: "fail" }), env)) as Reply;
    expect(r.error).toMatchObject({ kind: "user", message: "leaked ***" });
    expect(r.error!.stack).not.toContain("value-of-x");
  });

  it("reads secrets once per process and sets them like env; a missing one fails the chunk with its code", async () => {
    const asked: string[] = [];
    const readSecret = async (ref: { store: string; id: string }) => {
      asked.push(`${ref.store}:${ref.id}`);
      if (ref.id === "/missing") throw new SecretError("not found as /missing", "E_SECRET_NOT_FOUND");
      return "from-ssm";
    };
    const secrets = { FANOUT_T_X: "ssm:/app/x" };
    const got = (await Promise.all([runTask(task({ secrets }), { ...env, readSecret }), runTask(task({ secrets: { FANOUT_T_X: "ssm:/app/x" } }), { ...env, readSecret })])) as Reply[];
    expect(got.map((r) => r.value)).toEqual(["from-ssm", "from-ssm"]);
    expect(asked).toEqual(["ssm:/app/x"]);
    const bad = (await runTask(task({ secrets: { FANOUT_T_X: "ssm:/missing" } }), { ...env, readSecret })) as Reply;
    expect(bad.error).toMatchObject({ kind: "user", name: "SecretError", code: "E_SECRET_NOT_FOUND", message: "secret FANOUT_T_X (ssm:/missing): not found as /missing" });
  });

  it("each reply carries the chunk's peak memory", async () => {
    const r = (await runTask(task({}), env)) as Reply;
    expect(r.memory!.peakRssMb).toBeGreaterThan(10);
    expect(r.memory!.peakHeapMb).toBeGreaterThan(1);
    expect(r.memory!.peakHeapMb).toBeLessThanOrEqual(r.memory!.peakRssMb);
  });
});
