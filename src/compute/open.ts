/**
 * Opening where a run's chunks are stored and run: the store first, then the compute beside
 * it, as Lithops' executor holds storage and compute side by side. The AWS code is loaded
 * only when used.
 */
import type { AwsOptions } from "../options.js";
import type { ObjectStore } from "../store/types.js";
import { emulatedStoreDir, openFolderStore } from "../store/open.js";
import { LocalBackend } from "./local/pool.js";
import type { ComputeConfig, RunStore, StoreConfig } from "./types.js";

/**
 * The AWS code, loaded only when used. The SDK's eight-line Node-version notice is for its own
 * users at large: silenced as the CLI does, unless the caller set the variable themselves.
 */
function loadAws(): Promise<typeof import("./aws/open.js")> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return import("./aws/open.js");
}

/** The run's --profile and --region for the local workers' own S3 requests (s3:// inputs and outputs use the caller's chain). */
function awsEnv(aws: AwsOptions | undefined): Record<string, string> {
  return { ...(aws?.profile ? { AWS_PROFILE: aws.profile } : {}), ...(aws?.region ? { AWS_REGION: aws.region } : {}) };
}

/**
 * A run's store, checked (on AWS: the stack and function found) before anything is written;
 * its compute opens beside it once the run's memory is known. `concurrency` sizes the S3
 * socket pool.
 */
export async function openRunStore(cfg: StoreConfig, concurrency: number): Promise<RunStore> {
  if (cfg.backend === "local") {
    const store = openFolderStore(cfg.cwd, cfg.store);
    return {
      store,
      openCompute: async (c: ComputeConfig) => {
        const local = new LocalBackend({ storeRoot: store.root, memoryMb: c.memoryMb, env: awsEnv(cfg.aws), ...(c.tiers ? { tiers: c.tiers } : {}), ...(c.processes ? { processes: c.processes } : {}) });
        local.warm();
        return local;
      },
      close: async () => {},
    };
  }
  const aws = await loadAws();
  return aws.openAwsRunStore(cfg, concurrency, emulatedStoreDir(cfg.cwd, cfg.store));
}

/** The store alone (for status, logs, teardown): no workers started. */
export async function openStore(cfg: StoreConfig): Promise<{ store: ObjectStore; close(): Promise<void> }> {
  if (cfg.backend === "local") {
    return { store: openFolderStore(cfg.cwd, cfg.store), close: async () => {} };
  }
  const aws = await loadAws();
  return aws.openAwsStore(cfg, emulatedStoreDir(cfg.cwd, cfg.store));
}
