/**
 * Loading a run to resume (`--resume <runId>`): its manifest and chunk sources from the store,
 * and with `--rebuild` the checks that let a new build of the job finish it.
 */
import { FanoutError } from "../errors.js";
import type { Job } from "../job/index.js";
import { resolveOptions, type BackendName } from "../options.js";
import { encodePayloads, planChunks, sourcesFromPayloads, type PlanOptions } from "../plan/plan.js";
import { RunResults } from "../store/results.js";
import { retrying } from "../store/retrying.js";
import type { ObjectStore } from "../store/types.js";
import type { RunManifest } from "../types.js";
import { followUpFlags, resumeCmd } from "../util/follow-up.js";
import { addBuild } from "./builds.js";
import type { Bundle } from "./bundle.js";
import type { StoredBundle } from "./import-bundle.js";
import { readManifest } from "./manifest.js";
import { planOptions, shipAssets, type PlannedRun } from "./new-run.js";
import type { RunOptions } from "./types.js";

/** What resuming needs besides the store: the job as it is now and where it came from. */
export interface ResumeFrom {
  runId: string;
  file: string;
  cwd: string;
  backend: BackendName;
  bundle: Bundle;
  stored: StoredBundle;
  job: Job;
}

/** The stored run `r.runId`, its options resolved anew from the flags and the job's defaults. */
export async function resumeRun(store: ObjectStore, r: ResumeFrom, options: RunOptions): Promise<PlannedRun> {
  const manifest = await readManifest(store, r.runId);
  const payloads = await store.get(manifest.payloadsKey);
  let rebuilt = false;
  if (manifest.job.bundleSha256 !== r.bundle.sha256) {
    if (!options.rebuild) throw mismatch(manifest, r, options);
    await checkSamePlan(r.job, manifest, payloads, r.cwd, store, planOptions(r.backend, options));
    addBuild(manifest, r.stored.bundleKey, r.bundle.sha256, await retrying(() => new RunResults(store, r.runId).done()));
    // The new build ships the assets it lists now; without --rebuild the run keeps those it planned with.
    const assets = await shipAssets(store, r.job, r.file, r.cwd);
    if (assets) manifest.assets = assets;
    else delete manifest.assets;
    rebuilt = true;
  }
  const sources = sourcesFromPayloads(payloads, manifest.payloadsKey);
  manifest.options = { ...resolveOptions(options, r.job.defaults, manifest.chunks) };
  return { manifest, sources, rebuilt };
}

/** The job's build changed and --rebuild was not given: say how to resume with the new build. */
function mismatch(manifest: RunManifest, r: ResumeFrom, options: RunOptions): FanoutError {
  const ref = { runId: r.runId, jobPath: r.file, flags: followUpFlags(r.backend, options.store) };
  return new FanoutError(
    "E_RESUME_MISMATCH",
    `run ${r.runId} was made from a different build of the job (bundle ${manifest.job.bundleSha256.slice(0, 12)}, now ${r.bundle.sha256.slice(0, 12)})`,
    { hint: `to keep its results and run the rest with the new build: ${resumeCmd(ref, true)}; or start a new run without --resume`, exitCode: 2 },
  );
}

/**
 * A rebuilt job may mix its results with the old build's only if it splits the same input into
 * the same chunks: each chunk's payload (and every uploaded input) must be byte for byte the same.
 */
async function checkSamePlan(job: Job, manifest: RunManifest, stored: Buffer, cwd: string, store: ObjectStore, opts: PlanOptions): Promise<void> {
  const plan = await planChunks(job.input, manifest.chunks, cwd, store, opts);
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
