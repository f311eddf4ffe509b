/**
 * Local files as listed objects: a folder's files (lines() over a folder) or a glob's
 * (files()), each pinned by its size and modification time, and read in place by the local
 * backend's workers.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { pathToFileURL, fileURLToPath } from "node:url";
import { minimatch } from "minimatch";
import pLimit from "p-limit";
import { UsageError } from "../errors.js";
import { keys } from "../store/keys.js";
import { hashFile } from "../util/hash-file.js";
import { storedUrl, type Listed, type ListedInputs } from "./listed.js";

/** A local file's stand-in for an S3 ETag: it changes when the file is rewritten. */
function fileEtag(st: fs.BigIntStats): string {
  return `${st.size}-${st.mtimeNs}`;
}

/** Every file under `dir` (recursively), in path order; keys are relative to `cwd`. */
export function listFolder(dir: string, cwd: string): Listed[] {
  const names = fs.readdirSync(dir, { recursive: true, encoding: "utf8" });
  return listPaths(names.map((n) => path.join(dir, n)), cwd);
}

/** Every file matching a glob relative to `cwd`, in path order. */
export function listGlob(pattern: string, cwd: string): Listed[] {
  const matched = matchGlob(pattern, cwd);
  if (!matched) throw new UsageError(`files("${pattern}"): no folder ${path.relative(cwd, globBase(pattern, cwd)) || "."}`, `check the pattern (it is resolved from ${cwd})`);
  const listed = listPaths(matched.map((r) => path.join(cwd, r)), cwd);
  if (listed.length === 0) throw new UsageError(`files("${pattern}") matches no files`, `check the pattern (it is resolved from ${cwd})`);
  return listed;
}

/** The folder a glob's fixed leading segments name: the walk starts there. */
function globBase(pattern: string, cwd: string): string {
  const fixed: string[] = [];
  for (const seg of pattern.replaceAll("\\", "/").split("/").slice(0, -1)) {
    if (/[*?[\]{}()!]/.test(seg)) break;
    fixed.push(seg);
  }
  return path.resolve(cwd, fixed.join("/") || ".");
}

/**
 * The paths (relative to `cwd`, with "/") of every entry under the glob's fixed folders that
 * the glob matches; undefined when those folders do not exist.
 */
export function matchGlob(pattern: string, cwd: string): string[] | undefined {
  const norm = pattern.replaceAll("\\", "/");
  const base = globBase(pattern, cwd);
  if (!fs.existsSync(base)) return undefined;
  const rel = fs.readdirSync(base, { recursive: true, encoding: "utf8" }).map((n) => path.relative(cwd, path.join(base, n)).split(path.sep).join("/"));
  return rel.filter((r) => minimatch(r, norm.replace(/^\.\//, ""), { dot: false }));
}

function listPaths(paths: string[], cwd: string): Listed[] {
  const out: Listed[] = [];
  for (const p of paths) {
    const st = fs.statSync(p, { bigint: true });
    if (!st.isFile()) continue;
    out.push({ url: pathToFileURL(p).href, key: path.relative(cwd, p).split(path.sep).join("/"), size: Number(st.size), etag: fileEtag(st), gzip: p.endsWith(".gz") });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Files hashed at once (each hash is a read of the whole file). */
const HASHES_AT_ONCE = 8;

/**
 * Listed local files as the run store will hold them, for workers that cannot read this
 * machine (aws, emulated): each file uploaded once under its content hash, which is also its
 * etag, so a resume reads exactly the bytes the first attempt read.
 */
export async function storedFiles(listed: readonly Listed[]): Promise<ListedInputs> {
  const limit = pLimit(HASHES_AT_ONCE);
  const hashes = await Promise.all(listed.map((o) => limit(() => hashFile(fileURLToPath(o.url)))));
  // In listing order, so the manifest's input keys come out the same on every plan.
  const uploads = new Map(listed.map((o, i) => [keys.input(hashes[i]!), fileURLToPath(o.url)]));
  return { listed: listed.map((o, i) => ({ ...o, url: storedUrl(keys.input(hashes[i]!)), etag: hashes[i]! })), uploads };
}

/** The file must still be the one listed. */
function checkSame(url: string, etag: string, fd: number): void {
  const now = fileEtag(fs.fstatSync(fd, { bigint: true }));
  if (now !== etag) throw new Error(`${url} changed after the run listed it (was ${etag}, now ${now}): its chunks would read different data — start a new run to read the new version`);
}

/** Bytes [start, end) of a listed local file. */
export async function readFileRange(url: string, etag: string, start: number, end: number): Promise<Buffer> {
  const file = fileURLToPath(url);
  const fh = await fs.promises.open(file, "r");
  try {
    checkSame(url, etag, fh.fd);
    const len = Math.max(0, end - start);
    const buf = Buffer.alloc(len);
    const { bytesRead } = await fh.read(buf, 0, len, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** A listed local file (or bytes [start, end) of it) as a stream. */
export function streamFile(url: string, etag: string, range?: { start: number; end: number }): Readable {
  const file = fileURLToPath(url);
  const fd = fs.openSync(file, "r");
  try {
    checkSame(url, etag, fd);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  if (range && range.end <= range.start) {
    fs.closeSync(fd);
    return Readable.from([]);
  }
  return fs.createReadStream("", { fd, ...(range ? { start: range.start, end: range.end - 1 } : {}) });
}
