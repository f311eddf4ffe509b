/**
 * Listed objects (S3 or local files) into chunks: lines() over byte ranges of the objects as
 * one stream, objects()/files() as items balanced by bytes; and the worker-side reads of them.
 */
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import pLimit from "p-limit";
import { readOwnedLines, splitLines, type RangeReader } from "./lines.js";
import { splitPoints } from "./split.js";
import type { ObjectRef } from "../job/index.js";
import type { ChunkSource, ObjectPart } from "../types.js";
import type { Listed } from "./listed.js";


/**
 * lines() over listed objects: the splittable bytes are one stream cut into byte ranges, each
 * range owning the lines that start in it, object by object; a gzip object is a chunk of its own.
 */
export function planObjectLines(listed: readonly Listed[], chunks: number): { sources: ChunkSource[]; notes: string[] } {
  const plain = listed.filter((o) => !o.gzip && o.size > 0);
  const gz = listed.filter((o) => o.gzip);
  const total = plain.reduce((n, o) => n + o.size, 0);
  const notes: string[] = [];
  if (gz.length) notes.push(`${gz.length} gzip object${gz.length === 1 ? "" : "s"} cannot be split by byte range: each is read whole by one chunk of its own`);
  const k = total === 0 ? 0 : Math.min(total, Math.max(1, chunks - gz.length));
  const pts = splitPoints(total, k);
  const sources: ChunkSource[] = [];
  let obj = 0;
  let objStart = 0;
  for (let i = 0; i < k; i++) {
    const a = pts[i]!;
    const b = pts[i + 1]!;
    const parts: ObjectPart[] = [];
    while (obj < plain.length && objStart + plain[obj]!.size <= a) objStart += plain[obj++]!.size;
    for (let j = obj, off = objStart; j < plain.length && off < b; off += plain[j]!.size, j++) {
      const o = plain[j]!;
      parts.push({ url: o.url, etag: o.etag, size: o.size, start: Math.max(a, off) - off, end: Math.min(b, off + o.size) - off });
    }
    sources.push({ kind: "object-lines", parts });
  }
  for (const o of gz) sources.push({ kind: "object-lines", parts: [{ url: o.url, etag: o.etag, size: o.size, start: 0, end: o.size, gzip: true }] });
  return { sources, notes };
}

/**
 * Split items of these weights into at most k contiguous, non-empty groups of about equal
 * total weight. Returns the k+1 group boundaries.
 */
function balancePoints(weights: readonly number[], k: number): number[] {
  const n = weights.length;
  const groups = Math.min(k, n);
  const total = weights.reduce((s, w) => s + w, 0);
  const pts = [0];
  let j = 0;
  let cum = 0;
  for (let c = 1; c < groups; c++) {
    const target = (total * c) / groups;
    const last = n - (groups - c);
    while (j < pts[c - 1]! + 1) cum += weights[j++]!;
    // Take the next item while its middle lies before the target.
    while (j < last && cum + weights[j]! / 2 < target) cum += weights[j++]!;
    pts.push(j);
  }
  if (n > 0) pts.push(n);
  return pts;
}

/** Per-object cost besides its bytes (a request), so many empty objects still spread out. */
const OBJECT_WEIGHT = 16 * 1024;

/** objects()/files(): one ObjectRef per object, chunks balanced by bytes. */
export function planObjectItems(listed: readonly Listed[], chunks: number): ObjectRef[][] {
  const refs: ObjectRef[] = listed.map((o) => ({ url: o.url, key: o.key, size: o.size, etag: o.etag }));
  const pts = balancePoints(listed.map((o) => o.size + OBJECT_WEIGHT), chunks);
  const out: ObjectRef[][] = [];
  for (let i = 0; i + 1 < pts.length; i++) out.push(refs.slice(pts[i], pts[i + 1]));
  return out;
}


/** A listed object (or bytes [start, end) of it) as a stream. */
async function openObject(url: string, etag: string, range?: { start: number; end: number }): Promise<Readable> {
  if (url.startsWith("s3://")) return (await import("../store/s3-data.js")).streamS3(url, etag, range);
  return (await import("./files.js")).streamFile(url, etag, range);
}

/** ctx.read: an object of the chunk's listing, streamed from where it lives, pinned to its etag. */
export async function* readObject(obj: ObjectRef, range?: { start: number; end: number }): AsyncIterable<Uint8Array> {
  if (!obj || typeof obj.url !== "string" || typeof obj.etag !== "string") {
    throw new TypeError("ctx.read(obj): obj must be one of the chunk's objects (from objects() or files())");
  }
  yield* await openObject(obj.url, obj.etag, range);
}

async function linesOfPart(p: ObjectPart): Promise<string[]> {
  if (p.gzip) {
    const bufs: Buffer[] = [];
    for await (const b of (await openObject(p.url, p.etag)).pipe(createGunzip())) bufs.push(b as Buffer);
    return splitLines(Buffer.concat(bufs).toString("utf8"));
  }
  return readOwnedLines(rangeReader(p.url, p.etag), p.url, p.start, p.end, p.size);
}

/**
 * An object's bytes for readOwnedLines: an S3 object's ranged GET streamed, so its lines are
 * cut as the body arrives (no buffer of the whole range: bench/run.js, case g); a local file read whole.
 */
function rangeReader(url: string, etag: string): RangeReader {
  if (url.startsWith("s3://")) return { streamRange: (_key, start, end) => openObject(url, etag, { start, end }) };
  return { getRange: async (_key, start, end) => (await import("./files.js")).readFileRange(url, etag, start, end) };
}

/** Parts read at once by one chunk (a prefix of small objects is many GETs). */
const PART_READS = 16;

/** The lines a chunk's parts own, in part order. */
export async function readObjectLines(parts: readonly ObjectPart[]): Promise<string[]> {
  const limit = pLimit(PART_READS);
  const each = await Promise.all(parts.map((p) => limit(() => linesOfPart(p))));
  // Not each.flat(): V8's flat copies element by element, about 40 ms per 175,000 lines; concat copies in bulk (bench/run.js, case g).
  return each.length === 1 ? each[0]! : ([] as string[]).concat(...each);
}
