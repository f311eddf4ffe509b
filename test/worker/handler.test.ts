// runTask against a real folder store: the fast path stays synchronous once the bundle is
// loaded, and every outcome becomes a reply (and, where it should, a stored envelope).
import { createHash } from "node:crypto";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runTask } from "../../dist/worker/handler.js";
import { FolderStore } from "../../dist/src/store/folder.js";
import { keys } from "../../dist/src/store/keys.js";
import type { Reply, Task } from "../../dist/src/types.js";
import { rmDir, tmpDir } from "../helpers/tmp.js";

const dir = tmpDir("worker-handler");
afterAll(() => rmDir(dir));
const store = new FolderStore(path.join(dir, "store"));
const env = { store, platform: "local" as const, workerId: "test-1", cacheDir: path.join(dir, "cache") };

const code = `
export function double(c, ctx) { ctx.log("got", c); return c * 2; }
export function big(c) { return "y".repeat(c); }
export function never(c, ctx) { return new Promise(() => {}); }
export function mine(c) { throw Object.assign(new Error("EACCES: mine"), { code: "EACCES" }); }
`;
const sha256 = createHash("sha256").update(code).digest("hex");
const bundle = { key: `bundles/${sha256}.mjs`, sha256 };
await store.put(bundle.key, code);

let nextIndex = 0;
function task(over: Partial<Task>): Task {
  return { v: 1, runId: "run-h", count: 100, bundle, export: "double", timeoutMs: 0, inlineLimit: 1024, index: nextIndex++, attempt: 1, source: { kind: "inline", value: 21 }, ...over };
}

const stored = async (key: string) => JSON.parse((await store.get(key)).toString("utf8"));

describe("runTask", () => {
  it("loads the bundle cold once, then runs inline chunks without a promise", async () => {
    // The local worker's batching writer takes small ok results, so nothing waits on a store write.
    const bodies: string[] = [];
    const batching = { ...env, defer: (_t: Task, ok: boolean, body: string) => ok && bodies.push(body) > 0 };
    const first = runTask(task({}), batching);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toMatchObject({ ok: true, value: 42, bytes: 2, logs: ["got 21"], timing: { coldStart: true } });

    const t = task({ source: { kind: "inline", value: 5 } });
    const second = runTask(t, batching);
    expect(second).not.toBeInstanceOf(Promise);
    expect(second as Reply).toMatchObject({ ok: true, value: 10, timing: { coldStart: false } });
    expect(JSON.parse(bodies[1]!)).toMatchObject({ ok: true, value: 10, index: t.index, logs: ["got 5"] });
  });

  it("without a batching writer the result is stored before the reply", async () => {
    const t = task({ source: { kind: "inline", value: 8 } });
    expect(await runTask(t, env)).toMatchObject({ ok: true, value: 16 });
    expect(await stored(keys.result("run-h", t.index))).toMatchObject({ ok: true, value: 16, index: t.index, logs: ["got 8"] });
  });

  it("a stored payload is read from the store (the slow path)", async () => {
    await store.put("runs/run-h/payloads", "1234");
    const r = await runTask(task({ source: { kind: "stored", key: "runs/run-h/payloads", offset: 1, length: 2 } }), env);
    expect(r).toMatchObject({ ok: true, value: 46, logs: ["got 23"] });
  });

  it("a value over the inline limit stays in the store", async () => {
    const t = task({ export: "big", source: { kind: "inline", value: 2000 } });
    const r = (await runTask(t, env)) as Reply;
    expect(r).toMatchObject({ ok: true, stored: true, bytes: 2002 });
    expect(r.value).toBeUndefined();
    expect((await stored(keys.result("run-h", t.index))).value).toBe("y".repeat(2000));
  });

  it("the worker-side deadline ends a chunk that never settles as a stored timeout", async () => {
    const t = task({ export: "never", timeoutMs: 50 });
    const r = await runTask(t, env);
    expect(r).toMatchObject({ ok: false, error: { kind: "timeout", name: "ChunkTimeoutError" } });
    expect(await stored(keys.failure("run-h", t.index))).toMatchObject({ ok: false, error: { kind: "timeout" } });
  });

  it("a cancelled chunk replies cancelled and stores nothing", async () => {
    const handle: { cancel?: () => void } = {};
    const t = task({ export: "never" });
    const p = runTask(t, env, { handle });
    handle.cancel!();
    expect(await p).toMatchObject({ ok: false, error: { kind: "cancelled" } });
    expect(await store.exists(keys.failure("run-h", t.index))).toBe(false);
  });

  it("the chunk's own EACCES is a user error, not an outage", async () => {
    expect(await runTask(task({ export: "mine" }), env)).toMatchObject({ ok: false, error: { kind: "user", code: "EACCES" } });
  });

  it("a bundle whose bytes do not match its sha256 is refused", async () => {
    const bad = { key: "bundles/tampered.mjs", sha256: "0".repeat(64) };
    await store.put(bad.key, code);
    const r = await runTask(task({ bundle: bad }), env);
    expect(r).toMatchObject({ ok: false, error: { kind: "user", name: "BundleIntegrityError" } });
  });

  it("an export that is not a function fails the chunk and is stored as a failure", async () => {
    const t = task({ export: "nothing" });
    expect(await runTask(t, env)).toMatchObject({ ok: false, error: { kind: "user", message: 'the bundle has no exported function "nothing"' } });
    expect(await store.exists(keys.failure("run-h", t.index))).toBe(true);
  });
});
