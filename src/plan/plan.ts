import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { JobLoadError, UsageError } from "../errors.js";
import type { InputSpec } from "../job/index.js";
import { keys } from "../store/keys.js";
import type { ObjectStore } from "../store/types.js";
import { toJson } from "../serialize.js";
import type { ChunkSource, InputListing } from "../types.js";
import { hashFile } from "../util/hash-file.js";
import pLimit from "p-limit";
import type { UserS3Access } from "../store/s3-data.js";
import { listFolder, listGlob, storedFiles } from "./files.js";
import type { Listed, ListedInputs } from "./listed.js";
import { planObjectItems, planObjectLines } from "./objects.js";
import { planRunInput } from "./run-input.js";
import { listS3Input } from "./s3.js";
import { splitPoints } from "./split.js";

/** Chunk payloads up to this size ride inside the task; larger ones are read from the store. */
const INLINE_PAYLOAD_BYTES = 8 * 1024;
/**
 * A chunk's payload is read whole into its worker's memory (Lambda's can be 128 MB): past
 * this, no worker can be counted on to hold it. Big data belongs in a file read with lines().
 */
const MAX_CHUNK_PAYLOAD_BYTES = 50 * 1024 * 1024;

export interface Plan {
  /** Per chunk, the source as it is stored in payloads.jsonl (values inline)... */
  lines: string[];
  /** ...and the same source as an object, so a new run need not parse its own lines back. */
  sources: ChunkSource[];
  /** Local files to upload before the run: store key -> path. */
  uploads: Map<string, string>;
  /** Said to the user when the plan differs from what was asked (fewer chunks). */
  notes: string[];
  /** The objects an S3 or folder input listed, for the manifest. */
  listing?: InputListing;
}

/** Where the planned chunks will run, as far as planning cares. */
export interface PlanOptions {
  /** The caller's AWS profile and region, for listing s3:// inputs (see userS3Access). */
  s3?: UserS3Access;
  /**
   * The workers cannot read this machine's files (aws, emulated): local files() and lines()
   * of a folder are uploaded to the run store by content hash, as a lines() file always is.
   */
  remote?: boolean;
}

/**
 * Turn a job's input into chunk payloads. Runs in the calling process: a function input is
 * called here, once; a lines() file is hashed and uploaded once, then each chunk names only a
 * byte range of it.
 */
export async function planChunks(spec: InputSpec, chunks: number, cwd: string, store?: ObjectStore, opts: PlanOptions = {}): Promise<Plan> {
  const notes: string[] = [];
  // Fewer chunks than asked when the input has fewer units than --chunks; said in a note.
  const fewer = (have: number, unit: string) => {
    if (have < chunks) notes.push(`the input has only ${have} ${unit}, so ${have} chunks are used instead of ${chunks}`);
    return Math.min(chunks, have);
  };
  switch (spec.kind) {
    case "range":
      return { ...planRange(spec.start, spec.end, fewer), notes };
    case "items":
      return { ...planItems(await inputList(spec.items), fewer), notes };
    case "lines":
      return planLinesInput(spec.path, cwd, chunks, fewer, notes, opts);
    case "objects": {
      const listed = await listS3Input(spec.url, { heads: false, what: "objects", ...(spec.match !== undefined ? { match: spec.match } : {}), ...s3Of(opts) });
      return listedPlan(spec.url, { listed, uploads: new Map() }, chunks, "objects");
    }
    case "files":
      return listedPlan(spec.pattern, await reachable(listGlob(spec.pattern, cwd), opts), chunks, "objects");
    case "run": {
      // Only a run's own store holds the run read from (the sequential baseline has none).
      if (!store) throw new UsageError(`fromRun("${spec.runId}") needs the store of that run`, "run it with fanout run (the baseline cannot read another run)");
      const sources = await planRunInput(store, spec.runId, fewer);
      return { lines: sources.map((src) => JSON.stringify(src)), sources, uploads: new Map(), notes };
    }
  }
}

type Fewer = (have: number, unit: string) => number;
type Planned = Omit<Plan, "notes">;

