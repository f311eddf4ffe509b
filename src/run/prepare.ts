/**
 * Everything before the first chunk is dispatched: bundle the job, open its store and then
 * the compute beside it, store and import the bundle, and plan a new run or load a resumed
 * one. What is opened is closed again if any step fails.
 */
import { openRunStore } from "../compute/open.js";
import type { Backend, ComputeConfig, RunStore, StoreConfig } from "../compute/types.js";
import { JobLoadError, RunNotFoundError, UsageError } from "../errors.js";
import { notAFunction, notAJob } from "../job/check.js";
import type { Job } from "../job/index.js";
import { allowedFailures, checkBackend, positiveInt, resolveOptions, runVars, type BackendName, type CommonOptions, type RunVars } from "../options.js";
import { isRunId } from "../store/keys.js";
import type { ObjectStore } from "../store/types.js";
import type { DepsRef, RunOptionsResolved } from "../types.js";
import { checkBeforeDispatch, checkTmpFits } from "./before-dispatch.js";
import { bundleJob, type Bundle } from "./bundle.js";
import { shipDeps } from "./deps.js";
import { storeAndImport, type StoredBundle } from "./import-bundle.js";
import { newJobRun, newMapRun, type PlannedRun } from "./new-run.js";
import { resolveOutput } from "./outputs.js";
import { resumeRun } from "./resume.js";
import { checkSecretsExist, checkSecretsServed } from "./secrets-check.js";
import type { MapOptions, RunOptions } from "./types.js";

/** A run ready to execute: its store and the compute beside it, and what to run. */
export interface PreparedRun extends PlannedRun {
  store: ObjectStore;
  backend: Backend;
  reduce: Job["reduce"] | undefined;
  /** What the workers set in process.env for each chunk (kept out of the manifest). */
  vars: RunVars;
  /** Close the compute, then the store. */
  close(): Promise<void>;
}

/** Bundle, open, import and plan (or resume) the job module `file` for run(). */
export async function prepareRun(file: string, options: RunOptions): Promise<PreparedRun> {
  const cwd = options.cwd ?? process.cwd();
  const bundle = await bundleJob(file, cwd);
  const backend = checkBackend(options.backend);
  checkRunFlags(options);
  resolveOutput(options.output, backend, cwd);
  // Options are checked before anything is opened, so a bad flag costs nothing.
  const preliminary = resolveOptions(options, {});
  checkSecretsServed(backend, runVars(options, {}).secrets);
  return opened(await openRunStore(storeConfig(backend, cwd, options), preliminary.concurrency), options, async (site, openCompute) => {
    const { bundle: built, stored, job } = await withDeclaredExternals(site.store, bundle, file, cwd);
    const vars = runVars(options, job.defaults);
    // Memory comes from the flags and the job's defaults, not the plan: the local pool starts
    // now, while the chunks are planned and uploaded.
    const compute = await openCompute(resolveOptions(options, job.defaults));
    const assets = await checkBeforeDispatch({ file, cwd, bundle: built, job }, vars, compute);
    // Before the plan: packages too big for Lambda stop the run before anything else is uploaded.
    const deps = await shipDeps(site.store, built, compute);
    checkTmpFits(assets, compute, deps);
    const planned = options.resume
      ? await resumeRun(site.store, { runId: options.resume, file, cwd, backend, bundle: built, stored, job }, options)
      : await newJobRun(site.store, { file, backend, bundle: built, stored }, job, { ...options, cwd });
    // The packages belong to the build that runs: a resumed run keeps its own unless rebuilt.
    if (!options.resume || planned.rebuilt) withDeps(planned, deps);
    return { ...withVarNames(planned, vars), backend: compute, reduce: job.reduce, vars };
  });
}

/** Bundle, open and import the module `file` for map(): one chunk per input, calling `exportName`. */
export async function prepareMap(file: string, exportName: string, inputs: readonly unknown[], options: MapOptions): Promise<PreparedRun> {
  const cwd = options.cwd ?? process.cwd();
  const bundle = await bundleJob(file, cwd);
  const backend = checkBackend(options.backend);
  const output = resolveOutput(options.output, backend, cwd);
  const resolved = resolveOptions(options, {}, inputs.length);
  const vars = runVars(options, {});
  checkSecretsServed(backend, vars.secrets);
  return opened(await openRunStore(storeConfig(backend, cwd, options), resolved.concurrency), options, async (site, openCompute) => {
    const compute = await openCompute(resolved);
    await checkSecretsExist(vars.secrets, compute);
    const stored = await storeAndImport(site.store, bundle);
    const why = notAFunction(stored.mod[exportName], exportName, file);
    if (why) throw new JobLoadError(why.problem, why.fix);
    const deps = await shipDeps(site.store, bundle, compute);
    const planned = await newMapRun(site.store, { file, backend, bundle, stored }, exportName, inputs, resolved);
    if (output) planned.manifest.output = output;
    return { ...withVarNames(withDeps(planned, deps), vars), backend: compute, reduce: undefined, vars };
  });
}

