/**
 * A job's external packages on the worker side. Node resolves a bare `import "sharp"` by
 * walking up from the importing file's folder through node_modules folders, so the bundle file
 * is written where that walk finds them:
 *   - Lambda and the emulated stack: the run's dependency archive, fetched from the store,
 *     checked against its sha256 and unpacked into <temp>/fanout-deps/<sha256>/node_modules
 *     once per environment (a folder moved into place whole, so a later process in the same
 *     environment, or a warm Lambda after a crash, reuses it); bundles go beside it.
 *   - The local backend: the user's own project, <root>/node_modules/.cache/fanout/bundles.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { DepsRef } from "../src/types.js";
import { ArchiveFormatError, unpackStream } from "../src/util/archive.js";
import { nearPackages } from "../src/util/bundle-cache.js";
import type { WorkerEnv } from "./env.js";
import { objectPieces } from "./object-pieces.js";

/** @public A fetched dependency archive whose contents differ from what the run recorded: nothing of it is used. */
export class DepsIntegrityError extends Error {
  override name = "DepsIntegrityError";
  readonly code = "E_DEPS_CHANGED";
}

/** Unpacked folders by archive sha256, in flight or done: concurrent chunks share one unpack. */
const unpacks = new Map<string, Promise<string>>();

/** Where a bundle importing `deps` must be written, and how long this call spent fetching and unpacking (when it did). */
export async function bundleDirFor(deps: DepsRef, env: WorkerEnv): Promise<{ dir: string; ms?: number }> {
  const { key, sha256 } = deps;
  if (!key || !sha256) return { dir: nearPackages(deps.root) };
  let p = unpacks.get(sha256);
  const t0 = Date.now();
  const mine = p === undefined;
  if (!p) {
    p = placed(key, sha256, deps.packedBytes, env);
    unpacks.set(sha256, p);
    // A failed fetch (an outage) must not poison the process: the next chunk tries again.
    p.catch(() => unpacks.delete(sha256));
  }
  const folder = await p;
  return { dir: path.join(folder, "bundles"), ...(mine ? { ms: Date.now() - t0 } : {}) };
}

/** Bytes that are not a whole fanout archive (zlib's Z_* codes, a bad header or a cut entry): not an outage. */
function unreadable(err: unknown): boolean {
  if (err instanceof ArchiveFormatError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("Z_");
}

function changed(key: string, holds: string, sha256: string): DepsIntegrityError {
  const err = new DepsIntegrityError(`dependency archive ${key} holds ${holds}, not the ${sha256} the run recorded: the stored object was changed, so the chunk is refused`);
  err.stack = `${err.name}: ${err.message}`;
  return err;
}

/** The unpacked folder of archive `sha256`: one already in this environment's temp folder, or fetched, unpacked aside and checked now. */
async function placed(key: string, sha256: string, packedBytes: number | undefined, env: WorkerEnv): Promise<string> {
  const root = path.join(os.tmpdir(), "fanout-deps");
  const folder = path.join(root, sha256);
  if (fs.existsSync(path.join(folder, "node_modules"))) return folder;
  const aside = `${folder}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    // Streamed: the archive and its files may not fit in the function's memory at once. What a
    // changed archive unpacked stays aside and is removed; nothing of it is used.
    const unpacked = await unpackStream(objectPieces(env.store, key, packedBytes), path.join(aside, "node_modules")).catch((err: unknown) => {
      throw unreadable(err) ? changed(key, `unreadable bytes (${(err as Error).message})`, sha256) : err;
    });
    if (unpacked.sha256 !== sha256) throw changed(key, `sha256 ${unpacked.sha256}`, sha256);
    unpacked.links();
    fs.mkdirSync(path.join(aside, "bundles"));
    fs.renameSync(aside, folder);
  } catch (err) {
    // Another process of this environment moved its copy in first: use that one.
    if (!fs.existsSync(path.join(folder, "node_modules"))) throw err;
  } finally {
    fs.rmSync(aside, { recursive: true, force: true });
  }
  return folder;
}
