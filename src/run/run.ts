import { fileURLToPath } from "node:url";
import { bundleJob } from "./bundle.js";
import { addBuild } from "./builds.js";
import { FanoutError, JobLoadError, RunNotFoundError, UsageError } from "../errors.js";
import { followUpFlags, resumeCmd } from "../util/follow-up.js";
import { isJob, type Job } from "../job/index.js";
import { isRunId, keys, newRunId } from "../store/keys.js";
import { RunResults } from "../store/results.js";
import { retrying } from "../store/retrying.js";
import { checkBackend, positiveInt, resolveOptions } from "../options.js";
import { encodePayloads, planChunks, sourcesFromPayloads, uploadInputs } from "../plan/plan.js";
import type { ChunkSource, RunManifest, RunSummary } from "../types.js";
import { executeRun } from "./execute.js";
import { newManifest, readManifest } from "./manifest.js";
import { checkSamePlan, describe, openBackendFor, storeAndImport } from "./prepare.js";
import type { MapItem, MapOptions, RunOptions, RunResult } from "./types.js";

/**
 * Run a job module: bundle it, split its input into chunks, run one worker invocation per
 * chunk on the chosen backend, reduce, and return the result with the run's summary.
 */
export async function run<O = unknown>(job: string | URL, options: RunOptions = {}): Promise<RunResult<O>> {
  const cwd = options.cwd ?? process.cwd();
  const file = typeof job === "string" ? job : fileURLToPath(job);
  const t0 = Date.now();
  const bundle = await bundleJob(file, cwd);
  const backendName = checkBackend(options.backend);
  if (options.chunks !== undefined) positiveInt("chunks", options.chunks);
  if (options.rebuild && options.resume === undefined) {
    throw new UsageError("--rebuild only applies with --resume <runId>", "add --resume <runId> to finish that run with the new build, or drop --rebuild");
  }
  if (options.resume !== undefined && !isRunId(options.resume)) {
    throw new RunNotFoundError(options.resume, "this store (run ids look like 20261127T044612Z-k3j9xq)");
  }
  // Options are checked before any process starts, so a bad flag costs nothing.
  const preliminary = resolveOptions(options, {});
  const backend = await openBackendFor(backendName, cwd, options, preliminary);
  try {
    const store = backend.store;
    const { bundleKey, mod } = await storeAndImport(store, bundle);
    const jobValue = mod.default;
    if (jobValue === undefined) {
      throw new JobLoadError(`${file} has no default export`, "end the module with `export default defineJob({ input, map, reduce })`");
    }
    if (!isJob(jobValue)) {
      throw new JobLoadError(
        `the default export of ${file} is not a job (it is ${describe(jobValue)})`,
        'export default defineJob({ ... }) from "fanout"',
      );
    }
    const theJob = jobValue as Job;
    let runId: string;
    let manifest: RunManifest;
    let sources: ChunkSource[];
    let rebuilt = false;
    if (options.resume) {
      runId = options.resume;
      manifest = await readManifest(store, runId);
      const stored = await store.get(manifest.payloadsKey);
      if (manifest.job.bundleSha256 !== bundle.sha256) {
        const ref = { runId, jobPath: file, flags: followUpFlags(backend.name, options.store) };
        if (!options.rebuild) {
          throw new FanoutError(
            "E_RESUME_MISMATCH",
            `run ${runId} was made from a different build of the job (bundle ${manifest.job.bundleSha256.slice(0, 12)}, now ${bundle.sha256.slice(0, 12)})`,
            { hint: `to keep its results and run the rest with the new build: ${resumeCmd(ref, true)}; or start a new run without --resume`, exitCode: 2 },
          );
        }
        await checkSamePlan(theJob, manifest, stored, cwd);
        addBuild(manifest, bundleKey, bundle.sha256, await retrying(() => new RunResults(store, runId).done()));
        rebuilt = true;
      }
      sources = sourcesFromPayloads(stored, manifest.payloadsKey);
      manifest.options = { ...resolveOptions(options, theJob.defaults, manifest.chunks) };
      backend.setMemory?.(manifest.options.memoryMb);
    } else {
      const chunks = positiveInt("chunks", options.chunks ?? theJob.defaults.chunks ?? 100);
      const plan = await planChunks(theJob.input, chunks, cwd);
      for (const n of plan.notes) options.onNotice?.(n);
      const resolved = resolveOptions(options, theJob.defaults, plan.lines.length);
      backend.setMemory?.(resolved.memoryMb);
      runId = newRunId();
      await uploadInputs(store, plan.uploads);
      const payloads = encodePayloads(plan.lines, plan.sources, keys.payloads(runId));
      sources = payloads.sources;
      await store.put(keys.payloads(runId), payloads.body);
      manifest = newManifest(runId, backend.name, file, "default", bundleKey, bundle.sha256, plan.lines.length, [...plan.uploads.keys()], resolved);
    }
    return await executeRun<O>({ store, backend, manifest, sources, reduce: theJob.reduce, t0, options, rebuilt });
  } finally {
    await backend.close();
  }
}

