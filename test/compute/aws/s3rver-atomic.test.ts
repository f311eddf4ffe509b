// The emulated S3 replaces an object whole, as S3 does: a GET while the same key is being
// rewritten sees the old object or the new one, never a part ("Amazon S3 data consistency
// model", https://docs.aws.amazon.com/AmazonS3/latest/userguide/Welcome.html#ConsistencyModel).
// Plain s3rver writes in place, and a reader got short or empty bodies (s3rver-atomic.cjs).
import * as path from "node:path";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3rver, stopS3rver, type EmulatedS3 } from "../../../dist/src/compute/aws/s3rver.js";
import { rmDir, tmpDir } from "../../helpers/tmp.js";

const DIR = tmpDir("s3rver-atomic");
let s3: EmulatedS3;
let client: S3Client;
const A = Buffer.alloc(3 * 1024 * 1024, "a");
const B = Buffer.alloc(5 * 1024 * 1024, "b");

beforeAll(async () => {
  s3 = await startS3rver(path.join(DIR, "s3"), "atomic");
  client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  await client.send(new CreateBucketCommand({ Bucket: "atomic" })).catch(() => {});
}, 60_000);

afterAll(async () => {
  client?.destroy();
  if (s3) await stopS3rver(s3);
  rmDir(DIR);
});

describe("the emulated S3 under a rewrite", () => {
  it("every GET during 40 PUTs of the same key is one of the two objects, whole", async () => {
    await client.send(new PutObjectCommand({ Bucket: "atomic", Key: "k", Body: A }));
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 40; i++) await client.send(new PutObjectCommand({ Bucket: "atomic", Key: "k", Body: i % 2 ? A : B }));
      writing = false;
    })();
    const seen = { a: 0, b: 0, other: [] as string[] };
    while (writing) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: "atomic", Key: "k" }));
        const body = Buffer.from(await out.Body!.transformToByteArray());
        if (body.equals(A)) seen.a++;
        else if (body.equals(B)) seen.b++;
        else seen.other.push(`${body.length} bytes`);
      } catch (err) {
        seen.other.push(String(err));
      }
    }
    await writer;
    expect(seen.other).toEqual([]);
    expect(seen.a + seen.b).toBeGreaterThan(5);
  }, 60_000);
});
