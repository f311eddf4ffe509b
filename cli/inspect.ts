import { openStore } from "../src/compute/open.js";
import { UsageError } from "../src/errors.js";
import { indexOfKey, isRunId, keys } from "../src/store/keys.js";
import { checkBackend } from "../src/options.js";
import { readManifest } from "../src/run/run.js";
import { buildsOf, chunksPerBuild } from "../src/run/builds.js";
import { followUpFlags, resumeCmd } from "../src/util/follow-up.js";
import { shownStatus } from "../src/run/liveness.js";
import type { ObjectStore } from "../src/store/types.js";
import { RunResults } from "../src/store/results.js";
import type { ResultEnvelope, RunManifest } from "../src/types.js";
import { awsOptionsFrom, writeStdout } from "./common.js";
import { fmtMs } from "../src/util/format.js";

interface StoreFlags {
  backend?: string;
  store?: string;
  region?: string;
  profile?: string;
  stage?: string;
  function?: string;
  bucket?: string;
  json?: boolean;
}

async function withStore<T>(flags: StoreFlags, fn: (s: Awaited<ReturnType<typeof openStore>>["store"]) => Promise<T>): Promise<T> {
  const opened = await openStore({
    backend: checkBackend(flags.backend),
    cwd: process.cwd(),
    ...(flags.store ? { store: flags.store } : {}),
    aws: awsOptionsFrom(flags),
  });
  try {
    return await fn(opened.store);
  } finally {
    await opened.close();
  }
}

function checkRunId(runId: string): void {
  if (!isRunId(runId)) throw new UsageError(`"${runId}" is not a run id`, "run ids look like 20261127T044612Z-k3j9xq; `fanout status` lists them");
}

export async function statusCommand(runId: string | undefined, flags: StoreFlags): Promise<void> {
  await withStore(flags, async (store) => {
    if (!runId) {
      const manifests = (await store.list("runs/")).filter((k) => k.endsWith("/manifest.json"));
      const rows: RunManifest[] = [];
      for (const k of manifests) rows.push(JSON.parse((await store.get(k)).toString("utf8")) as RunManifest);
      if (flags.json) return writeStdout(JSON.stringify(rows.map((m) => ({ runId: m.runId, status: shownStatus(m), chunks: m.chunks, job: m.job.path, createdAt: m.createdAt }))) + "\n");
      if (rows.length === 0) return writeStdout(`no runs in ${store.location}\n`);
      const lines = rows.map((m) => `${m.runId}  ${shownStatus(m).padEnd(11)}  ${String(m.chunks).padStart(6)} chunks  ${m.job.path}`);
      return writeStdout(lines.join("\n") + "\n");
    }
    checkRunId(runId);
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
      missing,
      createdAt: m.createdAt,
      updatedAt: m.updatedAt,
      ...(m.client ? { client: { host: m.client.host, pid: m.client.pid } } : {}),
      ...(m.summary ? { wallMs: m.summary.wallMs } : {}),
      builds,
      resume: missing > 0 || m.status !== "succeeded" ? resumeCmd({ runId, jobPath: m.job.path, flags: followUpFlags(m.backend, flags.store) }) : undefined,
    };
    if (flags.json) return writeStdout(JSON.stringify(info) + "\n");
    const out = [
      `run ${runId}: ${status} · ${done.size}/${m.chunks} chunks have results${failed.length ? ` · ${failed.length} failed (${failed.slice(0, 10).join(", ")}${failed.length > 10 ? ", ..." : ""})` : ""}`,
      `  job ${m.job.path} on ${m.backend} · started ${m.createdAt}${m.summary ? ` · wall ${fmtMs(m.summary.wallMs)}` : ""}`,
    ];
    if (status === "interrupted" && m.client) out.push(`  interrupted: its client (pid ${m.client.pid} on ${m.client.host}) is gone; last heard from ${m.updatedAt}`);
    if (buildsOf(m).length > 1) out.push(`  builds: ${builds.map((b) => `${b.chunks} chunk${b.chunks === 1 ? "" : "s"} by bundle ${b.bundleSha256.slice(0, 12)}`).join(" · ")}`);
    if (m.error) out.push(`  error: ${m.error.index !== undefined ? `chunk ${m.error.index}: ` : ""}${m.error.name}: ${m.error.message}`);
    if (info.resume) out.push(`  resume: ${info.resume}`);
    return writeStdout(out.join("\n") + "\n");
  });
}

export async function logsCommand(runIdArg: string | undefined, chunk: string | undefined, flags: StoreFlags): Promise<void> {
  if (runIdArg !== undefined) checkRunId(runIdArg);
  let runId = runIdArg ?? "<runId>";
  let only: number | undefined;
  if (chunk !== undefined) {
    only = Number(chunk);
    if (!Number.isInteger(only) || only < 0) throw new UsageError(`chunk must be a chunk index (0, 1, ...), got "${chunk}"`, `e.g. fanout logs ${runId} 0`);
  }
  await withStore(flags, async (store) => {
    if (runIdArg === undefined) {
      runId = await latestRun(store);
      process.stderr.write(`latest run: ${runId}\n`);
    }
    const m = await readManifest(store, runId);
    if (only !== undefined && only >= m.chunks) throw new UsageError(`run ${runId} has chunks 0 to ${m.chunks - 1}, not ${only}`, "name a chunk index in that range");
    const results = new RunResults(store, runId);
    const failures = (await store.list(keys.failuresPrefix(runId))).map(indexOfKey);
    const indices = [...new Set([...(await results.done()), ...failures])]
      .filter((i) => only === undefined || i === only)
      .sort((a, b) => a - b);
    const out: string[] = [];
    for (const i of indices) {
      const env =
        (await results.envelope(i)) ??
        (JSON.parse((await store.get(keys.failure(runId, i))).toString("utf8")) as ResultEnvelope);
      const head = `--- chunk ${env.index} (attempt ${env.attempt}, ${env.ok ? "ok" : "failed"}, ${fmtMs(env.timing.endedAt - env.timing.startedAt)}, ${env.worker.id})`;
      out.push(head, ...env.logs);
      if (env.error) out.push(`error (${env.error.kind}): ${env.error.stack ?? `${env.error.name}: ${env.error.message}`}`);
    }
    if (indices.length === 0) out.push(only === undefined ? `run ${runId} has no chunk output yet` : `chunk ${only} of run ${runId} has no output yet`);
    await writeStdout(out.join("\n") + "\n");
  });
}

/** The newest run in the store (run ids sort by their start time). */
async function latestRun(store: ObjectStore): Promise<string> {
  const ids = (await store.list("runs/")).filter((k) => k.endsWith("/manifest.json")).map((k) => k.split("/")[1]!).filter(isRunId).sort();
  if (ids.length === 0) throw new UsageError(`no runs in ${store.location}`, "start one with `fanout run <job>`, or point --store/--backend at where your runs are");
  return ids[ids.length - 1]!;
}
