import * as fs from "node:fs";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { NoSuchKeyError, type ObjectStore } from "./types.js";

export interface S3ClientOptions {
  /** A region, or a provider of one (resolved at the first request, as the SDK's own chain is). */
  region?: string | (() => Promise<string>);
  /** An S3-compatible endpoint (s3rver, MinIO): implies path-style addressing. */
  endpoint?: string;
  credentials?: S3ClientConfig["credentials"];
  /** The AWS profile: the same credentials (and chain) as the Lambda client of the run. */
  profile?: string;
  /** Retry S3's 503 SlowDown harder, with the SDK's adaptive (client-rate-limiting) mode. */
  retry?: { mode: "adaptive"; maxAttempts: number };
  /** Sockets per host: the SDK's default of 50 silently caps concurrency. */
  maxSockets?: number;
  /** Follow a bucket to its own region (user buckets may live anywhere). */
  followRegionRedirects?: boolean;
}

/** One place that builds S3 clients, so every client gets the same endpoint handling. */
export function makeS3Client(o: S3ClientOptions): S3Client {
  const maxSockets = Math.max(50, o.maxSockets ?? 50);
  return new S3Client({
    ...(o.region ? { region: o.region } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    ...(o.profile ? { profile: o.profile } : {}),
    ...(o.retry ? { retryMode: o.retry.mode, maxAttempts: o.retry.maxAttempts } : {}),
    ...(o.followRegionRedirects ? { followRegionRedirects: true } : {}),
    ...(o.endpoint
      ? {
          endpoint: o.endpoint,
          forcePathStyle: true,
          // Without these, a streamed PutObject to s3rver is stored *with* its aws-chunked
          // framing inside the object, and nothing reports an error.
          requestChecksumCalculation: "WHEN_REQUIRED",
          responseChecksumValidation: "WHEN_REQUIRED",
        }
      : {}),
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    }),
  });
}

/**
 * The worker's result PUT: S3 answers 503 SlowDown while a prefix scales up; the SDK's default
 * 3 attempts would turn that into a failed chunk, and recomputing a chunk to retry one PUT is
 * the expensive way. Adaptive mode also slows this client's request rate after throttles.
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ErrorBestPractices.html)
 */
export const RESULT_PUT_RETRY = { mode: "adaptive", maxAttempts: 10 } as const;

const PART_SIZE = 8 * 1024 * 1024;
const MULTIPART_FROM = 16 * 1024 * 1024;

/** Reads of an object whose body was cut off, before the error is the caller's. */
const BODY_TRIES = 3;

/** A body that stopped arriving: the connection was reset or closed before its end. */
function cutMidBody(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === "ECONNRESET" || e?.code === "ERR_STREAM_PREMATURE_CLOSE" || e?.message === "aborted";
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NoSuchKey" || e?.name === "NotFound" || e?.$metadata?.httpStatusCode === 404;
}

/** The bucket as an ObjectStore: the same keys as the folder store. */
export class S3Store implements ObjectStore {
  readonly location: string;
  constructor(readonly client: S3Client, readonly bucket: string) {
    this.location = `s3://${bucket}/`;
  }

  /**
   * GetObject and its whole body. The SDK retries a request until its response headers arrive,
   * not the body after them (aws-sdk-js-v3 #8098): a connection cut mid-body ("aborted",
   * ECONNRESET) would fail the read, so the object is asked for again, a few times.
   */
  private async read(input: { Key: string; Range?: string }): Promise<Buffer> {
    for (let tries = 1; ; tries++) {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, ...input }));
      try {
        return Buffer.from(await out.Body!.transformToByteArray());
      } catch (err) {
        if (tries >= BODY_TRIES || !cutMidBody(err)) throw err;
      }
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await this.read({ Key: key });
    } catch (err) {
      if (isNotFound(err)) throw new NoSuchKeyError(key, this.location);
      throw err;
    }
  }

  async getIfExists(key: string): Promise<Buffer | undefined> {
    try {
      return await this.get(key);
    } catch (err) {
      if (err instanceof NoSuchKeyError) return undefined;
      throw err;
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    try {
      return await this.read({ Key: key, Range: `bytes=${start}-${end - 1}` });
    } catch (err) {
      if (isNotFound(err)) throw new NoSuchKeyError(key, this.location);
      // A range that starts past the end reads as empty, as it does for the folder store.
      if ((err as { name?: string }).name === "InvalidRange") return Buffer.alloc(0);
      throw err;
    }
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    // Large bodies (a run's payloads, a big result) go up in parallel parts.
    if (body.length > MULTIPART_FROM) {
      await new Upload({ client: this.client, params: { Bucket: this.bucket, Key: key, Body: body }, queueSize: 4, partSize: PART_SIZE }).done();
      return;
    }
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }));
  }

  async putFile(key: string, path: string): Promise<void> {
    // lib-storage switches to multipart for large inputs and streams the file.
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: fs.createReadStream(path), ContentLength: fs.statSync(path).size },
      queueSize: 4,
      partSize: PART_SIZE,
    });
    await upload.done();
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }

  async delete(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const out = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      );
      if (out.Errors?.length) {
        const e = out.Errors[0]!;
        throw new Error(`could not delete ${out.Errors.length} objects from ${this.location}, e.g. ${e.Key}: ${e.Code} ${e.Message}`);
      }
    }
  }
}
