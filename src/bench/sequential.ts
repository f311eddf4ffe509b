/**
 * The sequential baseline of `fanout bench`: the job's map over every chunk (or an evenly
 * spaced sample) in this process, one chunk after another, with the chunks planned and
 * resolved exactly as a run's workers get them (same planner, same inline/stored/lines
 * sources, read from a folder store in a temp dir). Values go through JSON like a worker's
 * reply, so the result can be compared with a run's for deep equality.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { bundleJob } from "../run/bundle.js";
import { storeAndImport } from "../run/import-bundle.js";
import { JobLoadError } from "../errors.js";
import { notAJob, notAnAsset } from "../job/check.js";
import type { ChunkContext, Job } from "../job/index.js";
import { positiveInt } from "../options.js";
import { planAssets } from "../plan/assets.js";
import { planChunks, sourcesFromPayloads, uploadInputs } from "../plan/plan.js";
import { readObject } from "../plan/objects.js";
import { resolveChunk } from "../plan/source.js";
import { toJson } from "../serialize.js";
import type { ObjectStore } from "../store/types.js";
import type { ChunkSource } from "../types.js";
import { FolderStore } from "../store/folder.js";

export interface SequentialOptions {
  /** Chunks to split the input into (default: the job's, else 100), as for run(). */
  chunks?: number;
  /** Run only this many evenly spaced chunks and extrapolate the wall time. */
  sample?: number;
  cwd?: string;
  /** Keep the job's console output (default: dropped, like a worker's, so --json stays clean). */
  echoConsole?: boolean;
}

export interface SequentialResult {
  /** reduce(values), or the values; undefined when sampled (reduce needs every chunk). */
  result: unknown;
  /** Per planned chunk: its value, or undefined when the chunk was not in the sample. */
  values: unknown[];
  /** Chunk indices that were run, ascending. */
  ran: number[];
  chunks: number;
  sampled: boolean;
  /** Map time of each chunk that ran (same order as `ran`), ms. */
  chunkMs: number[];
  /** Sum of chunkMs. */
  sumChunkMs: number;
  /** Bundling, importing, planning and uploading inputs, ms. */
  setupMs: number;
  /** Resolving and mapping the chunks that ran, one after another (plus reduce), ms. */
  loopMs: number;
  /** setupMs + loopMs, measured. */
  measuredWallMs: number;
  /** The wall time of all chunks: measured, or with a sample, setupMs + loopMs * chunks / ran. */
  wallMs: number;
}

/** `k` evenly spaced indices of [0, n): the first and last included when k >= 2. */
export function sampleIndices(n: number, k: number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  if (k <= 1) return [Math.floor((n - 1) / 2)];
  const out = new Set<number>();
  for (let j = 0; j < k; j++) out.add(Math.round((j * (n - 1)) / (k - 1)));
  return [...out].sort((a, b) => a - b);
}

