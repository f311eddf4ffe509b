// Issue 11, a claim left by a dead attempt. An attempt that dies between writing its chunk's
// commit claim and finishing its moves (a Lambda hard timeout or OOM, a killed worker process)
// keeps the claim; the client releases it when the attempt's outcome says its worker is gone
// (src/run/outputs.ts releaseOnDeath), so the retry commits its own outputs. The test setting
// FANOUT_TEST_DIE_AFTER_CLAIM makes every first attempt die right after its claim. On S3 the
// claim is a PutObject with If-None-Match: *, which s3rver ignores, so the client and the
// workers (local and emulated Lambda) reach it through a loopback proxy that enforces it as S3
// documents ("How to prevent object overwrites with conditional writes",
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, type RunResult } from "fanout";
import { freePort } from "../dist/src/compute/aws/servers.js";
import { BIN, fanout, ROOT } from "./helpers/cli.js";
import { useEmulator } from "./helpers/emulator.js";
import { startLambdaProxy } from "./helpers/lambda-proxy.js";
import { startS3Proxy } from "./helpers/s3-proxy.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const DIR = tmpDir("output-dead");
const STORE = path.join(DIR, "store");
const BUCKET = "dead-out";
const WRITE = "test/fixtures/outputs/write.ts";
const N = 24;
const CHUNKS = 6;
let stack: Awaited<ReturnType<typeof useEmulator>>;
let proxy: Awaited<ReturnType<typeof startS3Proxy>>;
let client: S3Client;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  // A port free now, for s3rver to take once the proxy in front of it knows it.
  const s3Port = await freePort();
  proxy = await startS3Proxy(`http://127.0.0.1:${s3Port}`, { conditionalWrites: true });
  stack = await useEmulator({ s3Port, workerS3Endpoint: proxy.url });
  client = new S3Client({ region: "us-east-1", endpoint: stack.emu.s3Endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const env = { AWS_ENDPOINT_URL_S3: proxy.url, AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1", FANOUT_OUT_N: String(N) };
  for (const k of Object.keys(env)) saved[k] = process.env[k];
  // The client's S3 calls for outputs, and local worker processes, use this environment.
  Object.assign(process.env, env);
}, 120_000);

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  client?.destroy();
  await stack?.stop();
  await proxy?.close();
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

const claims = () => proxy.log.filter((q) => q.method === "PUT" && q.headers["if-none-match"] === "*").length;

describe("an attempt that dies after claiming its chunk: the retry commits its own outputs", () => {
  it("local backend, a local folder (the claim is a hard link)", async () => {
    const out = path.join(DIR, "out");
    const r = await run<number>(WRITE, { store: STORE, cwd: ROOT, chunks: CHUNKS, output: out, retries: 3, env: { FANOUT_TEST_DIE_AFTER_CLAIM: "1" } });
    expectCommitted(r, folderObjects(out), path.join(out, r.runId) + path.sep);
  }, 120_000);

  it("local backend: the client killed while every chunk holds its claim; --resume releases them and commits each output once", async () => {
    // Every first attempt stops for good right after its claim; the client is then SIGKILLed, and
    // its worker processes exit with it. Before the resume released such claims, each chunk's
    // new attempt waited on a holder that would never finish and failed as busy.
    const out = path.join(DIR, "out-resume");
    const child = spawn(process.execPath, [BIN, "run", WRITE, "--chunks", String(CHUNKS), "--concurrency", String(CHUNKS), "--store", STORE, "--output", out, "--env", "FANOUT_TEST_DIE_AFTER_CLAIM=1:hang"], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise((r) => child.once("exit", r));
    let runId: string | undefined;
    let claimed = 0;
    for (let i = 0; i < 600 && claimed < CHUNKS; i++) {
      await new Promise((r) => setTimeout(r, 50));
      runId ??= /run (\d{8}T\d{6}Z-[a-z0-9]{6}):/.exec(stderr)?.[1];
      const dir = runId && path.join(out, runId, ".claims");
      claimed = dir && fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^\d+$/.test(f)).length : 0;
    }
    expect(claimed, stderr).toBe(CHUNKS);
    child.kill("SIGKILL");
    await exited;
    const resumed = await fanout(["run", WRITE, "--resume", runId!, "--store", STORE, "--json", "-q"]);
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    const r = JSON.parse(resumed.stdout) as RunResult<number>;
    expect(r.result).toBe(((N - 1) * N * (2 * N - 1)) / 6);
    expect(r.summary.succeeded).toBe(CHUNKS);
    const got = folderObjects(out);
    const w = want(runId!);
    expect([...got.keys()].sort()).toEqual([...w.keys()].sort());
    for (const [k, v] of w) expect(got.get(k)!.equals(v), k).toBe(true);
  }, 120_000);

  it("local backend, an S3 prefix (the claim is a conditional PutObject)", async () => {
    proxy.log.length = 0;
    const r = await run<number>(WRITE, { store: STORE, cwd: ROOT, chunks: CHUNKS, output: `s3://${BUCKET}/local/`, retries: 3, env: { FANOUT_TEST_DIE_AFTER_CLAIM: "1" } });
    expectCommitted(r, await bucketObjects("local/"), `s3://${BUCKET}/local/${r.runId}/`);
    // Every retry claimed, and so did the dead first attempts: at least the one whose exit came
    // first (a worker process hosts several chunks, so its exit can take others before their claim).
    expect(claims()).toBeGreaterThan(CHUNKS);
    expect(claims()).toBeLessThanOrEqual(2 * CHUNKS);
  }, 120_000);

  it("emulated stack: Lambda reports the runtime exited after the claim; the retries commit", async () => {
    // The worker stops right after its claim (serverless-offline hosts every invocation in one
    // process, so it cannot exit); the proxy answers as Lambda does when the runtime dies.
    const lambda = await startLambdaProxy(stack.emu.lambdaEndpoint, { runtimeExit: { when: (t) => t.attempt === 1 && t.index !== undefined, error: "signal: segmentation fault" } });
    const emulator = process.env.FANOUT_EMULATOR!;
    process.env.FANOUT_EMULATOR = JSON.stringify({ ...JSON.parse(emulator), lambdaEndpoint: lambda.url });
    proxy.log.length = 0;
    try {
      const r = await run<number>(WRITE, { backend: "emulated", cwd: ROOT, chunks: CHUNKS, output: `s3://${BUCKET}/lambda/`, retries: 3, speculate: false, env: { FANOUT_TEST_DIE_AFTER_CLAIM: "1:stop" } });
      expect(lambda.stats.runtimeExits).toBe(CHUNKS);
      expectCommitted(r, await bucketObjects("lambda/"), `s3://${BUCKET}/lambda/${r.runId}/`);
      expect(claims()).toBe(2 * CHUNKS);
    } finally {
      process.env.FANOUT_EMULATOR = emulator;
      await lambda.close();
    }
  }, 180_000);
});
