// A worker whose role may not read the job's S3 input: the first denied read stops the run
// with one line naming the grant to add, instead of every chunk failing alike. A loopback
// proxy in front of s3rver denies object reads as S3 does (see test/helpers/s3-deny-proxy.ts).
import * as fs from "node:fs";
import * as path from "node:path";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3rver, stopS3rver, type EmulatedS3 } from "../dist/src/compute/aws/s3rver.js";
import { fanout } from "./helpers/cli.js";
import { startS3DenyProxy } from "./helpers/s3-deny-proxy.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const DIR = tmpDir("s3-denied");
let s3: EmulatedS3;
let proxy: Awaited<ReturnType<typeof startS3DenyProxy>>;

beforeAll(async () => {
  s3 = await startS3rver(path.join(DIR, "s3"), "fanout-denied-runs");
  const client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  await client.send(new CreateBucketCommand({ Bucket: "locked" }));
  for (let i = 0; i < 8; i++) await client.send(new PutObjectCommand({ Bucket: "locked", Key: `logs/${i}.log`, Body: `line ${i}\n`.repeat(50) }));
  client.destroy();
  proxy = await startS3DenyProxy(s3.endpoint, "locked");
  fs.writeFileSync(path.join(DIR, "job.ts"), `import { defineJob, lines } from "fanout";\nexport default defineJob({ input: lines("s3://locked/logs/"), map: (ls) => ls.length, reduce: (ns) => ns.reduce((a, b) => a + b, 0) });\n`);
}, 60_000);

afterAll(async () => {
  proxy?.close();
  if (s3) await stopS3rver(s3);
  rmDir(DIR);
});

describe("an S3 input the workers may not read", () => {
  it("stops the run at the first denied read with one line naming the grant", async () => {
    const env = { AWS_ENDPOINT_URL_S3: proxy.url, AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" };
    const res = await fanout(["run", path.join(DIR, "job.ts"), "--chunks", "8", "--concurrency", "2", "-q", "--store", path.join(DIR, "store")], { env });
    expect(res.code).toBe(3);
    const lines = res.stderr.split("\n").filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^fanout: chunk \d: access denied reading s3:\/\/locked\/logs\/\d\.log — grant the workers read access: fanout deploy --read s3:\/\/locked\/logs\/$/);
    // Stopped at once: at most the two chunks in flight were denied, not all eight (with retries).
    expect(proxy.denied()).toBeGreaterThanOrEqual(1);
    expect(proxy.denied()).toBeLessThanOrEqual(2);
  });
});
