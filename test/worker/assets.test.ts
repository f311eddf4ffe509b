// The worker's asset fetch: once per process however many chunks ask, into the cache folder
// for a remote store (checked), in place for a folder store; ctx.asset names what is shipped.
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assetPath, assetsReady, fetchAssets } from "../../dist/worker/assets.js";
import { FolderStore } from "../../dist/src/store/folder.js";
import type { ObjectStore } from "../../dist/src/store/types.js";
import type { Task } from "../../dist/src/types.js";
import { rmDir, tmpDir } from "../helpers/tmp.js";

const dir = tmpDir("worker-assets");
afterAll(() => rmDir(dir));
const folder = new FolderStore(path.join(dir, "store"));

/** A folder store seen as a remote one (no localPath), counting its GETs. */
function remote(): { store: ObjectStore; gets: string[] } {
  const gets: string[] = [];
  const store: ObjectStore = Object.assign(Object.create(folder) as ObjectStore, {
    localPath: undefined,
    get: (key: string) => (gets.push(key), folder.get(key)),
  });
  return { store, gets };
}

async function shipped(name: string): Promise<Task> {
  const bytes = randomBytes(32);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  await folder.put(`inputs/${sha256}`, bytes);
  return { v: 1, runId: "r", count: 2, bundle: { key: "b", sha256: "b" }, export: "default", timeoutMs: 0, inlineLimit: 0, index: 0, attempt: 1, source: { kind: "inline", value: 0 }, assets: { [name]: { key: `inputs/${sha256}`, sha256, size: 32 } } };
}

describe("worker assets", () => {
  it("fetches a remote asset once per process, however many chunks ask at once, into the cache folder", async () => {
    const task = await shipped("model.bin");
    const { store, gets } = remote();
    const env = { store, platform: "lambda" as const, workerId: "w", cacheDir: dir };
    expect(assetsReady(task)).toBe(false);
    await Promise.all([fetchAssets(task, env), fetchAssets({ ...task, index: 1 }, env)]);
    await fetchAssets({ ...task, index: 2 }, env);
    expect(gets).toEqual([task.assets!["model.bin"]!.key]);
    expect(assetsReady(task)).toBe(true);
    const file = assetPath(task, "model.bin");
    expect(path.dirname(file)).toBe(path.join(os.tmpdir(), "fanout-assets"));
    expect(fs.readFileSync(file).equals(await folder.get(task.assets!["model.bin"]!.key))).toBe(true);
  });

  it("uses a folder store's object in place", async () => {
    const task = await shipped("t.json");
    await fetchAssets(task, { store: folder, platform: "local", workerId: "w", cacheDir: dir });
    expect(assetPath(task, "t.json")).toBe(folder.localPath(task.assets!["t.json"]!.key));
  });

  it("ctx.asset of a name the job does not ship says which it does", async () => {
    const task = await shipped("a.bin");
    expect(() => assetPath(task, "b.bin")).toThrow('ctx.asset("b.bin"): the job ships no asset of that name (its assets: a.bin); add it to assets: [...] in defineJob');
  });
});
