/**
 * Detached runs: `submit` plans and uploads a run as `run` does, then hands it to a driver and
 * returns once that driver holds the run's lease: locally a background process of its own
 * (`fanout drive`, detached, its output in the store); on AWS and the emulated stack the
 * worker function itself, invoked with a driver event (src/run/remote-driver.ts). The driver
 * runs fanout's own executor from the manifest and payloads, and leaves reduce to `attach`.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { Backend } from "../compute/types.js";
import { openRunStore, openStore } from "../compute/open.js";
import { FanoutError, InfraError, UsageError } from "../errors.js";
import { checkBackend, resolveOptions, type AwsOptions, type BackendName, type CommonOptions } from "../options.js";
import { sourcesFromPayloads } from "../plan/plan.js";
import { keys } from "../store/keys.js";
import type { ObjectStore } from "../store/types.js";
import { bundleJob } from "./bundle.js";
import { depsFor, localDeps } from "./deps.js";
import { executeRun } from "./execute.js";
import { liveLease, nextGeneration } from "./lease.js";
import { readManifest } from "./manifest.js";
import { newJobRun } from "./new-run.js";
import { checkRunFlags, computeMemory, storeConfig, withDeclaredExternals } from "./prepare.js";
import type { RunOptions } from "./types.js";

/** fanout's own CLI, which the driver process runs (`fanout drive <runId>`). */
const BIN = fileURLToPath(new URL("../../../bin/fanout.js", import.meta.url));
/** How long submit waits for the driver to take the run's lease. */
const DRIVER_START_MS = 30_000;

/**
 * Start a run in the background and return its id at once: the job is bundled, planned and
 * uploaded here, then a detached driver process runs it (it outlives this process and the
 * terminal). Follow it, and get its result, with `attach(runId)`.
 */
export async function submit(job: string | URL, options: RunOptions = {}): Promise<{ runId: string }> {
  const file = typeof job === "string" ? job : fileURLToPath(job);
  const cwd = options.cwd ?? process.cwd();
  if (options.resume !== undefined) {
    throw new UsageError("--detach starts a new run", `to go on with run ${options.resume} in the background, \`fanout attach ${options.resume}\` restarts its driver if it is gone`);
  }
  checkRunFlags(options);
  const backend = checkBackend(options.backend);
  checkDriverHost(backend);
  const bundle = await bundleJob(file, cwd);
  resolveOptions(options, {});
  const opened = await openStore(storeConfig(backend, cwd, options));
  try {
    const loaded = await withDeclaredExternals(opened.store, bundle, file, cwd);
    const planned = await newJobRun(opened.store, { file, backend, bundle: loaded.bundle, stored: loaded.stored }, loaded.job, { ...options, cwd });
    const { manifest } = planned;
    manifest.detached = true;
    // The driver makes them ready for its compute (an archive for Lambda) before dispatch.
    const deps = localDeps(loaded.bundle);
    if (deps) manifest.deps = deps;
    await opened.store.put(keys.manifest(manifest.runId), JSON.stringify(manifest, null, 2));
    const where = await startAnyDriver(opened.store, manifest.runId, { ...options, backend, cwd });
    options.onNotice?.(`run ${manifest.runId}: ${manifest.chunks} chunks on ${backend}, driven in the background by ${where}`);
    return { runId: manifest.runId };
  } finally {
    await opened.close();
  }
}

/**
 * A driver that outlives this process: on the emulated stack it runs inside the stack, so the
 * stack must outlive this process too (a stack a command starts stops with it).
 */
function checkDriverHost(backend: BackendName): void {
  if (backend === "emulated" && !process.env.FANOUT_EMULATOR) {
    throw new UsageError(
      "a detached run on the emulated backend needs a running stack",
      "start `fanout emulate` and export the FANOUT_EMULATOR line it prints: a stack started for one command stops with it",
    );
  }
}

/** Start the run's driver where its backend keeps it; says where, for the notice. */
export async function startAnyDriver(store: ObjectStore, runId: string, options: CommonOptions & { backend: BackendName; cwd: string }): Promise<string> {
  if (options.backend === "local") return `pid ${await startDriver(store, runId, options)}`;
  checkDriverHost(options.backend);
  const generation = await nextGeneration(store, runId);
  await startLambdaDriver(store, runId, generation, options);
  return `the worker function, driver generation ${generation}`;
}

/**
 * A store read of a poll, through a short network outage (a connection reset mid-answer): a
 * FanoutError (no such run) is an answer, not an outage.
 */
export async function polled<T>(read: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await read();
    } catch (err) {
      if (err instanceof FanoutError || i >= attempts) throw err;
      await sleep(250 * 2 ** i);
    }
  }
}

/** Test settings the driver event carries: hand over this often, die this soon (`FANOUT_DRIVER_HANDOVER_MS`, `FANOUT_DRIVER_DIE_MS`). */
function driverTestSettings(): { handoverMs?: number; dieAfterMs?: number } {
  const handoverMs = Number(process.env.FANOUT_DRIVER_HANDOVER_MS) || undefined;
  const dieAfterMs = Number(process.env.FANOUT_DRIVER_DIE_MS) || undefined;
  return { ...(handoverMs ? { handoverMs } : {}), ...(dieAfterMs ? { dieAfterMs } : {}) };
}

