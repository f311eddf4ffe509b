// Issue 11: what lines() over an S3 prefix costs the client in requests, counted by a logging
// proxy in front of s3rver. A small listing asks each object's Content-Encoding (one HEAD
// each); a large one does not (a HEAD per object would cost more than reading), and a worker
// that finds gzip bytes in an object planned as text stops the run with one clear line.
import * as fs from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lines, run } from "fanout";
import { startS3rver, stopS3rver, type EmulatedS3 } from "../dist/src/compute/aws/s3rver.js";
import { planChunks } from "../dist/src/plan/plan.js";
import { withEnv } from "./helpers/env.js";
import { startS3Proxy } from "./helpers/s3-proxy.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const DIR = tmpDir("s3-listing");
const BUCKET = "listing-data";
let s3: EmulatedS3;
let proxy: Awaited<ReturnType<typeof startS3Proxy>>;
const env = () => ({ AWS_ENDPOINT_URL_S3: proxy.url, AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" });

beforeAll(async () => {
  s3 = await startS3rver(path.join(DIR, "s3"), BUCKET);
  proxy = await startS3Proxy(s3.endpoint);
  const client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  const put = (Key: string, Body: string | Buffer, ContentEncoding?: string) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body, ...(ContentEncoding ? { ContentEncoding } : {}) }));
  await client.send(new CreateBucketCommand({ Bucket: BUCKET })).catch(() => {});
  // few/: 10 objects, one named .gz, one gzip-encoded under a plain name, one empty.
  for (let i = 0; i < 7; i++) await put(`few/${i}.log`, `few ${i} a\nfew ${i} b\n`);
  await put("few/named.log.gz", gzipSync("named 1\nnamed 2\n"));
  await put("few/encoded.log", gzipSync("encoded 1\nencoded 2\n"), "gzip");
  await put("few/empty.log", "");
  // many/: 200 objects; many-bad/: 70, one of them gzip-encoded under a plain name.
  for (let i = 0; i < 200; i++) await put(`many/${String(i).padStart(3, "0")}.log`, `many ${i}\n`);
  for (let i = 0; i < 70; i++) await put(`many-bad/${String(i).padStart(3, "0")}.log`, i === 40 ? gzipSync("hidden\n") : `ok ${i}\n`, i === 40 ? "gzip" : undefined);
  client.destroy();
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  if (s3) await stopS3rver(s3);
  rmDir(DIR);
});

const count = (method: string, query: string) => proxy.log.filter((r) => r.method === method && r.url.includes(query)).length;

describe("lines() over an S3 prefix: requests the client makes", () => {
  it("a small listing: one LIST and one HEAD per plain, non-empty object; the encoded object is a chunk of its own", async () => {
    proxy.log.length = 0;
    const plan = await withEnv(env(), () => planChunks(lines(`s3://${BUCKET}/few/`).spec, 4, DIR));
    expect(count("GET", "list-type=2")).toBe(1);
    // 10 objects, less the .gz-named one and the empty one.
    expect(count("HEAD", "/few/")).toBe(8);
    expect(plan.notes).toContain("2 gzip objects cannot be split by byte range: each is read whole by one chunk of its own");
    const res = await withEnv(env(), () => run<string[]>(writeLinesJob("few"), { cwd: DIR, store: path.join(DIR, "store"), chunks: 4 }));
    expect(res.result.sort()).toEqual(["encoded 1", "encoded 2", "named 1", "named 2", ...[0, 1, 2, 3, 4, 5, 6].flatMap((i) => [`few ${i} a`, `few ${i} b`])].sort());
  });

  it("a large listing (200 objects): one LIST and no HEAD", async () => {
    proxy.log.length = 0;
    const plan = await withEnv(env(), () => planChunks(lines(`s3://${BUCKET}/many/`).spec, 8, DIR));
    expect(count("GET", "list-type=2")).toBe(1);
    expect(count("HEAD", "")).toBe(0);
    expect(plan.sources).toHaveLength(8);
  });

  it("a large listing with a gzip-encoded object under a plain name: the run stops with one clear line", async () => {
    const job = writeLinesJob("many-bad");
    const err = await withEnv(env(), () => run(job, { cwd: DIR, store: path.join(DIR, "store"), chunks: 7 })).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      new RegExp(`^chunk \\d: s3://${BUCKET}/many-bad/040\\.log holds gzip data but was planned as plain text \\(gzip is known by a \\.gz name, or on S3 by Content-Encoding when a listing has at most 64 objects\\), so its byte ranges cannot be split into lines$`),
    );
    expect((err as { hint?: string }).hint).toBe("give it a name ending in .gz: such objects are read whole, one chunk each");
  });

  it("a local folder: a gzip file under a plain name stops the run the same way", async () => {
    const data = path.join(DIR, "local-gz");
    fs.mkdirSync(data, { recursive: true });
    fs.writeFileSync(path.join(data, "a.log"), "plain\n");
    fs.writeFileSync(path.join(data, "b.log"), gzipSync("zipped\n"));
    const job = path.join(DIR, "local-gz.ts");
    fs.writeFileSync(job, `import { defineJob, lines } from "fanout";\nexport default defineJob({ input: lines("local-gz"), map: (ls) => ls });\n`);
    const err = await run(job, { cwd: DIR, store: path.join(DIR, "store"), chunks: 2 }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^chunk \d: file:\/\/.*\/local-gz\/b\.log holds gzip data but was planned as plain text/);
  });
});

let seq = 0;
function writeLinesJob(prefix: string): string {
  const file = path.join(DIR, `job-${++seq}.ts`);
  fs.writeFileSync(file, `import { defineJob, lines } from "fanout";\nexport default defineJob({ input: lines("s3://${BUCKET}/${prefix}/"), map: (ls) => ls, reduce: (rs) => rs.flat() });\n`);
  return file;
}
