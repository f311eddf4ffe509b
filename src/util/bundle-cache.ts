import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * Job bundles read from a remote store (S3) are written to a cache folder so Node can import
 * them as files (and job assets, so a chunk can open them as files). One file per bundle hash would grow without end over months of edits, so
 * each write first removes the files nobody has used for a day (a use refreshes the time).
 */
const BUNDLE_CACHE_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** The default cache: the system temp folder (/tmp on Lambda, the only writable place there). */
export function defaultBundleCacheDir(): string {
  return path.join(os.tmpdir(), "fanout-bundles");
}

/** Where workers keep the job assets they fetched (beside the bundles; /tmp on Lambda). */
export function defaultAssetCacheDir(): string {
  return path.join(os.tmpdir(), "fanout-assets");
}

/**
 * Where a bundle that imports packages by name is written on this machine: inside the
 * project's node_modules/.cache, so Node's resolution, walking up from the file, reaches
 * the project's node_modules (a bundle in the temp folder would find none).
 */
export function nearPackages(projectRoot: string): string {
  return path.join(projectRoot, "node_modules", ".cache", "fanout", "bundles");
}

/** The cached file for bundle `sha256`, written (atomically) if it is not there yet. */
export function cachedBundleFile(dir: string, sha256: string, code: Buffer, now = Date.now()): string {
  const file = path.join(dir, `${sha256}.mjs`);
  if (fs.existsSync(file)) {
    touch(file, now);
    return file;
  }
  return writeCachedFile(dir, `${sha256}.mjs`, code, now);
}

/** Write `name` in cache folder `dir` (atomically, replacing what is there), pruning unused files first. */
function writeCachedFile(dir: string, name: string, code: Buffer, now = Date.now()): string {
  const { file, aside } = cacheSlot(dir, name, now);
  fs.writeFileSync(aside, code);
  fs.renameSync(aside, file);
  return file;
}

/**
 * Where `name` goes in cache folder `dir` (created, pruned of unused files first), and a file
 * beside it to write first: several processes may share the folder (emulator threads, a
 * reused Lambda container, two runs), so a file is written aside and renamed into place,
 * and nobody opens a half-written one.
 */
export function cacheSlot(dir: string, name: string, now = Date.now()): { file: string; aside: string } {
  const file = path.join(dir, name);
  fs.mkdirSync(dir, { recursive: true });
  pruneBundleCache(dir, now);
  return { file, aside: `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp` };
}

/** Remove cached bundles (and write-aside leftovers) not used for BUNDLE_CACHE_MAX_AGE_MS. */
function pruneBundleCache(dir: string, now = Date.now()): void {
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    try {
      if (now - fs.statSync(file).mtimeMs > BUNDLE_CACHE_MAX_AGE_MS) fs.rmSync(file, { force: true });
    } catch {
      /* removed by another process meanwhile */
    }
  }
}

/** Mark a cached file used now, so pruning keeps it. */
export function touch(file: string, now = Date.now()): void {
  try {
    fs.utimesSync(file, now / 1000, now / 1000);
  } catch {
    /* another user's file in a shared temp folder: still readable, just not ours to date */
  }
}
