/**
 * The client's side of `--output`: where `ctx.write` goes (checked before anything is opened),
 * and at the end of a run the staging left by killed attempts swept away and the committed
 * objects counted for the summary.
 */
import * as path from "node:path";
import { UsageError } from "../errors.js";
import type { BackendName } from "../options.js";
import { openOutput, outputKeys } from "../store/output.js";
import type { UserS3Access } from "../store/s3-data.js";
import type { RunSummary } from "../types.js";

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
