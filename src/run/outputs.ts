/**
 * The client's side of `--output`: where `ctx.write` goes (checked before anything is opened),
 * and at the end of a run the staging left by killed attempts swept away and the committed
 * objects counted for the summary.
 */
import * as path from "node:path";
import { UsageError } from "../errors.js";
import type { BackendName } from "../options.js";
import { openOutput, outputKeys } from "../store/output.js";
import type { OutputSink } from "../store/output-sink.js";
import type { UserS3Access } from "../store/s3-data.js";
import type { InfraError } from "../errors.js";
import type { RunSummary, Task } from "../types.js";

/** `--output` resolved: `s3://bucket/prefix/` (ending in /), or an absolute folder on this machine. */
export function resolveOutput(output: string | undefined, backend: BackendName, cwd: string): string | undefined {
  if (output === undefined) return undefined;
  if (typeof output !== "string" || output.trim() === "") throw new UsageError("--output needs a location", "give --output s3://bucket/prefix/ or --output ./folder");
  if (output.startsWith("s3://")) {
    if (!/^s3:\/\/[^/]+/.test(output)) throw new UsageError(`"${output}" is not an S3 URL`, "write it as s3://bucket/prefix/");
    const bare = /^s3:\/\/[^/]+$/.test(output);
    return bare || output.endsWith("/") ? (bare ? `${output}/` : output) : `${output}/`;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(output)) throw new UsageError(`--output ${output}: only s3:// URLs and local folders are supported`, "give --output s3://bucket/prefix/ or --output ./folder");
  if (backend !== "local") {
    throw new UsageError(`--output ${output} is a folder on this machine, which ${backend} workers cannot reach`, "give an S3 prefix: --output s3://bucket/prefix/ (and fanout deploy --write s3://bucket/prefix/)");
  }
  return path.resolve(cwd, output);
}

/**
 * Sweep the run's staging (attempts killed mid-chunk leave some) and its commit claims (every
 * chunk is settled, and copies of it were cancelled), and count what was committed.
 */
export async function finishOutputs(location: string, runId: string, access?: UserS3Access): Promise<NonNullable<RunSummary["output"]>> {
  const sink = await openOutput(location, access);
  await sink.clear(outputKeys.staging(runId));
  await sink.clear(outputKeys.claims(runId));
  const committed = (await sink.list(outputKeys.run(runId))).filter((o) => !o.rel.startsWith(outputKeys.hidden(runId)));
  const shown = location.startsWith("s3://") ? `${location}${outputKeys.run(runId)}` : path.join(location, runId) + path.sep;
  return { location: shown, objects: committed.length, bytes: committed.reduce((n, o) => n + o.size, 0) };
}

/**
 * Whether an attempt that ended with `err` surely has no worker left running it: its process
 * died or was killed (crash, out of memory, a timeout the local pool enforces by killing it),
 * or Lambda ended the invocation (an unhandled error, Runtime.OutOfMemory, "Task timed out").
 * A 429, a lost connection or a cancel say nothing of the kind.
 */
export function workerGone(err: InfraError): boolean {
  return err.kind === "crash" || err.kind === "oom" || err.kind === "timeout";
}

/**
 * After a dead attempt: if it holds its chunk's commit claim (it died between claiming and
 * finishing its moves), drop what it moved, what it staged, and then the claim, so the next
 * attempt commits its own outputs. A claim naming another attempt (a live copy) is left alone;
 * only the holder ever removes its claim, so it cannot change between the read and the removal.
 */
export async function releaseDeadClaim(sink: OutputSink, runId: string, index: number, attempt: number): Promise<boolean> {
  const claim = outputKeys.claim(runId, index);
  const body = await sink.read(claim);
  if (!body || (JSON.parse(body.toString("utf8")) as { attempt?: number }).attempt !== attempt) return false;
  await sink.clear(outputKeys.chunk(runId, index));
  await sink.clear(outputKeys.attempt(runId, index, attempt));
  await sink.remove([claim]);
  return true;
}

/** The executor's onAttemptFailed for a run with an output: release the claim of an attempt whose worker is gone. */
export function releaseOnDeath(location: string, access?: UserS3Access): (task: Task, err: InfraError) => Promise<void> {
  let sink: Promise<OutputSink> | undefined;
  return async (task, err) => {
    if (!workerGone(err)) return;
    // A failed release leaves the claim as before: the retry then fails to commit rather than lose data.
    await (sink ??= openOutput(location, access))
      .then((s) => releaseDeadClaim(s, task.runId, task.index, task.attempt))
      .catch(() => {});
  };
}
