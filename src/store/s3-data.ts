/**
 * The user's own buckets (input data), as opposed to the run bucket: listing a prefix on the
 * client, and ranged, etag-pinned reads in the workers. The credentials are the caller's
 * standard chain (on Lambda, the worker role); an S3-compatible store is reached through the
 * SDK's standard AWS_ENDPOINT_URL_S3, with path-style addressing.
 */
import { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { ConfigError, INPUT_DENIED, UsageError } from "../errors.js";
import { makeS3Client } from "./s3.js";

/** `s3://bucket/key-or-prefix`, split. */
export function parseS3Url(url: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m || !m[1]) throw new UsageError(`"${url}" is not an S3 URL`, "write it as s3://bucket/key or s3://bucket/prefix/");
  return { bucket: m[1], key: m[2] ?? "" };
}

let shared: S3Client | undefined;
/** One client per process for user data, from the environment's endpoint, region and credentials. */
export function client(): S3Client {
  // Without a region variable, the SDK's chain (AWS_PROFILE's region), as the client's listing uses.
  shared ??= userClient(process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || chainRegion(undefined), undefined);
  return shared;
}

/** A client for user buckets: any S3-compatible store through AWS_ENDPOINT_URL_S3, a bucket in another region followed. */
function userClient(region: string | (() => Promise<string>), profile: string | undefined): S3Client {
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 || undefined;
  return makeS3Client({ region, ...(profile ? { profile } : {}), ...(endpoint ? { endpoint } : {}), followRegionRedirects: true, maxSockets: 256 });
}

/**
 * Whose credentials and which region the caller's own S3 requests use: the run's `--profile`
 * and `--region` (AwsOptions), each falling back to the SDK's chain (AWS_PROFILE, AWS_REGION,
 * then the profile's region), as the run's Lambda and store clients do.
 */
export interface UserS3Access {
  profile?: string;
  region?: string;
}

/** The SDK's region chain for `profile`; us-east-1 when it finds none (a user bucket's region is then followed by redirect). */
function chainRegion(profile: string | undefined): () => Promise<string> {
  let found: Promise<string> | undefined;
  return () =>
    (found ??= (async () => {
      const probe = new S3Client(profile ? { profile } : {});
      try {
        return await probe.config.region();
      } catch {
        // "Region is missing": the chain found none.
        return "us-east-1";
      } finally {
        probe.destroy();
      }
    })());
}

const byAccess = new Map<string, S3Client>();
/**
 * The client for the caller's requests (listing inputs, sweeping and counting outputs) made
 * with the run's profile and region; without either, the environment's shared client.
 */
export function clientFor(access: UserS3Access | undefined): S3Client {
  if (!access?.profile && !access?.region) return client();
  const id = `${access.profile ?? ""}\n${access.region ?? ""}`;
  let c = byAccess.get(id);
  if (!c) byAccess.set(id, (c = userClient(access.region ?? chainRegion(access.profile), access.profile)));
  return c;
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

const deniedHint = (url: string) => `give your credentials s3:ListBucket on that prefix (the workers need \`fanout deploy --read ${url}\`)`;

/** One listed object. `gzip`: named .gz, or stored with Content-Encoding gzip (once markGzipEncoded looked). */
export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  gzip: boolean;
}

/**
 * Every object under `s3://bucket/prefix`, in key order: ListObjectsV2, paged with its
 * continuation token. A missing bucket or a denied listing is a clear error before any chunk
 * runs. `gzip` is from the key's .gz suffix; markGzipEncoded asks S3 for the rest.
 */
export async function listS3Prefix(url: string, opts: { access?: UserS3Access } = {}): Promise<ListedObject[]> {
  const { bucket, key: prefix } = parseS3Url(url);
  const s3 = clientFor(opts.access);
  const out: ListedObject[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined || o.Key.endsWith("/")) continue;
        out.push({ key: o.Key, size: o.Size ?? 0, etag: o.ETag ?? "", gzip: o.Key.endsWith(".gz") });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === "NoSuchBucket" || (status(err) === 404 && !name?.startsWith("NoSuchKey"))) {
      throw new UsageError(`input bucket "${bucket}" does not exist (${url})`, "check the bucket name (and AWS_ENDPOINT_URL_S3 for an S3-compatible store)");
    }
    if (name === "AccessDenied" || status(err) === 403) throw new ConfigError(`access denied listing ${url}`, deniedHint(url), err);
    throw err;
  }
  out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return out;
}

/** HEADs in flight at once while reading Content-Encodings. */
const HEADS_AT_ONCE = 32;

/**
 * Mark each listed object of `bucket` stored with Content-Encoding gzip (one HEAD each,
 * pinned to the listed etag); objects already marked, and empty ones, are not asked.
 */
export async function markGzipEncoded(bucket: string, objects: ListedObject[], access?: UserS3Access): Promise<void> {
  const s3 = clientFor(access);
  const limit = pLimit(HEADS_AT_ONCE);
  await Promise.all(
    objects.map((o) =>
      limit(async () => {
        if (o.gzip || o.size === 0) return;
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: o.key, IfMatch: o.etag }));
        o.gzip = /\bgzip\b/i.test(head.ContentEncoding ?? "");
      }),
    ),
  );
}

/** The object changed after the run listed it: reading on would give different data. */
export class ObjectChangedError extends Error {
  override name = "ObjectChangedError";
  constructor(url: string, listed: string, now: string | undefined) {
    super(
      `${url} changed after the run listed it (etag ${listed}, now ${now ?? "different"}): its chunks would read different data — start a new run to read the new version`,
    );
  }
}

/** Denied by the worker's role: the one grant to add. */
export class ObjectAccessDeniedError extends Error {
  override name = "ObjectAccessDeniedError";
  /** Every chunk reading under this prefix would be denied alike: the client stops the run on it (src/exec/policy.ts fatalOf). */
  readonly code = INPUT_DENIED;
  constructor(url: string) {
    const { bucket, key } = parseS3Url(url);
    const prefix = key.includes("/") ? key.slice(0, key.lastIndexOf("/") + 1) : key;
    super(`access denied reading ${url} — grant the workers read access: fanout deploy --read s3://${bucket}/${prefix}`);
  }
}

/**
 * GET an object, or bytes [start, end) of it, pinned to the etag listed. S3 enforces If-Match
 * (412 PreconditionFailed); the ETag of the answer is checked too, for S3-compatible stores
 * that ignore If-Match (s3rver does).
 */
async function get(url: string, etag: string, range?: { start: number; end: number }) {
  const { bucket, key } = parseS3Url(url);
  try {
    const out = await client().send(
      new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag, ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}) }),
    );
    if (out.ETag !== undefined && out.ETag !== etag) {
      (out.Body as Readable | undefined)?.destroy?.();
      throw new ObjectChangedError(url, etag, out.ETag);
    }
    return out;
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === "PreconditionFailed" || status(err) === 412) throw new ObjectChangedError(url, etag, undefined);
    if (name === "NoSuchKey") throw new ObjectChangedError(url, etag, "deleted");
    if (name === "AccessDenied" || status(err) === 403) throw new ObjectAccessDeniedError(url);
    throw err;
  }
}

/** An S3 object still at `etag` (or bytes [start, end) of it) as a stream. */
export async function streamS3(url: string, etag: string, range?: { start: number; end: number }): Promise<Readable> {
  if (range && range.end <= range.start) return Readable.from([]);
  const out = await get(url, etag, range);
  return out.Body as Readable;
}
