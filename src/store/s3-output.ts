/**
 * An output prefix in the user's own bucket (`--output s3://bucket/prefix/`), reached as the
 * inputs are (src/store/s3-data.ts: the caller's credentials, AWS_ENDPOINT_URL_S3, path-style).
 * Bodies go up with lib-storage's Upload: one PUT when small, multipart when big.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { Upload } from "@aws-sdk/lib-storage";
import type { OutputBody } from "../job/index.js";
import { counted, type OutputObject, type OutputSink } from "./output-sink.js";
import { clientFor, parseS3Url, type UserS3Access } from "./s3-data.js";
import type { S3Client } from "@aws-sdk/client-s3";

/** Multipart part size: S3's minimum is 5 MiB; 8 MiB keeps a 1 GB body well under 10,000 parts. */
const PART_SIZE = 8 * 1024 * 1024;

/**
 * How a staged object is copied to its final key. CopyObject copies at most 5 GB in one
 * request; a bigger object is copied in parts with UploadPartCopy ("Copying objects using the
 * multipart upload API", https://docs.aws.amazon.com/AmazonS3/latest/userguide/CopyingObjectsMPUapi.html).
 */
export interface CopyLimits {
  /** Objects up to this many bytes are copied with one CopyObject. */
  singleAtMost: number;
  /** Part size of a multipart copy: 5 MiB to 5 GiB, at most 10,000 parts. */
  partBytes: number;
}

const COPY_LIMITS: CopyLimits = { singleAtMost: 5 * 1024 ** 3, partBytes: 512 * 1024 ** 2 };
/** UploadPartCopy requests in flight at once for one object. */
const PART_COPIES = 8;

/** A claim that met 409 ConditionalRequestConflict is tried again this many times in all. */
const CLAIM_TRIES = 5;

export class S3Output implements OutputSink {
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly s3: S3Client;

  /**
   * `access`: the caller's profile and region (the client's side); workers use their
   * environment's. `copy`: when a commit copies in parts (tests make it small).
   */
  constructor(location: string, access?: UserS3Access, private readonly copy: CopyLimits = COPY_LIMITS) {
    this.s3 = clientFor(access);
    const { bucket, key } = parseS3Url(location);
    this.bucket = bucket;
    this.prefix = key === "" || key.endsWith("/") ? key : `${key}/`;
  }

  keyOf(rel: string): string {
    return this.prefix + rel;
  }

  async write(rel: string, body: OutputBody): Promise<number> {
    if (typeof body === "string" || body instanceof Uint8Array) {
      const buf = typeof body === "string" ? Buffer.from(body) : body;
      await new Upload({ client: this.s3, params: { Bucket: this.bucket, Key: this.keyOf(rel), Body: buf }, partSize: PART_SIZE, queueSize: 4 }).done();
      return buf.byteLength;
    }
    const c = counted(body);
    await new Upload({ client: this.s3, params: { Bucket: this.bucket, Key: this.keyOf(rel), Body: c.stream }, partSize: PART_SIZE, queueSize: 4 }).done();
    return c.bytes();
  }

  async move(from: string, to: string, bytes: number): Promise<void> {
    // CopySource is "bucket/key", URL-encoded part by part.
    const source = [this.bucket, ...this.keyOf(from).split("/")].map(encodeURIComponent).join("/");
    if (bytes > this.copy.singleAtMost) await this.copyInParts(source, this.keyOf(to), bytes);
    else await this.s3.send(new CopyObjectCommand({ Bucket: this.bucket, Key: this.keyOf(to), CopySource: source }));
    await this.remove([from]);
  }

  /** Copy `bytes` bytes of `source` to `key` with a multipart upload of UploadPartCopy ranges; aborted if a part fails. */
  private async copyInParts(source: string, key: string, bytes: number): Promise<void> {
    const { UploadId } = await this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }));
    const limit = pLimit(PART_COPIES);
    const ranges: [number, number][] = [];
    for (let at = 0; at < bytes; at += this.copy.partBytes) ranges.push([at, Math.min(bytes, at + this.copy.partBytes) - 1]);
    try {
      const parts = await Promise.all(
        ranges.map(([first, last], i) =>
          limit(async () => {
            const out = await this.s3.send(
              new UploadPartCopyCommand({ Bucket: this.bucket, Key: key, UploadId, PartNumber: i + 1, CopySource: source, CopySourceRange: `bytes=${first}-${last}` }),
            );
            return { PartNumber: i + 1, ETag: out.CopyPartResult?.ETag };
          }),
        ),
      );
      await this.s3.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId })).catch(() => {});
      throw err;
    }
  }

  async remove(rels: string[]): Promise<void> {
    for (let i = 0; i < rels.length; i += 1000) {
      const batch = rels.slice(i, i + 1000).map((r) => ({ Key: this.keyOf(r) }));
      await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }));
    }
  }

  async list(relPrefix: string): Promise<OutputObject[]> {
    const out: OutputObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.keyOf(relPrefix), ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const o of page.Contents ?? []) if (o.Key !== undefined) out.push({ rel: o.Key.slice(this.prefix.length), size: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async clear(relPrefix: string): Promise<void> {
    const found = await this.list(relPrefix);
    if (found.length) await this.remove(found.map((o) => o.rel));
  }

  /**
   * PutObject with If-None-Match: *: S3 answers 412 PreconditionFailed when the key exists,
   * and 409 ConditionalRequestConflict to a writer that raced another, which should try again
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html). A store
   * that ignores the header (s3rver, older MinIO) lets every writer win, as before.
   */
  async claim(rel: string, body: string): Promise<boolean> {
    for (let tries = 1; ; tries++) {
      try {
        await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.keyOf(rel), Body: body, IfNoneMatch: "*" }));
        return true;
      } catch (err) {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.name === "PreconditionFailed" || e.$metadata?.httpStatusCode === 412) return false;
        const conflict = e.name === "ConditionalRequestConflict" || e.$metadata?.httpStatusCode === 409;
        if (!conflict || tries >= CLAIM_TRIES) throw err;
      }
    }
  }

  async read(rel: string): Promise<Buffer | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(rel) }));
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (err) {
      if ((err as { name?: string }).name === "NoSuchKey") return undefined;
      throw err;
    }
  }
}
