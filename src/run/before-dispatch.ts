/**
 * What a new or resumed run checks once its job is loaded and its compute is open, before any
 * chunk is planned or dispatched: that remote workers get every file the job reads and have
 * room for them, and the native packages, in /tmp, and that its secrets exist.
 */
import * as path from "node:path";
import type { Backend } from "../compute/types.js";
import type { Job } from "../job/index.js";
import type { RunVars } from "../options.js";
import type { DepsRef } from "../types.js";
import { assetFiles, checkAssetsFit } from "../plan/assets.js";
import type { Bundle } from "./bundle.js";
import { checkFsReads } from "./fs-reads.js";
import { checkSecretsExist } from "./secrets-check.js";

/** The job file as given, its bundle, and where it runs from. */
interface Loaded {
  file: string;
  cwd: string;
  bundle: Bundle;
  job: Job;
}

/** Stop before dispatch on what would fail every chunk; local workers read files in place. */
export async function checkBeforeDispatch(loaded: Loaded, vars: RunVars, compute: Backend): Promise<void> {
  if (compute.name !== "local") {
    const jobDir = path.dirname(path.resolve(loaded.cwd, loaded.file));
    const files = assetFiles(loaded.job.assets ?? [], jobDir, loaded.cwd);
    checkFsReads(loaded.file, loaded.bundle.sources ?? [], loaded.cwd, new Set(files.values()));
  }
  await checkSecretsExist(vars.secrets, compute);
}

/** Stop when the assets and the native packages cannot both fit in a remote worker's /tmp. */
export function checkTmpFits(loaded: Pick<Loaded, "file" | "cwd" | "job">, compute: Backend, deps: DepsRef | undefined): void {
  if (compute.name === "local" || compute.tmpMb === undefined) return;
  const jobDir = path.dirname(path.resolve(loaded.cwd, loaded.file));
  checkAssetsFit(assetFiles(loaded.job.assets ?? [], jobDir, loaded.cwd), compute.tmpMb, deps?.unpackedBytes);
}
