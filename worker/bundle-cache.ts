/**
 * Job bundles, loaded once per process: fetched from the store, checked against the task's
 * sha256, written to a cache folder where the store has no local file, and imported.
 * Not the client's src/run/import-bundle.ts, on purpose: bytes fetched from a remote store
 * are checked before they run, and every chunk in this process shares one module instance,
 * where the client imports a fresh instance per run (the job's top level reads its world).
 */
import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";
import type { DepsRef, Task } from "../src/types.js";
import { cachedBundleFile } from "../src/util/bundle-cache.js";
import { bundleDirFor } from "./deps.js";
import type { WorkerEnv } from "./env.js";

type Module = Record<string, unknown>;

/** Loads by sha256, in flight or done: concurrent chunks of one run share one load. */
const loads = new Map<string, Promise<{ module: Module; depsMs?: number }>>();
/** Modules that finished loading, for the handler's synchronous fast path. */
const loaded = new Map<string, Module>();

/** @public Thrown when a fetched bundle's sha256 differs from the task's (test/worker imports it from dist/). */
export class BundleIntegrityError extends Error {
  override name = "BundleIntegrityError";
}

/** The module of a bundle already loaded in this process, without a promise. */
export function loadedModule(sha256: string): Module | undefined {
  return loaded.get(sha256);
}

/**
 * The bundle's module; `cold` when this call started the load, and `depsMs` when it also
 * fetched and unpacked the run's dependency archive.
 */
export async function loadBundle(bundle: Task["bundle"], env: WorkerEnv, deps?: DepsRef): Promise<{ module: Module; cold: boolean; depsMs?: number }> {
  const sha = bundle.sha256;
  let p = loads.get(sha);
  const cold = p === undefined;
  if (!p) {
    p = fetchAndImport(bundle, env, deps);
    loads.set(sha, p);
    // A failed load (store outage) must not poison the cache for the next invocation.
    p.catch(() => loads.delete(sha));
  }
  const { module, depsMs } = await p;
  return { module, cold, ...(cold && depsMs !== undefined ? { depsMs } : {}) };
}

async function fetchAndImport(bundle: Task["bundle"], env: WorkerEnv, deps?: DepsRef): Promise<{ module: Module; depsMs?: number }> {
  const [code, near] = await Promise.all([env.store.get(bundle.key), deps ? bundleDirFor(deps, env) : undefined]);
  const actual = createHash("sha256").update(code).digest("hex");
  if (actual !== bundle.sha256) {
    throw new BundleIntegrityError(`job bundle ${bundle.key} has sha256 ${actual}, expected ${bundle.sha256}`);
  }
  // A bundle with external packages goes where Node's resolution walks up to them (worker/deps.ts).
  const file = near ? cachedBundleFile(near.dir, bundle.sha256, code) : env.store.localPath?.(bundle.key) || cachedBundleFile(env.cacheDir, bundle.sha256, code);
  const module = (await import(pathToFileURL(file).href)) as Module;
  loaded.set(bundle.sha256, module);
  return { module, ...(near?.ms !== undefined ? { depsMs: near.ms } : {}) };
}
