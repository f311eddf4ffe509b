/**
 * An output prefix in the user's own bucket (`--output s3://bucket/prefix/`), reached as the
 * inputs are (src/store/s3-data.ts: the caller's credentials, AWS_ENDPOINT_URL_S3, path-style).
 * Bodies go up with lib-storage's Upload: one PUT when small, multipart when big.
 */
import { CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { OutputBody } from "../job/index.js";
import { counted, type OutputObject, type OutputSink } from "./output-sink.js";
import { clientFor, parseS3Url, type UserS3Access } from "./s3-data.js";
import type { S3Client } from "@aws-sdk/client-s3";

/** Multipart part size: S3's minimum is 5 MiB; 8 MiB keeps a 1 GB body well under 10,000 parts. */
const PART_SIZE = 8 * 1024 * 1024;

/** A claim that met 409 ConditionalRequestConflict is tried again this many times in all. */
const CLAIM_TRIES = 5;

export class S3Output implements OutputSink {
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly s3: S3Client;

  /** `access`: the caller's profile and region (the client's side); workers use their environment's. */
  constructor(location: string, access?: UserS3Access) {
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

  async move(from: string, to: string): Promise<void> {
    // CopySource is "bucket/key", URL-encoded part by part.
    const source = [this.bucket, ...this.keyOf(from).split("/")].map(encodeURIComponent).join("/");
    await this.s3.send(new CopyObjectCommand({ Bucket: this.bucket, Key: this.keyOf(to), CopySource: source }));
    await this.remove([from]);
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
