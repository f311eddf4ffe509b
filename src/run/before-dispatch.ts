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

/**
 * Stop before dispatch on what would fail every chunk; local workers read files in place. A
 * remote run's asset files (name to path) come back for checkTmpFits.
 */
export async function checkBeforeDispatch(loaded: Loaded, vars: RunVars, compute: Backend): Promise<ReadonlyMap<string, string> | undefined> {
  let files: Map<string, string> | undefined;
  if (compute.name !== "local") {
    const jobDir = path.dirname(path.resolve(loaded.cwd, loaded.file));
    files = assetFiles(loaded.job.assets ?? [], jobDir, loaded.cwd);
    checkFsReads(loaded.file, loaded.bundle.sources ?? [], loaded.cwd, new Set(files.values()));
  }
  await checkSecretsExist(vars.secrets, compute);
  return files;
}

/** Stop when a remote run's assets (from checkBeforeDispatch) and native packages cannot both fit in a worker's /tmp. */
export function checkTmpFits(files: ReadonlyMap<string, string> | undefined, compute: Backend, deps: DepsRef | undefined): void {
  if (!files || compute.tmpMb === undefined) return;
  checkAssetsFit(files, compute.tmpMb, deps?.unpackedBytes);
}
