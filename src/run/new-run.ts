/**
 * Starting a run afresh: a job's input planned into chunks (or map()'s inputs, one chunk each),
 * inputs and payloads uploaded, and the manifest made (written when the run starts).
 */
import * as path from "node:path";
import { fromRun, type Job } from "../job/index.js";
import { positiveInt, resolveOptions, type BackendName } from "../options.js";
import { planAssets } from "../plan/assets.js";
import { encodePayloads, planChunks, uploadInputs, type PlanOptions } from "../plan/plan.js";
import { userS3Access } from "../plan/s3.js";
import { keys, newRunId } from "../store/keys.js";
import type { ObjectStore } from "../store/types.js";
import type { AssetRef, ChunkSource, RunManifest, RunOptionsResolved } from "../types.js";
import type { Bundle } from "./bundle.js";
import type { StoredBundle } from "./import-bundle.js";
import { newManifest } from "./manifest.js";
import { resolveOutput } from "./outputs.js";
import type { RunOptions } from "./types.js";

/** A run ready to execute: its manifest and where each chunk's input is. */
export interface PlannedRun {
  manifest: RunManifest;
  sources: ChunkSource[];
  /** A resumed run that goes on with a new build of the job (`rebuild`). */
  rebuilt: boolean;
}

/** Where the job came from, for the manifest. */
export interface JobFrom {
  file: string;
  backend: string;
  bundle: Bundle;
  stored: StoredBundle;
}

/** Plan the job's input into chunks, upload inputs and payloads, and make the manifest. */
export async function newJobRun(store: ObjectStore, from: JobFrom, job: Job, options: RunOptions & { cwd: string }): Promise<PlannedRun> {
  const chunks = positiveInt("chunks", options.chunks ?? job.defaults.chunks ?? 100);
  // Before the input is planned (which may list a bucket): a missing asset costs nothing.
  const assets = await shipAssets(store, job, from.file, options.cwd);
  const input = options.inputRun !== undefined ? fromRun(options.inputRun).spec : job.input;
  const plan = await planChunks(input, chunks, options.cwd, store, planOptions(from.backend, options));
  for (const n of plan.notes) options.onNotice?.(n);
  const resolved = resolveOptions(options, job.defaults, plan.lines.length);
  const runId = newRunId();
  await uploadInputs(store, plan.uploads);
  const payloads = encodePayloads(plan.lines, plan.sources, keys.payloads(runId));
  await store.put(keys.payloads(runId), payloads.body);
  const manifest = newManifest(runId, from.backend, from.file, "default", from.stored.bundleKey, from.bundle.sha256, plan.lines.length, [...plan.uploads.keys()], resolved);
  if (plan.listing) manifest.listing = plan.listing;
  if (assets) manifest.assets = assets;
  const output = resolveOutput(options.output, from.backend as BackendName, options.cwd);
  if (output) manifest.output = output;
  return { manifest, sources: payloads.sources, rebuilt: false };
}

/** What planning needs of the run: the caller's S3 access, and whether the workers are remote. */
export function planOptions(backend: string, options: RunOptions): PlanOptions {
  return { s3: userS3Access(options.aws), remote: backend !== "local" };
}

/** One inline chunk per input of map(), calling export `exportName`. */
export async function newMapRun(store: ObjectStore, from: JobFrom, exportName: string, inputs: readonly unknown[], resolved: RunOptionsResolved): Promise<PlannedRun> {
  const { toJson } = await import("../serialize.js");
  const lines = inputs.map((v, i) => `{"kind":"inline","value":${toJson(v, `input ${i}`)}}`);
  const runId = newRunId();
  const payloads = encodePayloads(
    lines,
    inputs.map((value) => ({ kind: "inline", value })),
    keys.payloads(runId),
  );
  await store.put(keys.payloads(runId), payloads.body);
  const manifest = newManifest(runId, from.backend, from.file, exportName, from.stored.bundleKey, from.bundle.sha256, inputs.length, [], resolved);
  return { manifest, sources: payloads.sources, rebuilt: false };
}

/** The job's assets resolved from its file's folder and uploaded once by hash; undefined when it lists none. */
export async function shipAssets(store: ObjectStore, job: Job, file: string, cwd: string): Promise<Record<string, AssetRef> | undefined> {
  if (!job.assets?.length) return undefined;
  const planned = await planAssets(job.assets, path.dirname(path.resolve(cwd, file)), cwd);
  await uploadInputs(store, planned.uploads);
  return planned.assets;
}