/** Contiguous integer ranges; the payload is just the bounds. */
function planRange(from: number, to: number, fewer: Fewer): Planned {
  const n = to - from;
  const pts = splitPoints(n, fewer(n, "integers"));
  const lines: string[] = [];
  const sources: ChunkSource[] = [];
  for (let i = 0; i + 1 < pts.length; i++) {
    const start = from + pts[i]!;
    const end = from + pts[i + 1]!;
    lines.push(`{"kind":"inline","value":{"start":${start},"end":${end}}}`);
    sources.push({ kind: "inline", value: { start, end } });
  }
  return { lines, sources, uploads: new Map() };
}

/** The job's item list: given, or made once here by its input function. */
async function inputList(items: readonly unknown[] | (() => readonly unknown[] | Promise<readonly unknown[]>)): Promise<readonly unknown[]> {
  let list: readonly unknown[];
  try {
    list = typeof items === "function" ? await items() : items;
  } catch (err) {
    throw new JobLoadError(`the job's input function threw: ${(err as Error)?.message ?? String(err)}`, "fix the input function", err);
  }
  if (!Array.isArray(list)) throw new JobLoadError("the job's input function did not return an array", "return an array from it");
  return list;
}

/** Contiguous slices of the item list, each checked to be JSON and not too large. */
function planItems(list: readonly unknown[], fewer: Fewer): Planned {
  const k = fewer(list.length, "items");
  const pts = splitPoints(list.length, k);
  const lines: string[] = [];
  const sources: ChunkSource[] = [];
  for (let i = 0; i < k; i++) {
    const slice = list.slice(pts[i], pts[i + 1]);
    lines.push(`{"kind":"inline","value":${sliceJson(slice, i, k < list.length)}}`);
    sources.push({ kind: "inline", value: slice });
  }
  return { lines, sources, uploads: new Map() };
}

function sliceJson(slice: unknown[], i: number, canSplitMore: boolean): string {
  let json: string;
  try {
    json = toJson(slice, `input chunk ${i}`);
  } catch (err) {
    throw new JobLoadError((err as Error).message, "make the input plain JSON data", err);
  }
  if (json.length > MAX_CHUNK_PAYLOAD_BYTES) {
    throw new UsageError(
      `chunk ${i}'s payload is ${(json.length / 1048576).toFixed(1)} MB; a chunk can take at most ${MAX_CHUNK_PAYLOAD_BYTES / 1048576} MB`,
      canSplitMore ? "use more --chunks so each holds less" : "put large data in a file and read it with lines(), or pass a key and fetch it inside map",
    );
  }
  return json;
}

const s3Of = (opts: PlanOptions) => (opts.s3 ? { access: opts.s3 } : {});

/** Listed local files the workers can read: in place on this machine, else uploaded to the run store by hash. */
async function reachable(listed: Listed[], opts: PlanOptions): Promise<ListedInputs> {
  return opts.remote ? storedFiles(listed) : { listed, uploads: new Map() };
}

/** lines() of an S3 object or prefix, a local folder, or one local file. */
async function planLinesInput(spec: string, cwd: string, chunks: number, fewer: Fewer, notes: string[], opts: PlanOptions): Promise<Plan> {
  if (spec.startsWith("s3://")) return listedPlan(spec, { listed: await listS3Input(spec, { heads: true, what: "lines", ...s3Of(opts) }), uploads: new Map() }, chunks, "lines");
  const file = spec.startsWith("file:") ? fileURLToPath(spec) : path.resolve(cwd, spec);
  if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
    const listed = listFolder(file, cwd);
    if (listed.length === 0) throw new UsageError(`lines() input folder has no files: ${spec}`, "check the path, or put the input files in it");
    return listedPlan(spec, await reachable(listed, opts), chunks, "lines");
  }
  return { ...(await planLines(spec, file, cwd, fewer)), notes };
}

/** Byte ranges of one file, uploaded once by its hash; each chunk owns the lines starting in its range. */
async function planLines(spec: string, file: string, cwd: string, fewer: Fewer): Promise<Planned> {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    throw new UsageError(`lines() input file not found: ${spec}`, `check the path (it is resolved from ${cwd})`);
  }
  const key = keys.input(await hashFile(file));
  const pts = splitPoints(size, size === 0 ? 0 : fewer(size, "bytes"));
  const lines: string[] = [];
  const sources: ChunkSource[] = [];
  for (let i = 0; i + 1 < pts.length; i++) {
    const src: ChunkSource = { kind: "lines", key, start: pts[i]!, end: pts[i + 1]!, size };
    lines.push(JSON.stringify(src));
    sources.push(src);
  }
  return { lines, sources, uploads: new Map([[key, file]]) };
}

