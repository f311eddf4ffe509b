// Issue 11, a claim left by a dead attempt. An attempt that dies between writing its chunk's
// commit claim and finishing its moves (a Lambda hard timeout or OOM, a killed worker process)
// keeps the claim; the client releases it when the attempt's outcome says its worker is gone
// (src/run/outputs.ts releaseOnDeath), so the retry commits its own outputs. The test setting
// FANOUT_TEST_DIE_AFTER_CLAIM=1 makes every first attempt's worker process exit right after its
// claim. On S3 the claim is a PutObject with If-None-Match: *, which s3rver ignores, so the
// workers reach it through a loopback proxy that enforces it as S3 documents ("How to prevent
// object overwrites with conditional writes",
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
import * as fs from "node:fs";
import * as path from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, type RunResult } from "fanout";
import { startS3rver, stopS3rver, type EmulatedS3 } from "../dist/src/compute/aws/s3rver.js";
import { ROOT } from "./helpers/cli.js";
import { startS3Proxy } from "./helpers/s3-proxy.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const DIR = tmpDir("output-dead");
const STORE = path.join(DIR, "store");
const BUCKET = "dead-out";
const WRITE = "test/fixtures/outputs/write.ts";
const N = 24;
const CHUNKS = 6;
let s3: EmulatedS3;
let proxy: Awaited<ReturnType<typeof startS3Proxy>>;
let client: S3Client;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  s3 = await startS3rver(path.join(DIR, "s3"), BUCKET);
  proxy = await startS3Proxy(s3.endpoint, { conditionalWrites: true });
  client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET })).catch(() => {});
  const env = { AWS_ENDPOINT_URL_S3: proxy.url, AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1", FANOUT_TEST_DIE_AFTER_CLAIM: "1", FANOUT_OUT_N: String(N) };
  for (const k of Object.keys(env)) saved[k] = process.env[k];
  // Local worker processes inherit this process's environment.
  Object.assign(process.env, env);
}, 60_000);

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  client?.destroy();
  await proxy?.close();
  if (s3) await stopS3rver(s3);
  rmDir(DIR);
});

/** What write.ts commits over range(0, N) in CHUNKS chunks, keyed `<runId>/<chunk>/<name>`. */
function want(runId: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const per = N / CHUNKS;
  for (let c = 0; c < CHUNKS; c++) {
    const nums = Array.from({ length: per }, (_, i) => c * per + i);
    out.set(`${runId}/${c}/nums.txt`, Buffer.from(nums.join("\n") + "\n"));
    out.set(`${runId}/${c}/sq.bin`, Buffer.from(nums.map((n) => (n * n) % 256)));
  }
  return out;
}

function folderObjects(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (!fs.existsSync(root)) return out;
  for (const e of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.set(path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join("/"), fs.readFileSync(path.join(e.parentPath, e.name)));
  }
  return out;
}

async function bucketObjects(prefix: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  for (const o of page.Contents ?? []) {
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key! }));
    out.set(o.Key!.slice(prefix.length), Buffer.from(await got.Body!.transformToByteArray()));
  }
  return out;
}

/** Every first attempt died after its claim; every chunk's outputs are there once, with the exact bytes, and the envelopes and summary agree. */
function expectCommitted(r: RunResult<number>, got: Map<string, Buffer>, location: string): void {
  expect(r.result).toBe(((N - 1) * N * (2 * N - 1)) / 6);
  // Every chunk's first attempt crashed (its worker process exited), and a later one won.
  for (let c = 0; c < CHUNKS; c++) expect(r.attempts.find((a) => a.index === c && a.attempt === 1)?.outcome, `chunk ${c}`).toBe("crash");
  const w = want(r.runId);
  expect([...got.keys()].sort()).toEqual([...w.keys()].sort());
  for (const [k, v] of w) expect(got.get(k)!.equals(v), k).toBe(true);
  expect(r.summary.output).toEqual({ location, objects: w.size, bytes: [...w.values()].reduce((n, b) => n + b.length, 0) });
}

describe("an attempt that dies after claiming its chunk: the retry commits its own outputs", () => {
  it("local backend, a local folder (the claim is a hard link)", async () => {
    const out = path.join(DIR, "out");
    const r = await run<number>(WRITE, { store: STORE, cwd: ROOT, chunks: CHUNKS, output: out, retries: 3 });
    expectCommitted(r, folderObjects(out), path.join(out, r.runId) + path.sep);
  }, 120_000);

  it("local backend, an S3 prefix (the claim is a conditional PutObject)", async () => {
    const r = await run<number>(WRITE, { store: STORE, cwd: ROOT, chunks: CHUNKS, output: `s3://${BUCKET}/dead/`, retries: 3 });
    expectCommitted(r, await bucketObjects("dead/"), `s3://${BUCKET}/dead/${r.runId}/`);
    // Each chunk's dead first attempt and its retry both claimed.
    expect(proxy.log.filter((q) => q.method === "PUT" && q.headers["if-none-match"] === "*").length).toBeGreaterThanOrEqual(2 * CHUNKS);
  }, 120_000);
});
