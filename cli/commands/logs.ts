// `fanout logs [runId] [chunk]`: the captured log lines and errors of a run's chunks.
import type { Command } from "commander";
import { UsageError } from "../../src/errors.js";
import { latestRunId } from "../../src/run/runs.js";
import { indexOfKey, keys } from "../../src/store/keys.js";
import { RunResults } from "../../src/store/results.js";
import type { ObjectStore } from "../../src/store/types.js";
import type { ResultEnvelope } from "../../src/types.js";
import { fmtMs } from "../../src/util/format.js";
import { followLogs } from "./logs-follow.js";
import { addBackendOptions, checkRunId, withStore, writeStdout, type BackendFlags } from "../common.js";

export function registerLogs(program: Command): void {
  const logs = program
    .command("logs")
    .description("print the captured log lines and errors of a run's chunks")
    .argument("[runId]", "the run id (default: the latest run)")
    .argument("[chunk]", "only this chunk index")
    .option("-f, --follow", "print running chunks' lines as they are written, until the run ends");
  addBackendOptions(logs).action(logsAction);
}

async function logsAction(runIdArg: string | undefined, chunk: string | undefined, flags: BackendFlags & { follow?: boolean }): Promise<void> {
  if (runIdArg !== undefined) checkRunId(runIdArg);
  const only = chunk === undefined ? undefined : chunkIndex(chunk, runIdArg ?? "<runId>");
  await withStore(flags, async (store) => {
    let runId = runIdArg;
    if (runId === undefined) {
      runId = await latestRun(store);
      process.stderr.write(`latest run: ${runId}\n`);
    }
    // run.ts brings the run machinery (esbuild): loaded when the command runs.
    const { readManifest } = await import("../../src/run/manifest.js");
    const m = await readManifest(store, runId);
    if (only !== undefined && only >= m.chunks) throw new UsageError(`run ${runId} has chunks 0 to ${m.chunks - 1}, not ${only}`, "name a chunk index in that range");
    if (flags.follow) return followLogs(store, runId, only);
    await writeStdout(chunkLogs(await envelopesOf(store, runId, only), runId, only).join("\n") + "\n");
  });
}

function chunkIndex(chunk: string, runId: string): number {
  const i = Number(chunk);
  if (!Number.isInteger(i) || i < 0) throw new UsageError(`chunk must be a chunk index (0, 1, ...), got "${chunk}"`, `e.g. fanout logs ${runId} 0`);
  return i;
}

/** The stored reply of every chunk that has one (its result, else its last failure), in index order. */
async function envelopesOf(store: ObjectStore, runId: string, only: number | undefined): Promise<ResultEnvelope[]> {
  const results = new RunResults(store, runId);
  const failures = (await store.list(keys.failuresPrefix(runId))).map(indexOfKey);
  const indices = [...new Set([...(await results.done()), ...failures])].filter((i) => only === undefined || i === only).sort((a, b) => a - b);
  const envs: ResultEnvelope[] = [];
  for (const i of indices) {
    envs.push((await results.envelope(i)) ?? (JSON.parse((await store.get(keys.failure(runId, i))).toString("utf8")) as ResultEnvelope));
  }
  return envs;
}

function chunkLogs(envs: readonly ResultEnvelope[], runId: string, only: number | undefined): string[] {
  const out: string[] = [];
  for (const env of envs) {
    out.push(`--- chunk ${env.index} (attempt ${env.attempt}, ${env.ok ? "ok" : "failed"}, ${fmtMs(env.timing.endedAt - env.timing.startedAt)}, ${env.worker.id})`, ...env.logs);
    if (env.error) out.push(`error (${env.error.kind}): ${env.error.stack ?? `${env.error.name}: ${env.error.message}`}`);
  }
  if (envs.length === 0) out.push(only === undefined ? `run ${runId} has no chunk output yet` : `chunk ${only} of run ${runId} has no output yet`);
  return out;
}

/** The newest run in the store. */
async function latestRun(store: ObjectStore): Promise<string> {
  const id = await latestRunId(store);
  if (id === undefined) throw new UsageError(`no runs in ${store.location}`, "start one with `fanout run <job>`, or point --store/--backend at where your runs are");
  return id;
}