/**
 * Hand the run to the worker function (an Event invocation with a driver event) and wait
 * until that driver holds the run's lease at `generation` (or the run already ended).
 */
async function startLambdaDriver(store: ObjectStore, runId: string, generation: number, options: CommonOptions & { backend: BackendName; cwd: string }): Promise<void> {
  const site = await openRunStore(storeConfig(options.backend, options.cwd, options), 1);
  try {
    const manifest = await readManifest(store, runId);
    const compute = await site.openCompute({ ...computeMemory(manifest.options), concurrency: 1 });
    try {
      // Native packages are made ready for Lambda here: the driver there cannot build them.
      if (manifest.deps && !manifest.deps.key) {
        manifest.deps = await depsFor(store, manifest.deps, compute);
        await store.put(keys.manifest(runId), JSON.stringify(manifest, null, 2));
      }
      await compute.startDriver!({ runId, generation, ...driverTestSettings() });
    } catch (err) {
      if (err instanceof InfraError && err.fatal) throw err.fatal;
      throw new FanoutError("E_DRIVER_START", `the worker function did not accept run ${runId}'s driver: ${(err as Error).message}`, {
        hint: "check the deployed stack with `fanout deploy`, then `fanout attach` the run",
        exitCode: 1,
        cause: err,
      });
    } finally {
      await compute.close();
    }
  } finally {
    await site.close();
  }
  for (const t0 = Date.now(); Date.now() - t0 < DRIVER_START_MS; await sleep(200)) {
    const lease = await polled(() => liveLease(store, runId));
    if (lease && lease.generation >= generation) return;
    if ((await polled(() => readManifest(store, runId))).status !== "running") return;
  }
  throw new FanoutError("E_DRIVER_START", `run ${runId}'s driver did not start on the worker function within ${DRIVER_START_MS / 1000} s`, {
    hint: "see the function's log (CloudWatch /aws/lambda/<function>), then `fanout attach` the run to try again",
    exitCode: 1,
  });
}

/**
 * Spawn a detached driver for the run and wait until it holds the run's lease; its pid. Its
 * stdout and stderr go to `runs/<id>/driver.log` in a folder store (else a temp file).
 */
async function startDriver(store: ObjectStore, runId: string, options: CommonOptions & { backend: BackendName; cwd: string }): Promise<number> {
  const logFile = store.localPath?.(keys.driverLog(runId)) ?? path.join(os.tmpdir(), `fanout-driver-${runId}.log`);
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = fs.openSync(logFile, "a");
  const args = [BIN, "drive", runId, "--backend", options.backend, ...storeFlags(options), ...awsFlags(options.aws ?? {})];
  const child = spawn(process.execPath, args, { cwd: options.cwd, detached: true, stdio: ["ignore", fd, fd], env: process.env });
  fs.closeSync(fd);
  let exited: number | null | undefined;
  child.on("exit", (code) => (exited = code));
  child.on("error", () => (exited = -1));
  // Not waited for: it must outlive this process.
  child.unref();
  for (const t0 = Date.now(); Date.now() - t0 < DRIVER_START_MS; await sleep(100)) {
    const lease = await liveLease(store, runId);
    if (lease?.holder.pid === child.pid) return child.pid!;
    if (exited !== undefined) break;
  }
  const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").trim().split("\n").slice(-3).join(" / ") : "";
  throw new FanoutError("E_DRIVER_START", `the background driver of run ${runId} did not start${tail ? `: ${tail}` : ""}`, {
    hint: `see ${logFile}`,
    exitCode: 1,
  });
}

function storeFlags(options: CommonOptions & { cwd: string }): string[] {
  return options.store !== undefined ? ["--store", path.resolve(options.cwd, options.store)] : [];
}

function awsFlags(aws: AwsOptions): string[] {
  const out: string[] = [];
  if (aws.region) out.push("--region", aws.region);
  if (aws.profile) out.push("--profile", aws.profile);
  if (aws.stage) out.push("--stage", aws.stage);
  if (aws.functionName) out.push("--function", aws.functionName);
  if (aws.bucket) out.push("--bucket", aws.bucket);
  return out;
}

/**
 * The driver's work (`fanout drive <runId>`): take the run's lease, run the chunks without a
 * result with the manifest's options, and record how the run ended. No reduce: `attach` does it.
 */
export async function driveRun(runId: string, options: CommonOptions = {}): Promise<void> {
  const cwd = options.cwd ?? process.cwd();
  const backend = checkBackend(options.backend);
  const site = await openRunStore(storeConfig(backend, cwd, options), resolveOptions(options, {}).concurrency);
  let compute: Backend | undefined;
  try {
    const manifest = await readManifest(site.store, runId);
    if (manifest.status !== "running") return;
    const sources = sourcesFromPayloads(await site.store.get(manifest.payloadsKey), manifest.payloadsKey);
    compute = await site.openCompute({ ...computeMemory(manifest.options), concurrency: manifest.options.concurrency, ...(options.processes ? { processes: options.processes } : {}) });
    if (manifest.deps && !manifest.deps.key) manifest.deps = await depsFor(site.store, manifest.deps, compute);
    await executeRun({ store: site.store, backend: compute, manifest, sources, reduce: undefined, t0: Date.now(), options: { ...options, cwd, resume: runId }, collect: false });
  } finally {
    try {
      await compute?.close();
    } finally {
      await site.close();
    }
  }
}