/** Run a job module's map over its chunks in this process, one at a time. */
export async function runSequential(job: string | URL, opts: SequentialOptions = {}): Promise<SequentialResult> {
  const cwd = opts.cwd ?? process.cwd();
  const file = typeof job === "string" ? job : fileURLToPath(job);
  if (opts.sample !== undefined) positiveInt("baseline-sample", opts.sample);
  const t0 = performance.now();
  const bundle = await bundleJob(file, cwd);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-seq-"));
  try {
    const store = new FolderStore(dir);
    const { mod } = await storeAndImport(store, bundle);
    const why = notAJob(mod.default, file);
    if (why) throw new JobLoadError(why.problem, why.fix);
    const j = mod.default as Job;
    const asked = opts.chunks ?? j.defaults.chunks ?? 100;
    positiveInt("chunks", asked);
    // The job's own files stand in for the fetched copies (the same names, checked the same way at plan time).
    const assets = (await planAssets(j.assets ?? [], path.dirname(path.resolve(cwd, file)), cwd)).files;
    const plan = await planChunks(j.input, asked, cwd);
    await uploadInputs(store, plan.uploads);
    const payloadsKey = "runs/sequential/payloads.jsonl";
    const body = Buffer.from(plan.lines.length ? plan.lines.join("\n") + "\n" : "");
    await store.put(payloadsKey, body);
    const sources = sourcesFromPayloads(body, payloadsKey);
    const n = sources.length;
    const sampled = opts.sample !== undefined && opts.sample < n;
    const ran = sampled ? sampleIndices(n, opts.sample!) : Array.from({ length: n }, (_, i) => i);
    const setupMs = performance.now() - t0;

    const loopStart = performance.now();
    const restore = opts.echoConsole ? () => {} : muteConsole();
    let mapped: { values: unknown[]; chunkMs: number[] };
    let result: unknown;
    try {
      mapped = await mapChunks(j, sources, store, ran, assets);
      result = sampled ? undefined : j.reduce ? await j.reduce(mapped.values, { failed: [] }) : mapped.values;
    } finally {
      restore();
    }
    const loopMs = performance.now() - loopStart;
    const sumChunkMs = mapped.chunkMs.reduce((a, b) => a + b, 0);
    return {
      result,
      ...mapped,
      ran,
      chunks: n,
      sampled,
      sumChunkMs,
      setupMs,
      loopMs,
      measuredWallMs: setupMs + loopMs,
      wallMs: sampled && ran.length > 0 ? setupMs + (loopMs * n) / ran.length : setupMs + loopMs,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The baseline keeps no outputs: a job that writes cannot be timed by it. */
const noWrite = (): Promise<number> => Promise.reject(new Error("ctx.write is not available in the sequential baseline"));

/** Map the chunks in `ran` one after another, resolved and returned as a worker would. */
async function mapChunks(j: Job, sources: readonly ChunkSource[], store: ObjectStore, ran: readonly number[], assets: Map<string, string>): Promise<{ values: unknown[]; chunkMs: number[] }> {
  const values = new Array<unknown>(sources.length);
  const chunkMs: number[] = [];
  const asset = (name: string) => {
    const file = assets.get(name);
    if (file === undefined) throw new Error(notAnAsset(name, [...assets.keys()]));
    return file;
  };
  for (const index of ran) {
    const chunk = await resolveChunk(sources[index]!, store);
    const ac = new AbortController();
    const ctx: ChunkContext = { index, count: sources.length, attempt: 1, runId: "sequential", signal: ac.signal, log: () => {}, progress: () => {}, read: readObject, asset, write: noWrite };
    const s = performance.now();
    const value = await j.map(chunk, ctx);
    chunkMs.push(performance.now() - s);
    // The same JSON round trip a worker's reply makes (undefined stays undefined).
    values[index] = value === undefined ? undefined : JSON.parse(toJson(value));
  }
  return { values, chunkMs };
}

function muteConsole(): () => void {
  const methods = ["log", "info", "warn", "error", "debug"] as const;
  const saved = methods.map((m) => console[m]);
  for (const m of methods) console[m] = () => {};
  return () => methods.forEach((m, i) => (console[m] = saved[i]!));
}

/** Structural deep equality of JSON-like values (what a run's result can be). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") {
    // A worker turns an undefined map result into a missing value; null and undefined match.
    return (a === undefined || a === null) && (b === undefined || b === null);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], bb[i])) return false;
    return true;
  }
  const ka = Object.keys(a as object).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/** Where the first difference is, for the mismatch message ("result[3].count: 5 vs 6"). */
export function firstDifference(a: unknown, b: unknown, where = "result"): string | undefined {
  if (deepEqual(a, b)) return undefined;
  if (a && b && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b)) {
    if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) return `${where}: length ${a.length} vs ${b.length}`;
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], Array.isArray(a) ? `${where}[${k}]` : `${where}.${k}`);
      if (d) return d;
    }
  }
  const show = (v: unknown) => {
    const s = v === undefined ? "undefined" : JSON.stringify(v);
    return s.length > 80 ? s.slice(0, 77) + "..." : s;
  };
  return `${where}: ${show(a)} vs ${show(b)}`;
}
