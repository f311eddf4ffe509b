/**
 * S3 inputs on the client: list a key or prefix once (the listing is what every attempt will
 * read, etags included), and refuse an empty one before anything is dispatched.
 */
import { minimatch } from "minimatch";
import { UsageError } from "../errors.js";
import type { AwsOptions } from "../options.js";
import type { UserS3Access } from "../store/s3-data.js";
import { HEAD_AT_MOST, type Listed } from "./listed.js";

/** The caller's S3 profile and region from the run's AWS options (--profile, --region); the rest is the SDK's chain. */
export function userS3Access(aws: AwsOptions | undefined): UserS3Access {
  return { ...(aws?.profile ? { profile: aws.profile } : {}), ...(aws?.region ? { region: aws.region } : {}) };
}

/**
 * The objects under an s3:// URL: the object itself when the URL names one key exactly,
 * else every object under the prefix (filtered by `match`, a glob over the key after it).
 * `heads` (lines()): learn which are stored gzip-encoded, when there are few enough to ask.
 */
export async function listS3Input(url: string, opts: { heads: boolean; match?: string; what: string; access?: UserS3Access }): Promise<Listed[]> {
  const { listS3Prefix, markGzipEncoded, parseS3Url } = await import("../store/s3-data.js");
  const { bucket, key: prefix } = parseS3Url(url);
  let found = await listS3Prefix(url, opts.access ? { access: opts.access } : {});
  // s3://b/logs/a.txt also lists s3://b/logs/a.txt.bak: a URL that names a key reads that key.
  const exact = found.filter((o) => o.key === prefix);
  if (exact.length && !prefix.endsWith("/")) found = exact;
  if (opts.match !== undefined) found = found.filter((o) => minimatch(o.key.slice(prefix.length), opts.match!, { dot: false }));
  if (found.length === 0) {
    throw new UsageError(
      `${opts.what}("${url}") found no objects${opts.match !== undefined ? ` matching "${opts.match}"` : ""} in bucket ${bucket}`,
      "check the prefix (keys are case-sensitive; a folder prefix ends with /)",
    );
  }
  // A HEAD per object would cost a large listing more than its reads: past HEAD_AT_MOST the worker checks instead.
  if (opts.heads && found.length <= HEAD_AT_MOST) await markGzipEncoded(bucket, found, opts.access);
  return found.map((o) => ({ url: `s3://${bucket}/${o.key}`, key: o.key, size: o.size, etag: o.etag, gzip: o.gzip }));
}
