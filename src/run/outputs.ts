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
  const held = await readClaim(sink, runId, index);
  if (held?.attempt !== attempt) return false;
  await dropClaim(sink, runId, index, attempt);
  return true;
}

/** What a chunk's claim says: the attempt holding it and, from workers that record it, when it was made (epoch ms). */
interface Claim {
  attempt?: number;
  at?: number;
}

async function readClaim(sink: OutputSink, runId: string, index: number): Promise<Claim | undefined> {
  const body = await sink.read(outputKeys.claim(runId, index));
  return body ? (JSON.parse(body.toString("utf8")) as Claim) : undefined;
}

/** Drop what the attempt moved to the chunk's final keys and what it staged, then its claim. */
async function dropClaim(sink: OutputSink, runId: string, index: number, attempt: number): Promise<void> {
  await sink.clear(outputKeys.chunk(runId, index));
  await sink.clear(outputKeys.attempt(runId, index, attempt));
  await sink.remove([outputKeys.claim(runId, index)]);
}

/**
 * No Lambda invocation outlives its function's timeout, at most 900 s ("Configure Lambda function
 * timeout", https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html); ten more
 * seconds allow for the clocks of the worker that wrote the claim and of this client.
 */
const LAMBDA_LONGEST_MS = 910_000;

/**
 * Whether a claim left from before a resume can have no worker behind it. Local workers exit
 * when the client that started them dies (worker/local.ts, on "disconnect"), and a resume runs
 * only once that client is gone (its lease); a Lambda attempt runs on after its client died,
 * but not past Lambda's longest timeout. A claim without its time (an older worker's) is kept.
 */
export function claimAbandoned(claim: Claim, workersDieWithClient: boolean, now: number): boolean {
  if (workersDieWithClient) return true;
  return claim.at !== undefined && now - claim.at > LAMBDA_LONGEST_MS;
}

/**
 * Before a resumed run dispatches: release the claims of its unfinished chunks that no worker
 * can still hold (a client killed while an attempt was between its claim and its last move),
 * so their new attempts commit their own outputs instead of failing as busy. Returns the chunks.
 */
export async function releaseAbandonedClaims(location: string, runId: string, todo: readonly number[], workersDieWithClient: boolean, access?: UserS3Access, now = Date.now()): Promise<number[]> {
  const sink = await openOutput(location, access);
  const unfinished = new Set(todo);
  const prefix = outputKeys.claims(runId);
  const released: number[] = [];
  for (const { rel } of await sink.list(prefix)) {
    const index = Number(rel.slice(prefix.length));
    if (!unfinished.has(index)) continue;
    const claim = await readClaim(sink, runId, index);
    if (claim?.attempt === undefined || !claimAbandoned(claim, workersDieWithClient, now)) continue;
    await dropClaim(sink, runId, index, claim.attempt);
    released.push(index);
  }
  return released;
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
