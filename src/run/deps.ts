/**
 * A job's external packages, made ready for its workers before the first chunk is dispatched.
 * Locally the workers import them from the user's own node_modules. For Lambda (and the
 * emulated stack) they are installed for the function's platform into one archive, named by
 * the sha256 of what it holds, built once per package set and platform (cached in the
 * project's node_modules/.cache/fanout/deps), checked against Lambda's unzipped size limit,
 * and stored once under that hash; the worker fetches, checks and unpacks it (worker/deps.ts).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Backend } from "../compute/types.js";
import { UsageError } from "../errors.js";
import { keys } from "../store/keys.js";
import type { ObjectStore } from "../store/types.js";
import type { DepsRef } from "../types.js";
import { openPacked, packFolder } from "../util/archive.js";
import type { Bundle } from "./bundle.js";
import { buildsFromSource } from "./deps-detect.js";
import { installFor, lockedVersions, platformName, type Platform } from "./deps-install.js";
import { subsetLockfile } from "./deps-lock.js";

/**
 * Lambda's limit on a function's code and layers, unzipped: 262,144,000 bytes ("250 MB",
 * the CodeSizeUnzipped quota; https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
 * The archive unpacks into /tmp rather than a layer, but the same figure keeps a job
 * movable to a layer and is what users know.
 */
const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;

/** Test setting: FANOUT_TEST_UNZIPPED_LIMIT_BYTES lowers the limit, so a test meets it with a small package. */
function unzippedLimit(): number {
  const v = Number(process.env.FANOUT_TEST_UNZIPPED_LIMIT_BYTES);
  return Number.isFinite(v) && v > 0 ? v : LAMBDA_UNZIPPED_LIMIT;
}

/** The platform the backend's workers run on; undefined for the local backend (the packages as installed). */
function targetPlatform(backend: Pick<Backend, "name" | "arch">): Platform | undefined {
  if (backend.name === "local") return undefined;
  // The emulated function runs on this machine, whatever architecture it is declared with.
  if (backend.name === "emulated") return { os: process.platform, cpu: process.arch, ...(process.platform === "linux" ? { libc: "glibc" } : {}) };
  // Lambda's default architecture is arm64, as serverless.yml deploys it.
  return { os: "linux", cpu: backend.arch === "x86_64" ? "x64" : "arm64", libc: "glibc" };
}

/** Where the bundle's external packages come from for `backend`'s workers; undefined when it has none. */
export async function shipDeps(store: ObjectStore, bundle: Bundle, backend: Pick<Backend, "name" | "arch">): Promise<DepsRef | undefined> {
  const local = localDeps(bundle);
  return local && depsFor(store, local, backend);
}

/** The bundle's external packages as this machine has them (what local workers import); undefined when it has none. */
export function localDeps(bundle: Bundle): DepsRef | undefined {
  if (bundle.external.length === 0) return undefined;
  return { packages: lockedVersions(bundle.external), root: projectRoot(bundle.external[0]!.dir) };
}

/**
 * The packages of `local` made ready for `backend`'s workers: as they are for the local
 * backend, else installed for its platform, checked against Lambda's limit and stored.
 */
export async function depsFor(store: ObjectStore, local: DepsRef, backend: Pick<Backend, "name" | "arch">): Promise<DepsRef> {
  const { packages, root } = local;
  const platform = targetPlatform(backend);
  if (!platform) return { packages, root };
  const lock = subsetLockfile(Object.keys(packages).map((name) => ({ name, dir: path.join(root, "node_modules", name) })), packages) as { packages: Record<string, unknown> } | undefined;
  // The whole tree when the lockfile gives it, else the packages themselves.
  checkPrebuilt(root, lock ? Object.keys(lock.packages).filter(Boolean) : Object.keys(packages).map((n) => `node_modules/${n}`), platform);
  // Cached beside the installed packages, where `npm ci` or removing node_modules clears it too.
  const built = await archiveFor({ packages, ...(lock ? { lock } : {}) }, platform, path.join(root, "node_modules", ".cache", "fanout", "deps"));
  checkSize(built.meta, platform);
  const key = keys.deps(built.meta.sha256);
  if (!(await store.exists(key))) await store.put(key, built.gz);
  return { packages, root, key, sha256: built.meta.sha256, platform: platformName(platform), packedBytes: built.gz.length, unpackedBytes: built.meta.unpackedBytes };
}

/** The folder above the first node_modules in `dir`: the project whose packages the job imports. */
export function projectRoot(dir: string): string {
  const at = dir.split(path.sep).indexOf("node_modules");
  return at > 0 ? dir.split(path.sep).slice(0, at).join(path.sep) || path.sep : path.dirname(dir);
}

