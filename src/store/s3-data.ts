/**
 * The user's own buckets (input data), as opposed to the run bucket: listing a prefix on the
 * client, and ranged, etag-pinned reads in the workers. The credentials are the caller's
 * standard chain (on Lambda, the worker role); an S3-compatible store is reached through the
 * SDK's standard AWS_ENDPOINT_URL_S3, with path-style addressing.
 */
import { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
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
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 || undefined;
  const region = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || undefined;
  shared ??= makeS3Client({ ...(region ? { region } : { region: "us-east-1" }), ...(endpoint ? { endpoint } : {}), followRegionRedirects: true, maxSockets: 256 });
  return shared;
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

const deniedHint = (url: string) => `give your credentials s3:ListBucket on that prefix (the workers need \`fanout deploy --read ${url}\`)`;

/** One listed object. `gzip`: named .gz or stored with Content-Encoding gzip (only looked up when `heads`). */
export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  gzip: boolean;
}

/**
 * Every object under `s3://bucket/prefix`, in key order: ListObjectsV2, paged with its
 * continuation token. A missing bucket or a denied listing is a clear error before any chunk
 * runs. `heads`: also HEAD each object to learn its Content-Encoding (lines() needs it).
 */
export async function listS3Prefix(url: string, opts: { heads?: boolean } = {}): Promise<ListedObject[]> {
  const { bucket, key: prefix } = parseS3Url(url);
  const out: ListedObject[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
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
  if (opts.heads) {
    const limit = pLimit(32);
    await Promise.all(
      out.map((o) =>
        limit(async () => {
          if (o.gzip || o.size === 0) return;
          const head = await client().send(new HeadObjectCommand({ Bucket: bucket, Key: o.key, IfMatch: o.etag }));
          o.gzip = /\bgzip\b/i.test(head.ContentEncoding ?? "");
        }),
      ),
    );
  }
  return out;
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
