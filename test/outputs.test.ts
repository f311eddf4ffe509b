// ctx.write and --output: a chunk's objects land at <output>/<runId>/<chunk>/<name> only when
// the chunk succeeds (staged per attempt, committed on success), so a failed first attempt and
// a beaten speculative copy leave nothing behind; and fromRun / --input-run, a run's results as
// the next run's input. In a local folder and in a user bucket on the emulated stack's s3rver
// (apart from the run bucket), reached through AWS_ENDPOINT_URL_S3 with path-style addressing.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, type RunResult } from "fanout";
import { RunResults } from "../dist/src/store/results.js";
import { FolderStore } from "../dist/src/store/folder.js";
import { emulatorForFile } from "./helpers/emulator.js";
import { fanout, ROOT } from "./helpers/cli.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const stack = emulatorForFile();
const DIR = tmpDir("outputs");
const STORE = path.join(DIR, "store");
const OUT = path.join(DIR, "out");
const BUCKET = "user-out";
const WRITE = "test/fixtures/outputs/write.ts";
const STAGE2 = "test/fixtures/outputs/stage2.ts";
let client: S3Client;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  const { emu } = stack.current;
  client = new S3Client({ region: "us-east-1", endpoint: emu.s3Endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  for (const k of ["AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]) saved[k] = process.env[k];
  Object.assign(process.env, { AWS_ENDPOINT_URL_S3: emu.s3Endpoint, AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" });
}, 120_000);

afterAll(() => {
  client?.destroy();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmDir(DIR);
});

/** Sum of i*i below n: write.ts's answer. */
const squares = (n: number) => ((n - 1) * n * (2 * n - 1)) / 6;

/** Every object under a folder, relative path to bytes. */
function folderObjects(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (!fs.existsSync(root)) return out;
  for (const e of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const abs = path.join(e.parentPath, e.name);
    out.set(path.relative(root, abs).split(path.sep).join("/"), fs.readFileSync(abs));
  }
  return out;
}

/** Every object under s3://BUCKET/prefix, key after the prefix to bytes. */
async function bucketObjects(prefix: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of page.Contents ?? []) {
      const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key! }));
      out.set(o.Key!.slice(prefix.length), Buffer.from(await got.Body!.transformToByteArray()));
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** What write.ts commits for each chunk's { start, end }, keyed `<runId>/<chunk>/<name>`. */
async function wantFor(store: string | undefined, runId: string, chunks: number, big = 0): Promise<Map<string, Buffer>> {
  const want = new Map<string, Buffer>();
  const results = store ? new RunResults(new FolderStore(store), runId) : undefined;
  for (let c = 0; c < chunks; c++) {
    const env = await results!.envelope(c);
    const { start, end } = env!.value as { start: number; end: number };
    const nums = Array.from({ length: end - start }, (_, i) => start + i);
    want.set(`${runId}/${c}/nums.txt`, Buffer.from(nums.join("\n") + "\n"));
    want.set(`${runId}/${c}/sq.bin`, Buffer.from(nums.map((n) => (n * n) % 256)));
    if (big && c === 0) want.set(`${runId}/0/big/big.txt`, Buffer.concat(Array.from({ length: big }, (_, i) => Buffer.alloc(1024 * 1024, String.fromCharCode(97 + (i % 26))))));
  }
  return want;
}

function expectSame(got: Map<string, Buffer>, want: Map<string, Buffer>): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [k, v] of want) expect(createHash("sha256").update(got.get(k)!).digest("hex"), k).toBe(createHash("sha256").update(v).digest("hex"));
}

/** write.ts over range(0, n): n is read where its input is made, in this process. */
async function runWrite(n: number, opts: Parameters<typeof run>[1]): Promise<RunResult<number>> {
  process.env.FANOUT_OUT_N = String(n);
  try {
    return await run<number>(WRITE, opts);
  } finally {
    delete process.env.FANOUT_OUT_N;
  }
}

const totalBytes = (m: Map<string, Buffer>) => [...m.values()].reduce((n, b) => n + b.length, 0);

describe("ctx.write to a local folder (local backend)", () => {
  it("a chunk that fails on its first attempt after writing is retried: its outputs are there exactly once, nothing staged is left, the envelope lists them", async () => {
    const r = await runWrite(24, { store: STORE, cwd: ROOT, chunks: 6, output: OUT, env: { FANOUT_OUT_FAIL: "2,4" } });
    expect(r.result).toBe(squares(24));
    expect(r.summary.retries).toBe(2);
    const got = folderObjects(OUT);
    const want = await wantFor(STORE, r.runId, 6);
    expectSame(got, want);
    expect(fs.existsSync(path.join(OUT, r.runId, ".staging"))).toBe(false);
    expect(r.summary.output).toEqual({ location: path.join(OUT, r.runId) + path.sep, objects: want.size, bytes: totalBytes(want) });
    const env = await new RunResults(new FolderStore(STORE), r.runId).envelope(2);
    expect(env!.attempt).toBe(2);
    expect(env!.outputs!.map((o) => o.name).sort()).toEqual(["nums.txt", "sq.bin"]);
    expect(env!.outputs!.find((o) => o.name === "nums.txt")).toEqual({ name: "nums.txt", key: path.join(OUT, r.runId, "2", "nums.txt"), bytes: want.get(`${r.runId}/2/nums.txt`)!.length });
  }, 60_000);

  it("the CLI prints the output line: where, how many objects, how many bytes", async () => {
    const out = path.join(DIR, "cli-out");
    const c = await fanout(["run", WRITE, "--store", STORE, "--output", out, "--chunks", "3"], { env: { FANOUT_OUT_N: "9" } });
    expect(c.code).toBe(0);
    const runId = /done: run (\S+)/.exec(c.stderr)![1]!;
    const want = await wantFor(STORE, runId, 3);
    expect(c.stderr).toContain(`  output ${path.join(out, runId)}${path.sep} · 6 objects · ${totalBytes(want)} bytes`);
    expectSame(folderObjects(out), want);
  }, 60_000);
});