/** What the build cache keeps beside an archive. */
interface ArchiveMeta {
  sha256: string;
  unpackedBytes: number;
  /** Every installed package's unpacked size, largest first. */
  sizes: { name: string; bytes: number }[];
}

/** What to install: the packages' versions, and the user's lockfile's entries for them and their dependencies. */
interface InstallSet {
  packages: Record<string, string>;
  lock?: object;
}

/** The archive of `set` installed for `platform`: from the cache when it holds an intact one, else built and cached. */
async function archiveFor(set: InstallSet, platform: Platform, cacheDir: string): Promise<{ gz: Buffer; meta: ArchiveMeta }> {
  const { packages, lock } = set;
  const id = createHash("sha256").update(JSON.stringify({ format: 1, platform, packages: Object.entries(packages).sort(), lock })).digest("hex").slice(0, 32);
  const dir = path.join(cacheDir, id);
  const cached = readCached(dir);
  if (cached) return cached;
  const work = `${dir}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await installFor(packages, platform, work, lock);
    const modules = path.join(work, "node_modules");
    // npm's own bookkeeping and bin links: nothing the job imports.
    fs.rmSync(path.join(modules, ".package-lock.json"), { force: true });
    fs.rmSync(path.join(modules, ".bin"), { recursive: true, force: true });
    const packed = packFolder(modules);
    const meta: ArchiveMeta = { sha256: packed.sha256, unpackedBytes: packed.unpackedBytes, sizes: packageSizes(modules) };
    writeCached(dir, packed.gz, meta);
    return { gz: packed.gz, meta };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function readCached(dir: string): { gz: Buffer; meta: ArchiveMeta } | undefined {
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, "meta.json"), "utf8")) as ArchiveMeta;
    const gz = fs.readFileSync(path.join(dir, "archive.gz"));
    // A cache file changed since it was written would be refused by every worker: rebuild instead.
    return openPacked(gz).sha256 === meta.sha256 ? { gz, meta } : undefined;
  } catch {
    return undefined;
  }
}

/** Write the archive and its meta aside, then move the folder in whole (two runs may build at once). */
function writeCached(dir: string, gz: Buffer, meta: ArchiveMeta): void {
  const aside = `${dir}.${process.pid}.${Math.random().toString(36).slice(2)}.new`;
  fs.mkdirSync(aside, { recursive: true });
  fs.writeFileSync(path.join(aside, "archive.gz"), gz);
  fs.writeFileSync(path.join(aside, "meta.json"), JSON.stringify(meta));
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.renameSync(aside, dir);
  } catch {
    fs.rmSync(aside, { recursive: true, force: true });
  }
}

/** Each package folder's size under `modules` (scoped ones by their full name), largest first. */
function packageSizes(modules: string): { name: string; bytes: number }[] {
  const out: { name: string; bytes: number }[] = [];
  for (const e of fs.readdirSync(modules, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const names = e.name.startsWith("@") ? fs.readdirSync(path.join(modules, e.name)).map((n) => `${e.name}/${n}`) : [e.name];
    for (const name of names) out.push({ name, bytes: folderBytes(path.join(modules, name)) });
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

function folderBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? folderBytes(p) : fs.lstatSync(p).size;
  }
  return total;
}

/**
 * Install scripts are not run for the target platform (they would build for this machine), so
 * a package that compiles its addon in one would arrive without it: say so before anything runs.
 */
function checkPrebuilt(root: string, lockPaths: readonly string[], platform: Platform): void {
  for (const p of lockPaths) {
    const dir = path.join(root, ...p.split("/"));
    if (!buildsFromSource(dir)) continue;
    const name = p.slice(p.lastIndexOf("node_modules/") + "node_modules/".length);
    throw new UsageError(
      `${name} builds its compiled addon in an install script (node-gyp), which fanout does not run when installing for ${platformName(platform)}`,
      "use a package that ships prebuilt binaries per platform (as napi-rs packages and sharp do), or run the job from a container image",
    );
  }
}

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

/** Over Lambda's limit: one line naming the biggest packages, before anything is uploaded. */
function checkSize(meta: ArchiveMeta, platform: Platform): void {
  const limit = unzippedLimit();
  if (meta.unpackedBytes <= limit) return;
  const largest = meta.sizes.slice(0, 3).map((s) => `${s.name} ${mb(s.bytes)}`).join(", ");
  throw new UsageError(
    `the job's external packages for ${platformName(platform)} unpack to ${mb(meta.unpackedBytes)}, over Lambda's ${mb(limit)} limit for unzipped code (largest: ${largest})`,
    'run the job from a container image (up to 10 GB, see "Native packages" in the README), or import fewer of these packages',
  );
}
