/**
 * Listed objects (S3 or local files) into chunks: lines() over byte ranges of the objects as
 * one stream, objects()/files() as items balanced by bytes; and the worker-side reads of them.
 */
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import pLimit from "p-limit";
import { readOwnedLines, splitLines, type RangeReader } from "./lines.js";
import { splitPoints } from "./split.js";
import { INPUT_GZIP } from "../errors.js";
import type { ObjectRef } from "../job/index.js";
import type { ChunkSource, ObjectPart } from "../types.js";
import type { ObjectStore } from "../store/types.js";
import { HEAD_AT_MOST, storedKey, type Listed } from "./listed.js";


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

/** The run store, where a `store:` URL's object is (a local file uploaded for remote workers). */
type RunStore = Pick<ObjectStore, "getRange">;

function runStore(store: RunStore | undefined, url: string): RunStore {
  if (!store) throw new Error(`${url} is an input in the run store, and this reader has no store`);
  return store;
}

/** Bytes [start, end) of a listed object in the run store or a local file (S3 objects are streamed: rangeReader). */
async function readRange(url: string, etag: string, start: number, end: number, store: RunStore | undefined): Promise<Buffer> {
  const key = storedKey(url);
  // Stored under its content hash: it cannot have changed since it was listed.
  if (key !== undefined) return runStore(store, url).getRange(key, start, end);
  return (await import("./files.js")).readFileRange(url, etag, start, end);
}

/** Bytes read per request when a stored input is streamed. */
const STORED_WINDOW = 8 * 1024 * 1024;

/** Bytes [start, end) of a run store object, a window at a time. */
async function* storedBytes(store: RunStore, key: string, start: number, end: number): AsyncGenerator<Buffer> {
  for (let at = start; at < end; at += STORED_WINDOW) yield await store.getRange(key, at, Math.min(end, at + STORED_WINDOW));
}

/** A listed object of `size` bytes (or bytes [start, end) of it) as a stream. */
async function openObject(url: string, etag: string, size: number, range: { start: number; end: number } | undefined, store: RunStore | undefined): Promise<Readable> {
  const key = storedKey(url);
  if (key !== undefined) return Readable.from(storedBytes(runStore(store, url), key, range?.start ?? 0, Math.min(size, range?.end ?? size)));
  if (url.startsWith("s3://")) return (await import("../store/s3-data.js")).streamS3(url, etag, range);
  return (await import("./files.js")).streamFile(url, etag, range);
}

/**
 * ctx.read: an object of the chunk's listing, streamed from where it lives, pinned to its etag.
 * `store`: the run's, for local files uploaded there for remote workers.
 */
export async function* readObject(obj: ObjectRef, range?: { start: number; end: number }, store?: RunStore): AsyncIterable<Uint8Array> {
  if (!obj || typeof obj.url !== "string" || typeof obj.etag !== "string") {
    throw new TypeError("ctx.read(obj): obj must be one of the chunk's objects (from objects() or files())");
  }
  yield* await openObject(obj.url, obj.etag, obj.size, range, store);
}

/** An object planned as text whose bytes are gzip's: its byte ranges cannot be split into lines. */
class GzipInputError extends Error {
  override name = "GzipInputError";
  /** The run stops on it: the other chunks' ranges of this object are compressed bytes (src/exec/policy.ts fatalOf). */
  readonly code = INPUT_GZIP;
  constructor(url: string) {
    super(
      `${url} holds gzip data but was planned as plain text (gzip is known by a .gz name, or on S3 by Content-Encoding when a listing has at most ${HEAD_AT_MOST} objects), so its byte ranges cannot be split into lines — give it a name ending in .gz: such objects are read whole, one chunk each`,
    );
  }
}

/** gzip's magic number (RFC 1952, 2.3.1): no text line starts with these two bytes. */
function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

async function linesOfPart(p: ObjectPart, store: RunStore | undefined): Promise<string[]> {
  if (p.gzip) {
    const bufs: Buffer[] = [];
    for await (const b of (await openObject(p.url, p.etag, p.size, undefined, store)).pipe(createGunzip())) bufs.push(b as Buffer);
    return splitLines(Buffer.concat(bufs).toString("utf8"));
  }
  return readOwnedLines(rangeReader(p, store), p.url, p.start, p.end, p.size);
}

/**
 * A part's bytes for readOwnedLines: an S3 object's ranged GET streamed, so its lines are cut
 * as the body arrives (no buffer of the whole range: bench/run.js, case g); a run store object
 * or a local file read whole. The chunk that owns an object's first byte checks it is not gzip
 * (S3 serves a Content-Encoding: gzip object's bytes as stored).
 */
function rangeReader(p: ObjectPart, store: RunStore | undefined): RangeReader {
  if (p.url.startsWith("s3://")) {
    return {
      streamRange: async (_key, s, e) => {
        const body = await openObject(p.url, p.etag, p.size, { start: s, end: e }, store);
        return s === 0 ? notGzip(body, p.url) : body;
      },
    };
  }
  return {
    getRange: async (_key, s, e) => {
      const buf = await readRange(p.url, p.etag, s, e, store);
      if (s === 0 && isGzip(buf)) throw new GzipInputError(p.url);
      return buf;
    },
  };
}

/** An object's bytes from its start, refused once their first two are gzip's. */
async function* notGzip(pieces: AsyncIterable<Uint8Array>, url: string): AsyncIterable<Uint8Array> {
  let head: Buffer | undefined = Buffer.alloc(0);
  for await (const piece of pieces) {
    if (!head) {
      yield piece;
      continue;
    }
    head = Buffer.concat([head, piece]);
    if (head.length < 2) continue;
    if (isGzip(head)) throw new GzipInputError(url);
    yield head;
    head = undefined;
  }
  if (head?.length) yield head;
}

/** Parts read at once by one chunk (a prefix of small objects is many GETs). */
const PART_READS = 16;

/** The lines a chunk's parts own, in part order. */
export async function readObjectLines(parts: readonly ObjectPart[], store?: RunStore): Promise<string[]> {
  const limit = pLimit(PART_READS);
  const each = await Promise.all(parts.map((p) => limit(() => linesOfPart(p, store))));
  // Not each.flat(): V8's flat copies element by element, about 40 ms per 175,000 lines; concat copies in bulk (bench/run.js, case g).
  return each.length === 1 ? each[0]! : ([] as string[]).concat(...each);
}
