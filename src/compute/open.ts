import * as path from "node:path";
import { FolderStore } from "../store/folder.js";
import type { ObjectStore } from "../store/types.js";
import type { AwsOptions, BackendName } from "../options.js";
import { LocalBackend } from "./local/pool.js";
import type { Backend } from "./types.js";

export interface BackendConfig {
  backend: BackendName;
  cwd: string;
  store?: string;
  processes?: number;
  memoryMb: number;
  concurrency: number;
  aws?: AwsOptions;
}

export function localStoreRoot(cwd: string, store?: string): string {
  return path.resolve(cwd, store ?? ".fanout");
}

/**
 * Where an emulated stack that fanout starts itself keeps its S3 objects: inside the
 * project's store, so a run's results outlive the stack (for --resume, status, logs).
 */
export function emulatedStoreDir(cwd: string, store?: string): string {
  return path.join(localStoreRoot(cwd, store), "emulated-s3");
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
  return aws.openAwsBackend(cfg, emulatedStoreDir(cfg.cwd, cfg.store));
}

/** The store alone (for status, logs, teardown): no workers started. */
export async function openStore(cfg: Omit<BackendConfig, "memoryMb" | "concurrency">): Promise<{ store: ObjectStore; close(): Promise<void> }> {
  if (cfg.backend === "local") {
    return { store: new FolderStore(localStoreRoot(cfg.cwd, cfg.store)), close: async () => {} };
  }
  const aws = await import("./aws/lambda.js");
  return aws.openAwsStore(cfg, emulatedStoreDir(cfg.cwd, cfg.store));
}
