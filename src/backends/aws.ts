import { ConfigError } from "../errors.js";
import type { ObjectStore } from "../store/types.js";
import type { BackendConfig } from "./index.js";
import type { Backend } from "./types.js";

export async function openAwsBackend(_cfg: BackendConfig): Promise<Backend> {
  throw new ConfigError("the AWS backend is not built yet", "use --backend local");
}

export async function openAwsStore(_cfg: Omit<BackendConfig, "memoryMb" | "concurrency">): Promise<{ store: ObjectStore; close(): Promise<void> }> {
  throw new ConfigError("the AWS backend is not built yet", "use --backend local");
}
