/**
 * A run's assets on the worker side: each fetched from the store once per process (one
 * Lambda environment, one local worker process) into the asset cache folder, checked against
 * the sha256 the client recorded, and given to the chunk as a local path by `ctx.asset(name)`.
 * A folder store's object is used in place, after the same check. All of a task's assets are
 * ready before its chunk starts, so `ctx.asset` is synchronous.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { notAnAsset } from "../src/job/check.js";
import type { AssetRef, Task } from "../src/types.js";
import type { ObjectStore } from "../src/store/types.js";
import { cacheSlot, defaultAssetCacheDir, touch } from "../src/util/bundle-cache.js";
import { hashFile } from "../src/util/hash-file.js";
import type { WorkerEnv } from "./env.js";
import { objectPieces } from "./object-pieces.js";

/** @public An asset whose bytes are not the ones the run uploaded: the chunk is refused. */
export class AssetIntegrityError extends Error {
  override name = "AssetIntegrityError";
  readonly code = "E_ASSET_CHANGED";
}

/** Checked local paths by sha256, in flight or done: concurrent chunks share one fetch. */
const fetches = new Map<string, Promise<string>>();
/** Checked local paths by sha256, for `ctx.asset` and the handler's synchronous fast path. */
const ready = new Map<string, string>();

/** True when every asset of `task` is already checked in this process (or it has none). */
export function assetsReady(task: Task): boolean {
  for (const ref of Object.values(task.assets ?? {})) if (!ready.has(ref.sha256)) return false;
  return true;
}

/** Fetch and check every asset of `task` not yet checked in this process. */
export async function fetchAssets(task: Task, env: WorkerEnv): Promise<void> {
  if (!task.assets) return;
  await Promise.all(Object.entries(task.assets).map(([name, ref]) => fetchAsset(name, ref, env)));
}

/** The local path of the task's asset `name` (what `ctx.asset` returns). */
export function assetPath(task: Task, name: string): string {
  const ref = task.assets?.[name];
  const file = ref && ready.get(ref.sha256);
  if (!file) throw new Error(notAnAsset(name, Object.keys(task.assets ?? {})));
  return file;
}

function fetchAsset(name: string, ref: AssetRef, env: WorkerEnv): Promise<string> {
  let p = fetches.get(ref.sha256);
  if (!p) {
    p = place(name, ref, env).then((file) => {
      ready.set(ref.sha256, file);
      return file;
    });
    fetches.set(ref.sha256, p);
    // A failed fetch (an outage) must not poison the process: the next chunk tries again.
    p.catch(() => fetches.delete(ref.sha256));
  }
  return p;
}

/** Where the checked copy of the asset is: the folder store's own file, or one in the cache folder. */
async function place(name: string, ref: AssetRef, env: WorkerEnv): Promise<string> {
  const inPlace = env.store.localPath?.(ref.key);
  if (inPlace) {
    check(name, ref, await hashFile(inPlace));
    return inPlace;
  }
  const dir = defaultAssetCacheDir();
  const cached = path.join(dir, ref.sha256);
  // Left by an earlier process in this environment: used if it is still intact.
  if (fs.existsSync(cached) && (await hashFile(cached)) === ref.sha256) {
    touch(cached);
    return cached;
  }
  return download(name, ref, env.store, dir);
}

/**
 * Fetch the asset into the cache folder without holding it whole (an asset may be most of
 * /tmp and more than the function's memory): hash each piece as it is written beside the
 * final name, and rename it into place only once the hash is the recorded one.
 */
async function download(name: string, ref: AssetRef, store: ObjectStore, dir: string): Promise<string> {
  const { file, aside } = cacheSlot(dir, ref.sha256);
  const hash = createHash("sha256");
  try {
    const out = await fs.promises.open(aside, "w");
    try {
      for await (const piece of objectPieces(store, ref.key, ref.size)) {
        hash.update(piece);
        await out.write(piece);
      }
    } finally {
      await out.close();
    }
    check(name, ref, hash.digest("hex"));
    fs.renameSync(aside, file);
    return file;
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

function check(name: string, ref: AssetRef, actual: string): void {
  if (actual === ref.sha256) return;
  const err = new AssetIntegrityError(`asset ${name} (${ref.key}) has sha256 ${actual}, not the ${ref.sha256} the run uploaded: the stored object was changed, so the chunk is refused`);
  // The frames are fanout's, not the job's: the message says it all.
  err.stack = `${err.name}: ${err.message}`;
  throw err;
}