/** A plan over listed objects: their lines by byte ranges, or the objects themselves as items. */
function listedPlan(url: string, { listed, uploads }: ListedInputs, chunks: number, shape: "lines" | "objects"): Plan {
  const listing: InputListing = { url, objects: listed.map((o) => ({ key: o.key, size: o.size, etag: o.etag })) };
  if (shape === "lines") {
    const { sources, notes } = planObjectLines(listed, chunks);
    return { lines: sources.map((src) => JSON.stringify(src)), sources, uploads, notes, listing };
  }
  const groups = planObjectItems(listed, chunks);
  const notes = groups.length < chunks ? [`the input has only ${listed.length} objects, so ${groups.length} chunks are used instead of ${chunks}`] : [];
  const sources: ChunkSource[] = groups.map((value) => ({ kind: "inline", value }));
  return { lines: groups.map((g) => `{"kind":"inline","value":${JSON.stringify(g)}}`), sources, uploads, notes, listing };
}

const INLINE_PREFIX = '{"kind":"inline","value":';

/**
 * A payloads.jsonl line too large to ride inside its task becomes a byte range of the stored
 * object (the value part of the line), so its worker reads only its own slice.
 */
function storedIfLarge(source: ChunkSource, lineStart: number, lineBytes: number, key: string): ChunkSource {
  if (lineBytes <= INLINE_PAYLOAD_BYTES || source.kind !== "inline") return source;
  const offset = lineStart + INLINE_PREFIX.length;
  return { kind: "stored", key, offset, length: lineStart + lineBytes - 1 - offset };
}

/** A new run's payloads object and its task sources, from the planned lines. */
export function encodePayloads(lines: readonly string[], sources: readonly ChunkSource[], key: string): { body: Buffer; sources: ChunkSource[] } {
  const body = Buffer.from(lines.length ? lines.join("\n") + "\n" : "");
  // A UTF-16 unit is at most 3 UTF-8 bytes: when no line can pass the limit, offsets are moot.
  if (lines.every((l) => l.length * 3 <= INLINE_PAYLOAD_BYTES)) return { body, sources: [...sources] };
  const out: ChunkSource[] = new Array(lines.length);
  let pos = 0;
  for (let i = 0; i < lines.length; i++) {
    const bytes = Buffer.byteLength(lines[i]!);
    out[i] = storedIfLarge(sources[i]!, pos, bytes, key);
    pos += bytes + 1;
  }
  return { body, sources: out };
}

/** The task sources of a stored payloads.jsonl body (a resumed run), as encodePayloads made them. */
export function sourcesFromPayloads(body: Buffer, payloadsKey: string): ChunkSource[] {
  const out: ChunkSource[] = [];
  let pos = 0;
  while (pos < body.length) {
    let nl = body.indexOf(0x0a, pos);
    if (nl === -1) nl = body.length;
    const len = nl - pos;
    // A large line is not parsed here: only its worker needs the value.
    const source: ChunkSource =
      len > INLINE_PAYLOAD_BYTES && body.toString("utf8", pos, pos + INLINE_PREFIX.length) === INLINE_PREFIX
        ? { kind: "inline", value: undefined }
        : (JSON.parse(body.toString("utf8", pos, nl)) as ChunkSource);
    out.push(storedIfLarge(source, pos, len, payloadsKey));
    pos = nl + 1;
  }
  return out;
}

/** Inputs uploaded at once: a folder of small files is many requests, each mostly waiting. */
const UPLOADS_AT_ONCE = 16;

/** Upload each input the store lacks (keys are content hashes: one already there is the same bytes). */
export async function uploadInputs(store: ObjectStore, uploads: Map<string, string>): Promise<void> {
  const limit = pLimit(UPLOADS_AT_ONCE);
  await Promise.all(
    [...uploads].map(([key, file]) =>
      limit(async () => {
        if (!(await store.exists(key))) await store.putFile(key, file);
      }),
    ),
  );
}