/**
 * Call one exported function of a module once per input, on the chosen backend, and return
 * the results in input order. The function gets `(input, ctx)` like a job's map.
 */
export async function map<I, R>(
  module: string | URL,
  exportName: string,
  inputs: readonly I[],
  options: MapOptions = {},
): Promise<Awaited<R>[]> {
  const results = new Array<Awaited<R>>(inputs.length);
  for await (const r of mapIter<I, R>(module, exportName, inputs, options)) results[r.index] = r.value;
  return results;
}

/** Like `map`, but yields each result as soon as it is finished (not in input order). */
export async function* mapIter<I, R>(
  module: string | URL,
  exportName: string,
  inputs: readonly I[],
  options: MapOptions = {},
): AsyncGenerator<MapItem<Awaited<R>>, RunSummary, undefined> {
  const cwd = options.cwd ?? process.cwd();
  const file = typeof module === "string" ? module : fileURLToPath(module);
  const t0 = Date.now();
  const bundle = await bundleJob(file, cwd);
  const backendName = checkBackend(options.backend);
  const resolved = resolveOptions(options, {}, inputs.length);
  const backend = await openBackendFor(backendName, cwd, options, resolved);
  try {
    const store = backend.store;
    const { bundleKey, mod } = await storeAndImport(store, bundle);
    if (typeof mod[exportName] !== "function") {
      throw new JobLoadError(`${file} has no exported function "${exportName}"`, `export function ${exportName}(input) { ... }`);
    }
    const { toJson } = await import("../serialize.js");
    const lines = inputs.map((v, i) => `{"kind":"inline","value":${toJson(v, `input ${i}`)}}`);
    const runId = newRunId();
    const payloads = encodePayloads(
      lines,
      inputs.map((value) => ({ kind: "inline", value })),
      keys.payloads(runId),
    );
    await store.put(keys.payloads(runId), payloads.body);
    const manifest = newManifest(runId, backend.name, file, exportName, bundleKey, bundle.sha256, inputs.length, [], resolved);

    // Results are handed from the executor's callback to this generator through a queue.
    const queue: MapItem<Awaited<R>>[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    const pending = executeRun<unknown>({
      store,
      backend,
      manifest,
      sources: payloads.sources,
      reduce: undefined,
      t0,
      options,
      onValue: (index, value) => {
        queue.push({ index, value: value as Awaited<R> });
        wake?.();
      },
    }).finally(() => {
      finished = true;
      wake?.();
    });
    pending.catch(() => {});
    for (;;) {
      while (queue.length) yield queue.shift()!;
      if (finished) break;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
    while (queue.length) yield queue.shift()!;
    return (await pending).summary;
  } finally {
    await backend.close();
  }
}
