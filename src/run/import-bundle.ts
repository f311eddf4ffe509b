/**
 * The client's side of a job bundle: put it in the store (once per content hash) and import
 * it in this process, where the input, the defaults and reduce are read. run(), map() and the
 * sequential baseline of `fanout bench` all load jobs this way.
 *
 * The worker loads bundles differently on purpose (worker/bundle-cache.ts): it checks the
 * sha256 of bytes fetched from a remote store and keeps one module per process for every
 * chunk, where the client wants a fresh module per run.
 */
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { JobLoadError } from "../errors.js";
import { keys } from "../store/keys.js";
import type { ObjectStore } from "../store/types.js";
import { cachedBundleFile, defaultBundleCacheDir, nearPackages } from "../util/bundle-cache.js";
import type { Bundle } from "./bundle.js";
import { projectRoot } from "./deps.js";

/** A bundle stored under `bundleKey` and imported here as `mod`. */
export interface StoredBundle {
  bundleKey: string;
  mod: Record<string, unknown>;
}

/**
 * Put the bundle in the store (once per content hash) and import it here too. A bundle that
 * imports packages by name is imported from inside the project that has them (`root`: the
 * run's, for a stored bundle; else found from the bundle's external packages).
 */
export async function storeAndImport(store: ObjectStore, bundle: Omit<Bundle, "external"> & Partial<Bundle>, root?: string): Promise<StoredBundle> {
  const bundleKey = keys.bundle(bundle.sha256);
  if (!(await store.exists(bundleKey))) await store.put(bundleKey, bundle.code);
  const first = bundle.external?.[0];
  root ??= first ? projectRoot(first.dir) : undefined;
  return { bundleKey, mod: await importBundle(store, bundleKey, bundle, root) };
}

let imports = 0;

/** Import the stored bundle in place (a folder store) or from the bundle cache (S3). */
async function importBundle(store: ObjectStore, key: string, bundle: Omit<Bundle, "external">, root: string | undefined): Promise<Record<string, unknown>> {
  const file = root ? cachedBundleFile(nearPackages(root), bundle.sha256, bundle.code) : (store.localPath?.(key) ?? cachedBundleFile(defaultBundleCacheDir(), bundle.sha256, bundle.code));
  try {
    // A fresh instance per run: the module's top level (inputs built from env, files read
    // at import) must see this run's world, not the first run's in this process.
    return (await import(`${pathToFileURL(file).href}?run=${++imports}`)) as Record<string, unknown>;
  } catch (err) {
    throw new JobLoadError(`loading ${path.relative(process.cwd(), bundle.entry) || bundle.entry} threw: ${(err as Error)?.message ?? String(err)}`, "fix the error in the job module's top-level code", err);
  }
}
