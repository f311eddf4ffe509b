/**
 * A job's `assets`: the paths and globs it lists, resolved from the job file's folder into
 * named files, each hashed and stored once under its content hash (`inputs/<sha256>`, like a
 * lines() input). A pattern that names nothing stops the run here, before anything runs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError } from "../errors.js";
import { keys } from "../store/keys.js";
import type { AssetRef } from "../types.js";
import { hashFile } from "../util/hash-file.js";
import { matchGlob } from "./files.js";

/** The job's assets by name, and the files to upload (store key -> path). */
export interface PlannedAssets {
  assets: Record<string, AssetRef>;
  /** By name, the local file each asset was read from. */
  files: Map<string, string>;
  uploads: Map<string, string>;
}

const GLOB_CHARS = /[*?[\]{}]/;

/** Resolve, hash and name the files `patterns` list, relative to `jobDir`; `cwd` only shortens paths in messages. */
export async function planAssets(patterns: readonly string[], jobDir: string, cwd: string): Promise<PlannedAssets> {
  const files = assetFiles(patterns, jobDir, cwd);
  const assets: Record<string, AssetRef> = {};
  const uploads = new Map<string, string>();
  for (const [name, file] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const sha256 = await hashFile(file);
    const key = keys.input(sha256);
    assets[name] = { key, sha256, size: fs.statSync(file).size };
    uploads.set(key, file);
  }
  return { assets, files, uploads };
}

/** The files `patterns` name, by asset name (the path relative to `jobDir`, with "/"); a UsageError for a pattern that names none. */
export function assetFiles(patterns: readonly string[], jobDir: string, cwd: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const pattern of patterns) {
    for (const name of namesOf(pattern, jobDir, cwd)) files.set(name, path.join(jobDir, name));
  }
  return files;
}

/**
 * Stop before anything is hashed or uploaded when the assets cannot all fit in the /tmp of a
 * worker with `tmpMb` MB (each is fetched whole into it, see worker/assets.ts), beside the
 * native packages' `depsBytes` unpacked there (worker/deps.ts).
 */
export function checkAssetsFit(files: ReadonlyMap<string, string>, tmpMb: number, depsBytes = 0): void {
  let total = 0;
  let biggest: [string, number] = ["", -1];
  for (const [name, file] of files) {
    const size = fs.statSync(file).size;
    total += size;
    if (size > biggest[1]) biggest = [name, size];
  }
  if (total + depsBytes <= tmpMb * MB) return;
  const what = depsBytes > 0 ? `the job's assets (${mb(total)}) and native packages (${mb(depsBytes)} unpacked) total ${mb(total + depsBytes)}` : `the job's assets total ${mb(total)}`;
  throw new UsageError(
    `${what}, more than the ${tmpMb} MB of /tmp a worker has${total > 0 ? ` (biggest asset: ${biggest[0]}, ${mb(biggest[1])})` : ""}`,
    "ship less, or give the workers more /tmp: `fanout deploy --tmp <MB>` (up to 10240)",
  );
}

const MB = 1024 * 1024;
const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;

/** The names (paths relative to `jobDir`, with "/") one pattern gives; a UsageError when none. */
function namesOf(pattern: string, jobDir: string, cwd: string): string[] {
  const shown = path.relative(cwd, jobDir) || ".";
  const fix = `put the file there, or fix assets: [...] in defineJob (paths and globs are relative to the job file's folder, ${shown})`;
  if (!GLOB_CHARS.test(pattern)) {
    const file = path.resolve(jobDir, pattern);
    if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      throw new UsageError(`asset "${pattern}" not found: no file ${path.relative(cwd, file)}`, fix);
    }
    return [path.relative(jobDir, file).split(path.sep).join("/")];
  }
  const names = (matchGlob(pattern, jobDir) ?? []).filter((n) => fs.statSync(path.join(jobDir, n)).isFile());
  if (names.length === 0) throw new UsageError(`asset pattern "${pattern}" matches no files in ${shown}`, fix);
  return names;
}
