import * as fs from "node:fs";
import * as path from "node:path";
import { FolderStore } from "../store/folder.js";
import type { ObjectStore } from "../store/types.js";
import { LocalBackend } from "./local/pool.js";
import type { Backend, BackendConfig } from "./types.js";

/** The nearest folder from cwd upward with a package.json; cwd itself when there is none. */
export function projectRoot(cwd: string): string {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(cwd);
  }
}

/** A given store is taken from cwd; the default is one `.fanout` per project, from any subfolder. */
export function localStoreRoot(cwd: string, store?: string): string {
  return store !== undefined ? path.resolve(cwd, store) : path.join(projectRoot(cwd), ".fanout");
}

/** The local store, rid of temporary files its killed writers left. */
function openFolderStore(cfg: Pick<BackendConfig, "cwd" | "store">): FolderStore {
  const store = new FolderStore(localStoreRoot(cfg.cwd, cfg.store));
  store.sweepTemp();
  return store;
}

/**
 * The AWS code, loaded only when used. The SDK's eight-line Node-version notice is for its own
 * users at large: silenced as the CLI does, unless the caller set the variable themselves.
 */
function loadAws(): Promise<typeof import("./aws/lambda.js")> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return import("./aws/lambda.js");
}

/**
 * Where an emulated stack that fanout starts itself keeps its S3 objects: inside the
 * project's store, so a run's results outlive the stack (for --resume, status, logs).
 */
export function emulatedStoreDir(cwd: string, store?: string): string {
  return path.join(localStoreRoot(cwd, store), "emulated-s3");
}

/** Open the backend a run asked for. */
export async function openBackend(cfg: BackendConfig): Promise<Backend> {
  if (cfg.backend === "local") {
    const local = new LocalBackend({
      store: openFolderStore(cfg),
      memoryMb: cfg.memoryMb,
      ...(cfg.processes ? { processes: cfg.processes } : {}),
    });
    local.warm();
    return local;
  }
  const aws = await loadAws();
  return aws.openAwsBackend(cfg, emulatedStoreDir(cfg.cwd, cfg.store));
}

/** The store alone (for status, logs, teardown): no workers started. */
export async function openStore(cfg: Omit<BackendConfig, "memoryMb" | "concurrency">): Promise<{ store: ObjectStore; close(): Promise<void> }> {
  if (cfg.backend === "local") {
    return { store: openFolderStore(cfg), close: async () => {} };
  }
  const aws = await loadAws();
  return aws.openAwsStore(cfg, emulatedStoreDir(cfg.cwd, cfg.store));
}
