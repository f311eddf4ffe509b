// The worker's asset fetch: once per process however many chunks ask, into the cache folder
// for a remote store (checked), in place for a folder store; ctx.asset names what is shipped.
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AssetIntegrityError, assetPath, assetsReady, fetchAssets } from "../../dist/worker/assets.js";
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

/** A remote store that refuses whole GETs of `key` (a large asset must be streamed) and records the ranges read. */
function rangedOnly(key: string): { store: ObjectStore; ranges: [number, number][] } {
  const ranges: [number, number][] = [];
  const store: ObjectStore = Object.assign(Object.create(folder) as ObjectStore, {
    localPath: undefined,
    get: (k: string) => (k === key ? Promise.reject(new Error("whole GET of a large asset")) : folder.get(k)),
    getRange: (k: string, start: number, end: number) => (ranges.push([start, end]), folder.getRange(k, start, end)),
  });
  return { store, ranges };
}

/** A task shipping `recorded` as model.bin, while the store holds `stored` under its key. */
async function shippedLarge(recorded: Buffer, stored = recorded): Promise<Task> {
  const sha256 = createHash("sha256").update(recorded).digest("hex");
  await folder.put(`inputs/${sha256}`, stored);
  return { v: 1, runId: "r", count: 1, bundle: { key: "b", sha256: "b" }, export: "default", timeoutMs: 0, inlineLimit: 0, index: 0, attempt: 1, source: { kind: "inline", value: 0 }, assets: { "model.bin": { key: `inputs/${sha256}`, sha256, size: recorded.length } } };
}

/** Files in the worker's asset cache that belong to `sha256` (the asset, or a write-aside leftover). */
const cached = (sha256: string) => fs.readdirSync(path.join(os.tmpdir(), "fanout-assets")).filter((f) => f.startsWith(sha256));

const MB = 1024 * 1024;

describe("worker assets", () => {
  it("streams a large asset into the cache in ranged pieces, never holding it whole, and renames it into place once its hash checks", async () => {
    const bytes = randomBytes(20 * MB);
    const task = await shippedLarge(bytes);
    const ref = task.assets!["model.bin"]!;
    const { store, ranges } = rangedOnly(ref.key);
    await fetchAssets(task, { store, platform: "lambda", workerId: "w", cacheDir: dir });
    // 8 MB pieces; the last asks one byte past the recorded size, so an object that grew would show.
    expect(ranges).toEqual([[0, 8 * MB], [8 * MB, 16 * MB], [16 * MB, 20 * MB + 1]]);
    expect(fs.readFileSync(assetPath(task, "model.bin")).equals(bytes)).toBe(true);
    expect(cached(ref.sha256)).toEqual([ref.sha256]);
  });

  it("refuses a large asset whose stored object grew by a byte or lost one, leaving nothing in the cache", async () => {
    const bytes = randomBytes(9 * MB);
    for (const stored of [Buffer.concat([bytes, Buffer.from([0])]), bytes.subarray(0, bytes.length - 1)]) {
      const task = await shippedLarge(bytes, stored);
      const ref = task.assets!["model.bin"]!;
      await expect(fetchAssets(task, { store: rangedOnly(ref.key).store, platform: "lambda", workerId: "w", cacheDir: dir })).rejects.toThrow(AssetIntegrityError);
      expect(cached(ref.sha256)).toEqual([]);
      expect(assetsReady(task)).toBe(false);
    }
  });

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