/**
 * Store and import the bundle and load its job; when the job's `defaults.external` names a
 * package the bundle holds, bundle again with it left out (the list lives in the job module,
 * so it is known only once a first bundle is imported).
 */
export async function withDeclaredExternals(store: ObjectStore, bundle: Bundle, file: string, cwd: string): Promise<{ bundle: Bundle; stored: StoredBundle; job: Job }> {
  const stored = await storeAndImport(store, bundle);
  const job = loadJob(stored.mod, file);
  const declared = job.defaults.external ?? [];
  if (declared.every((n) => bundle.external.some((e) => e.name === n))) return { bundle, stored, job };
  const rebuilt = await bundleJob(file, cwd, declared);
  const again = await storeAndImport(store, rebuilt);
  return { bundle: rebuilt, stored: again, job: loadJob(again.mod, file) };
}

/** The manifest records the packages the build imports at run time (or none). */
function withDeps(planned: PlannedRun, deps: DepsRef | undefined): PlannedRun {
  if (deps) planned.manifest.deps = deps;
  else delete planned.manifest.deps;
  return planned;
}

/** The manifest names the variables the run sets; their values stay out of it. */
function withVarNames(planned: PlannedRun, vars: RunVars): PlannedRun {
  const names = [...Object.keys(vars.env ?? {}), ...Object.keys(vars.secrets ?? {})];
  if (names.length) planned.manifest.env = names;
  return planned;
}

/** Open the compute beside the store, with the run's resolved memory and concurrency. */
type OpenCompute = (resolved: RunOptionsResolved) => Promise<Backend>;

/**
 * Run `prepare` with the opened store and a way to open the compute beside it; if it throws,
 * close what was opened (the compute first) before the error goes on.
 */
async function opened(
  site: RunStore,
  options: CommonOptions,
  prepare: (site: RunStore, openCompute: OpenCompute) => Promise<Omit<PreparedRun, "store" | "close">>,
): Promise<PreparedRun> {
  let compute: Backend | undefined;
  const close = async () => {
    try {
      await compute?.close();
    } finally {
      await site.close();
    }
  };
  const openCompute: OpenCompute = async (resolved) =>
    (compute = await site.openCompute({
      ...computeMemory(resolved),
      concurrency: resolved.concurrency,
      timeoutMs: resolved.timeoutMs,
      ...(options.processes ? { processes: options.processes } : {}),
    }));
  try {
    return { ...(await prepare(site, openCompute)), store: site.store, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The memory a run's compute opens with: its setting, whether it was asked for, and its tiers (`--memory 512,2048`). */
export function computeMemory(o: RunOptionsResolved): Pick<ComputeConfig, "memoryMb" | "memoryAsked" | "tiers"> {
  return { memoryMb: o.memoryMb, ...(o.memoryAsked ? { memoryAsked: true } : {}), ...(o.memoryTiers ? { tiers: o.memoryTiers } : {}) };
}

export function storeConfig(backend: BackendName, cwd: string, options: CommonOptions): StoreConfig {
  return { backend, cwd, ...(options.store ? { store: options.store } : {}), ...(options.aws ? { aws: options.aws } : {}) };
}

/** Flags of run() that are wrong whatever the job says. */
export function checkRunFlags(options: RunOptions): void {
  if (options.chunks !== undefined) positiveInt("chunks", options.chunks);
  if (options.maxFailures !== undefined) allowedFailures(options.maxFailures);
  if (options.rebuild && options.resume === undefined) {
    throw new UsageError("--rebuild only applies with --resume <runId>", "add --resume <runId> to finish that run with the new build, or drop --rebuild");
  }
  if (options.inputRun !== undefined && !isRunId(options.inputRun)) {
    throw new RunNotFoundError(options.inputRun, "this store (run ids look like 20261127T044612Z-k3j9xq)");
  }
  if (options.resume !== undefined && !isRunId(options.resume)) {
    throw new RunNotFoundError(options.resume, "this store (run ids look like 20261127T044612Z-k3j9xq)");
  }
}

/** The job a module's default export defines, or a JobLoadError saying why it is not one. */
function loadJob(mod: Record<string, unknown>, file: string): Job {
  const why = notAJob(mod.default, file);
  if (why) throw new JobLoadError(why.problem, why.fix);
  return mod.default as Job;
}