describe("ctx.write to an S3 prefix", () => {
  it("local backend: a beaten speculative copy's writes never show; a 12 MiB stream goes up in parts; exact bytes", async () => {
    const prefix = "spec/";
    const r = await runWrite(48, {
      store: STORE,
      cwd: ROOT,
      chunks: 24,
      concurrency: 8,
      speculate: true,
      output: `s3://${BUCKET}/${prefix}`,
      env: { FANOUT_OUT_SLOW: "5,17", FANOUT_OUT_MS: "150", FANOUT_OUT_BIG_MB: "12" },
    });
    expect(r.result).toBe(squares(48));
    const wonByCopy = r.attempts.filter((a) => a.won && a.speculative).map((a) => a.index);
    expect(wonByCopy).toEqual(expect.arrayContaining([5, 17]));
    const want = await wantFor(STORE, r.runId, 24, 12);
    expectSame(await bucketObjects(prefix), want);
    expect(r.summary.output).toEqual({ location: `s3://${BUCKET}/${prefix}${r.runId}/`, objects: want.size, bytes: totalBytes(want) });
  }, 120_000);

  it("emulated stack: the Lambda workers write to the user bucket; a failed first attempt leaves nothing; staging swept", async () => {
    const prefix = "lambda/out";
    const r = await runWrite(20, { backend: "emulated", cwd: ROOT, chunks: 4, output: `s3://${BUCKET}/${prefix}`, env: { FANOUT_OUT_FAIL: "1" } });
    expect(r.result).toBe(squares(20));
    expect(r.summary.retries).toBe(1);
    const got = await bucketObjects(`${prefix}/`);
    expect([...got.keys()].filter((k) => k.includes(".staging") || k.includes("attempt-1-only"))).toEqual([]);
    expect([...got.keys()].sort()).toEqual([0, 1, 2, 3].flatMap((c) => [`${r.runId}/${c}/nums.txt`, `${r.runId}/${c}/sq.bin`]).sort());
    expect(got.get(`${r.runId}/1/nums.txt`)!.toString()).toBe("5\n6\n7\n8\n9\n");
    expect(r.summary.output).toMatchObject({ location: `s3://${BUCKET}/${prefix}/${r.runId}/`, objects: 8 });
  }, 180_000);
});

describe("fromRun / --input-run: a run's results as the next run's input", () => {
  it("local backend: map, then map over the first run's results with fromRun; the exact answer", async () => {
    const first = await runWrite(100, { store: STORE, cwd: ROOT, chunks: 10, output: path.join(DIR, "stage1") });
    expect(first.result).toBe(squares(100));
    process.env.FANOUT_STAGE1 = first.runId;
    try {
      const second = await run<{ n: number; sum: number; covered: number }>(STAGE2, { store: STORE, cwd: ROOT, chunks: 3 });
      expect(second.result).toEqual({ n: 10, sum: squares(100), covered: 100 });
      expect(second.summary.chunks).toBe(3);
    } finally {
      delete process.env.FANOUT_STAGE1;
    }
  }, 60_000);

  it("emulated stack: --input-run through the CLI; the workers read the results from the run bucket", async () => {
    const first = await runWrite(50, { backend: "emulated", cwd: ROOT, chunks: 5, output: `s3://${BUCKET}/stage1/` });
    const c = await fanout(["run", STAGE2, "--backend", "emulated", "--input-run", first.runId, "--chunks", "2", "--json", "-q"], { env: stack.current.env });
    expect(c.stderr).toBe("");
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout).result).toEqual({ n: 5, sum: squares(50), covered: 50 });
  }, 180_000);

  it("an unknown run and an unfinished one are clear errors", async () => {
    const unknown = await fanout(["run", STAGE2, "--store", STORE, "--input-run", "20260101T000000Z-zzzzzz", "-q"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^fanout: no run "20260101T000000Z-zzzzzz" in /);
    const first = await runWrite(4, { store: STORE, cwd: ROOT, chunks: 2, output: path.join(DIR, "small") });
    const manifestFile = path.join(STORE, "runs", first.runId, "manifest.json");
    const m = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
    fs.writeFileSync(manifestFile, JSON.stringify({ ...m, status: "failed" }));
    const unfinished = await fanout(["run", STAGE2, "--store", STORE, "--input-run", first.runId, "-q"]);
    expect(unfinished.code).toBe(2);
    expect(unfinished.stderr.trim()).toBe(`fanout: run ${first.runId} ended failed: its results are not final, so it cannot be an input — finish it first (\`fanout status ${first.runId}\` says how), then start this run again`);
  }, 60_000);
});
