// `fanout status [runId]`: the runs in a store, or one run's state and how to resume it.
import type { Command } from "commander";
import { buildsOf, chunksPerBuild } from "../../src/run/builds.js";
import { shownStatus } from "../../src/run/liveness.js";
import { runManifests } from "../../src/run/runs.js";
import { indexOfKey, keys } from "../../src/store/keys.js";
import { RunResults } from "../../src/store/results.js";
import type { ObjectStore } from "../../src/store/types.js";
import type { RunManifest } from "../../src/types.js";
import { followUpFlags, logsCmd, resumeCmd } from "../../src/util/follow-up.js";
import { fmtMs } from "../../src/util/format.js";
import { addBackendOptions, checkRunId, withStore, writeStdout, type BackendFlags } from "../common.js";

interface StatusFlags extends BackendFlags {
  json?: boolean;
}

export function registerStatus(program: Command): void {
  const status = program
    .command("status")
    .description("list runs, or show one run's state and how to resume it")
    .argument("[runId]", "a run id (default: list all runs in the store)")
    .option("--json", "print as JSON");
  addBackendOptions(status).action(statusAction);
}

async function statusAction(runId: string | undefined, flags: StatusFlags): Promise<void> {
  if (runId !== undefined) checkRunId(runId);
  await withStore(flags, (store) => (runId === undefined ? listRuns(store, flags) : showRun(store, runId, flags)));
}

async function listRuns(store: ObjectStore, flags: StatusFlags): Promise<void> {
  const rows = await runManifests(store);
  if (flags.json) {
    const listed = rows.map((m) => ({ runId: m.runId, status: shownStatus(m), chunks: m.chunks, job: m.job.path, createdAt: m.createdAt, ...(m.detached ? { detached: true } : {}), ...failedOf(m) }));
    return writeStdout(JSON.stringify(listed) + "\n");
  }
  if (rows.length === 0) return writeStdout(`no runs in ${store.location}\n`);
  const lines = rows.map((m) => `${m.runId}  ${shownStatus(m).padEnd(11)}  ${String(m.chunks).padStart(6)} chunks  ${m.job.path}${m.detached ? "  (detached)" : ""}${failedNote(m)}`);
  return writeStdout(lines.join("\n") + "\n");
}

/** A finished run's failed chunks, from its summary (listing does not read every run's results). */
function failedOf(m: RunManifest): { failedChunks?: number[] } {
  const failed = m.summary?.failedChunks;
  return failed?.length ? { failedChunks: failed } : {};
}

function failedNote(m: RunManifest): string {
  const failed = m.summary?.failedChunks;
  return `${failed?.length ? `  (${failed.length} failed: ${listed(failed)})` : ""}${m.sample ? `  ${sampleNote(m.sample)}` : ""}`;
}

/** A bench memory sweep's run holds only its sample's results, by design. */
function sampleNote(sample: NonNullable<RunManifest["sample"]>): string {
  return `(bench sample: ${sample.indexes.length} chunk${sample.indexes.length === 1 ? "" : "s"} at ${sample.memoryMb} MB)`;
}

/** Chunk indexes for a line: the first ten, then how many more. */
function listed(indexes: number[]): string {
  return `${indexes.slice(0, 10).join(", ")}${indexes.length > 10 ? `, ... ${indexes.length - 10} more` : ""}`;
}

async function showRun(store: ObjectStore, runId: string, flags: StatusFlags): Promise<void> {
  // run.ts brings the run machinery (esbuild): loaded when the command runs.
  const { readManifest } = await import("../../src/run/manifest.js");
  const m = await readManifest(store, runId);
  const done = await new RunResults(store, runId).done();
  const failed = (await store.list(keys.failuresPrefix(runId))).map(indexOfKey).filter((i) => !done.has(i));
  const missing = m.chunks - done.size;
  const status = shownStatus(m);
  const builds = chunksPerBuild(m, done);
  const info = {
    runId,
    status,
    job: m.job.path,
    backend: m.backend,
    chunks: m.chunks,
    done: done.size,
    failed: failed.length,
    failedChunks: failed,
    missing,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
    ...(m.client ? { client: { host: m.client.host, pid: m.client.pid } } : {}),
    ...(m.detached ? { detached: true } : {}),
    ...(m.summary ? { wallMs: m.summary.wallMs } : {}),
    builds,
    // Names only: the values were never stored.
    ...(m.env ? { env: m.env.map((n) => `${n}=***`) } : {}),
    ...(m.sample ? { sample: m.sample } : {}),
    resume: !m.sample && (missing > 0 || m.status !== "succeeded") ? resumeCmd({ runId, jobPath: m.job.path, flags: followUpFlags(m.backend, flags.store) }) : undefined,
  };
  if (flags.json) return writeStdout(JSON.stringify(info) + "\n");
  const out = [
    `run ${runId}: ${status} · ${done.size}/${m.chunks} chunks have results${failed.length ? ` · ${failed.length} failed (${listed(failed)})` : ""}`,
    `  job ${m.job.path} on ${m.backend} · started ${m.createdAt}${m.summary ? ` · wall ${fmtMs(m.summary.wallMs)}` : ""}`,
  ];
  if (status === "interrupted" && m.client) out.push(`  interrupted: its client (pid ${m.client.pid} on ${m.client.host}) is gone; last heard from ${m.updatedAt}`);
  if (buildsOf(m).length > 1) out.push(`  builds: ${builds.map((b) => `${b.chunks} chunk${b.chunks === 1 ? "" : "s"} by bundle ${b.bundleSha256.slice(0, 12)}`).join(" · ")}`);
  if (info.env) out.push(`  env: ${info.env.join(" ")}`);
  if (m.sample) out.push(`  ${sampleNote(m.sample)}: only chunks ${listed(m.sample.indexes)} were run, to time them`);
  if (failed.length) out.push(`  logs: ${logsCmd({ runId, flags: followUpFlags(m.backend, flags.store) }, failed[0])}`);
  if (m.error) out.push(`  error: ${m.error.index !== undefined ? `chunk ${m.error.index}: ` : ""}${m.error.name}: ${m.error.message}`);
  if (info.resume) out.push(`  resume: ${info.resume}`);
  return writeStdout(out.join("\n") + "\n");
}
