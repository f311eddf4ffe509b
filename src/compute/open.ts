import * as path from "node:path";
import { FolderStore } from "../store/folder.js";
import type { ObjectStore } from "../store/types.js";
import { LocalBackend } from "./local/pool.js";
import type { Backend, BackendConfig } from "./types.js";

function localStoreRoot(cwd: string, store?: string): string {
  return path.resolve(cwd, store ?? ".fanout");
}

/** Open the backend a run asked for; AWS code is loaded only when used. */
export async function openBackend(cfg: BackendConfig): Promise<Backend> {
  if (cfg.backend === "local") {
    const local = new LocalBackend({
      store: new FolderStore(localStoreRoot(cfg.cwd, cfg.store)),
      memoryMb: cfg.memoryMb,
      ...(cfg.processes ? { processes: cfg.processes } : {}),
    });
    local.warm();
    return local;
  }
  const aws = await import("./aws/lambda.js");
  return aws.openAwsBackend(cfg);
}

/** The store alone (for status, logs, teardown): no workers started. */
export async function openStore(cfg: Omit<BackendConfig, "memoryMb" | "concurrency">): Promise<{ store: ObjectStore; close(): Promise<void> }> {
  if (cfg.backend === "local") {
    return { store: new FolderStore(localStoreRoot(cfg.cwd, cfg.store)), close: async () => {} };
  }
  const aws = await import("./aws/lambda.js");
  return aws.openAwsStore(cfg);
}
