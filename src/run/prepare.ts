import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { openBackend } from "../compute/open.js";
import type { Backend } from "../compute/types.js";
import { FanoutError, JobLoadError } from "../errors.js";
import type { Job } from "../job/index.js";
import type { BackendName, CommonOptions } from "../options.js";
import { encodePayloads, planChunks } from "../plan/plan.js";
import { keys } from "../store/keys.js";
import type { ObjectStore } from "../store/types.js";
import type { RunManifest, RunOptionsResolved } from "../types.js";
import { cachedBundleFile, defaultBundleCacheDir } from "../util/bundle-cache.js";
import type { Bundle } from "./bundle.js";

/**
 * A rebuilt job may mix its results with the old build's only if it splits the same input into
 * the same chunks: each chunk's payload (and every uploaded input) must be byte for byte the same.
 */
export async function checkSamePlan(job: Job, manifest: RunManifest, stored: Buffer, cwd: string): Promise<void> {
  const plan = await planChunks(job.input, manifest.chunks, cwd);
  const payloads = encodePayloads(plan.lines, plan.sources, manifest.payloadsKey);
  const inputs = [...plan.uploads.keys()].sort().join();
  let what: string | undefined;
  if (plan.lines.length !== manifest.chunks) what = `it now makes ${plan.lines.length} chunks, not ${manifest.chunks}`;
  else if (inputs !== [...manifest.inputKeys].sort().join()) what = "its input files changed";
  else if (!payloads.body.equals(stored)) what = "its chunks' inputs changed";
  if (what) {
    throw new FanoutError("E_RESUME_INPUT", `cannot resume run ${manifest.runId} with the new build: ${what}`, {
      hint: "results of different inputs cannot be mixed; start a new run without --resume",
      exitCode: 2,
    });
  }
}

export function openBackendFor(backend: BackendName, cwd: string, options: CommonOptions, resolved: RunOptionsResolved): Promise<Backend> {
  return openBackend({
    backend,
    cwd,
    memoryMb: options.memory ?? resolved.memoryMb,
    concurrency: options.concurrency ?? resolved.concurrency,
    ...(options.store ? { store: options.store } : {}),
    ...(options.processes ? { processes: options.processes } : {}),
    ...(options.aws ? { aws: options.aws } : {}),
  });
}

/** Put the bundle in the store (once per content hash) and import it here too. */
export async function storeAndImport(store: ObjectStore, bundle: Bundle): Promise<{ bundleKey: string; mod: Record<string, unknown> }> {
  const bundleKey = keys.bundle(bundle.sha256);
  if (!(await store.exists(bundleKey))) await store.put(bundleKey, bundle.code);
  return { bundleKey, mod: await importBundle(store, bundleKey, bundle) };
}

let imports = 0;

/** Import the bundle in this process too: the input and reduce live in the job module. */
async function importBundle(store: ObjectStore, key: string, bundle: Bundle): Promise<Record<string, unknown>> {
  let file = store.localPath?.(key);
  file ??= cachedBundleFile(defaultBundleCacheDir(), bundle.sha256, bundle.code);
  try {
    // A fresh instance per run: the module's top level (inputs built from env, files read
    // at import) must see this run's world, not the first run's in this process.
    return (await import(`${pathToFileURL(file).href}?run=${++imports}`)) as Record<string, unknown>;
  } catch (err) {
    throw new JobLoadError(`loading ${path.relative(process.cwd(), bundle.entry) || bundle.entry} threw: ${(err as Error)?.message ?? String(err)}`, "fix the error in the job module's top-level code", err);
  }
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "function") return "a function; wrap it: defineJob({ input, map: yourFunction })";
  if (typeof v === "object") return "an object not made by defineJob";
  return `a ${typeof v}`;
}
