// The whole AWS code path (real SDK clients, the Lambda worker bundle, S3 keys) against a
// real emulated stack on loopback: s3rver for S3 and serverless-offline for Lambda Invoke.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChunkFailedError, run, type AttemptRecord } from "fanout";
import { makeS3Client, S3Store } from "../dist/src/store/s3.js";
import { fanout, ROOT } from "./helpers/cli.js";
import { useEmulator } from "./helpers/emulator.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

let stack: Awaited<ReturnType<typeof useEmulator>>;
let store: S3Store;
const LOCAL_STORE = tmpDir("aws-local");

beforeAll(async () => {
  // In the shell that starts the stack, as a developer's own variables would be.
  process.env.FANOUT_T_USER_VAR = "from-the-shell";
  stack = await useEmulator();
  const { emu } = stack;
  store = new S3Store(
    makeS3Client({ region: emu.region, endpoint: emu.s3Endpoint, credentials: { accessKeyId: emu.accessKeyId, secretAccessKey: emu.secretAccessKey } }),
    emu.bucket,
  );
}, 120_000);

afterAll(async () => {
  store?.client.destroy();
  await stack?.stop();
  rmDir(LOCAL_STORE);
});

/** The most attempts that were running at the same moment (worker-side start/end times). */
function maxOverlap(attempts: AttemptRecord[]): number {
  const events: [number, number][] = [];
  for (const a of attempts) {
    if (a.startedAt === undefined || a.endedAt === undefined) continue;
    events.push([a.startedAt, 1], [a.endedAt, -1]);
  }
  events.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let now = 0;
  let max = 0;
  for (const [, d] of events) max = Math.max(max, (now += d));
  return max;
}

describe("examples on the emulated AWS stack give the local answers", () => {
  it("primes.ts: 664579", async () => {
    const r = await run<number>("examples/primes.ts", { backend: "emulated", chunks: 24, cwd: ROOT });
    expect(r.result).toBe(664579);
    expect(r.summary.backend).toBe("emulated");
    expect(r.summary.succeeded).toBe(24);
    // Lambda bills the whole handler: the worker reports it, and it spans the chunk's own time.
    for (const a of r.attempts.filter((x) => x.outcome === "ok")) {
      expect(a.handlerMs).toBeGreaterThanOrEqual(Math.floor(a.endedAt! - a.startedAt!));
    }
  });

  it("pi.ts: the same estimate as on the local backend", async () => {
    const env = { FANOUT_PI_SAMPLES: "2000000" };
    const local = await fanout(["run", "examples/pi.ts", "--chunks", "5", "-q", "--store", LOCAL_STORE], { env });
    const emulated = await fanout(["run", "examples/pi.ts", "--chunks", "12", "-q", "--backend", "emulated"], { env: { ...env, ...stack.env } });
    expect(emulated.stderr).toBe("");
    expect(emulated.code).toBe(0);
    expect(JSON.parse(emulated.stdout)).toBe(JSON.parse(local.stdout));
    expect(Math.abs(JSON.parse(emulated.stdout) - Math.PI)).toBeLessThan(5e-3);
  });

  it("wordcount.ts: lines() inputs are uploaded once and read by byte range", async () => {
    const r = await run<Record<string, number>>("examples/wordcount.ts", { backend: "emulated", chunks: 9, cwd: ROOT });
    const text = fs.readFileSync(path.join(ROOT, "examples/data/words.txt"), "utf8");
    const expected: Record<string, number> = {};
    for (const line of text.split("\n")) {
      for (const w of line.toLowerCase().split(/[^\p{L}\p{N}']+/u)) if (w) expected[w] = (expected[w] ?? 0) + 1;
    }
    expect(r.result).toEqual(expected);
    const inputs = await store.list("inputs/");
    expect(inputs.length).toBe(1);
  });
});

/**
 * Lambda's own runtime variables, from AWS's "Defined runtime environment variables"
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
 */
const LAMBDA_DEFINED = new Set(
  "_HANDLER _X_AMZN_TRACE_ID AWS_DEFAULT_REGION AWS_REGION AWS_EXECUTION_ENV AWS_LAMBDA_FUNCTION_NAME AWS_LAMBDA_FUNCTION_MEMORY_SIZE AWS_LAMBDA_FUNCTION_VERSION AWS_LAMBDA_INITIALIZATION_TYPE AWS_LAMBDA_LOG_GROUP_NAME AWS_LAMBDA_LOG_STREAM_NAME AWS_ACCESS_KEY AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_LAMBDA_RUNTIME_API LAMBDA_TASK_ROOT LAMBDA_RUNTIME_DIR TZ LANG PATH LD_LIBRARY_PATH NODE_PATH AWS_XRAY_CONTEXT_MISSING AWS_XRAY_DAEMON_ADDRESS _AWS_XRAY_DAEMON_ADDRESS _AWS_XRAY_DAEMON_PORT".split(" "),
);

describe("a chunk sees what a Lambda would", () => {
  it("the user's variables and the project folder: there locally, absent on the emulated stack", async () => {
    const local = await fanout(["run", "test/fixtures/aws/sees.ts", "--chunks", "1", "-q", "--store", LOCAL_STORE]);
    expect(local.stderr).toBe("");
    expect(JSON.parse(local.stdout)).toMatchObject({ userVar: "from-the-shell", file: "a file in the project, not shipped with the job", cwd: ROOT.replace(/\/$/, "") });

    const r = await run<{ userVar: string | null; file: string; cwd: string; envNames: string[] }>("test/fixtures/aws/sees.ts", { backend: "emulated", chunks: 1, cwd: ROOT });
    expect(r.result.userVar).toBe(null);
    expect(r.result.file).toBe("ENOENT");
    expect(r.result.cwd).not.toBe(ROOT.replace(/\/$/, ""));
    // Nothing but Lambda's variables and what fanout sets (serverless.yml's NODE_OPTIONS, and
    // the emulator's S3 and Lambda endpoints, which stand in for the real ones).
    expect(r.result.envNames.filter((n) => !LAMBDA_DEFINED.has(n))).toEqual(["AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL_S3", "NODE_OPTIONS"]);
    expect(r.result.envNames).toContain("AWS_LAMBDA_FUNCTION_NAME");
  });
});

describe("AWS path behaviour", () => {
  it("a chunk error comes back with its index and the remote stack", async () => {
    const err = await run("test/fixtures/aws/throws.ts", { backend: "emulated", chunks: 8, cwd: ROOT }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChunkFailedError);
    const e = err as ChunkFailedError;
    expect(e.index).toBe(5);
    expect(e.remote.name).toBe("RangeError");
    expect(e.remote.message).toBe("bad item 5");
    expect(e.remote.stack).toMatch(/test\/fixtures\/aws\/throws\.ts:4:/);
    // The other chunks' results stay in the bucket.
    const results = await store.list(`runs/${e.runId}/results/`);
    expect(results.length).toBe(7);
    // The follow-up commands in the hint name the emulated backend, so they work as printed.
    expect(e.hint).toContain(`fanout run test/fixtures/aws/throws.ts --resume ${e.runId} --rebuild --backend emulated`);
    const logsCmd = /`fanout (logs [^`]+)`/.exec(e.hint ?? "")?.[1];
    expect(logsCmd).toBe(`logs ${e.runId} 5 --backend emulated`);
    const logs = await fanout(logsCmd!.split(" "), { env: stack.env });
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/^--- chunk 5 \(attempt 1, failed/);
    const status = await fanout(["status", e.runId, "--backend", "emulated", "--json"], { env: stack.env });
    expect(JSON.parse(status.stdout).resume).toBe(`fanout run test/fixtures/aws/throws.ts --resume ${e.runId} --backend emulated`);
  });

  it("a chunk result larger than Lambda's 6 MB response limit travels through S3", async () => {
    const r = await run<{ start: number; length: number; first: string; last: string }[]>("test/fixtures/aws/big-result.ts", {
      backend: "emulated",
      chunks: 2,
      cwd: ROOT,
    });
    expect(r.result).toEqual([
      { start: 0, length: 7 * 1024 * 1024, first: "a", last: "a" },
      { start: 1, length: 7 * 1024 * 1024, first: "b", last: "b" },
    ]);
  });

  it("360 chunks at concurrency 360 all run at once", async () => {
    // Each chunk waits long enough that every invocation has started before the first ends.
    process.env.FANOUT_WAIT_MS = "5000";
    try {
      const r = await run<number>("test/fixtures/aws/wait.ts", { backend: "emulated", chunks: 360, concurrency: 360, speculate: false, cwd: ROOT });
      expect(r.result).toBe(360);
      expect(maxOverlap(r.attempts)).toBe(360);
    } finally {
      delete process.env.FANOUT_WAIT_MS;
    }
  }, 180_000);

  it("a streamed PutObject to s3rver stores exactly the bytes sent", async () => {
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
    const key = "test/streamed.bin";
    await store.client.send(
      new PutObjectCommand({ Bucket: stack.emu.bucket, Key: key, Body: Readable.from([bytes.subarray(0, 1_000_000), bytes.subarray(1_000_000)]), ContentLength: bytes.length }),
    );
    const got = await store.client.send(new GetObjectCommand({ Bucket: stack.emu.bucket, Key: key }));
    const back = Buffer.from(await got.Body!.transformToByteArray());
    expect(back.length).toBe(bytes.length);
    expect(back.equals(bytes)).toBe(true);
    // Multipart (lib-storage) upload of a file and ranged reads give the same bytes.
    const file = path.join(os.tmpdir(), `fanout-s3-${process.pid}.bin`);
    const big = Buffer.concat([bytes, bytes, bytes, bytes]);
    fs.writeFileSync(file, big);
    await store.putFile("test/multipart.bin", file);
    fs.rmSync(file);
    expect((await store.get("test/multipart.bin")).equals(big)).toBe(true);
    expect((await store.getRange("test/multipart.bin", 5, 1005)).equals(big.subarray(5, 1005))).toBe(true);
    await store.delete([key, "test/multipart.bin"]);
  });

  it("status and logs read the run from S3", async () => {
    const r = await run("examples/wordcount.ts", { backend: "emulated", chunks: 3, cwd: ROOT });
    const status = await fanout(["status", r.runId, "--backend", "emulated", "--json"], { env: stack.env });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ runId: r.runId, status: "succeeded", done: 3, missing: 0 });
    const logs = await fanout(["logs", r.runId, "1", "--backend", "emulated"], { env: stack.env });
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/--- chunk 1 /);
    expect(logs.stdout).toMatch(/chunk 1: \d+ lines/);
  });

  it("teardown --dry-run lists every prefix; teardown leaves no object behind", async () => {
    await run("examples/primes.ts", { backend: "emulated", chunks: 4, cwd: ROOT });
    const before = (await store.list("")).length;
    expect(before).toBeGreaterThan(0);
    const dry = await fanout(["teardown", "--backend", "emulated", "--dry-run"], { env: stack.env });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/would remove/);
    expect(dry.stdout).toMatch(/bundles\//);
    expect(dry.stdout).toMatch(/inputs\//);
    expect(dry.stdout).toMatch(/runs\/\d{8}T\d{6}Z-[a-z0-9]{6}\//);
    expect((await store.list("")).length).toBe(before);
    const real = await fanout(["teardown", "--backend", "emulated"], { env: stack.env });
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(new RegExp(`removed ${before} objects`));
    expect(await store.list("")).toEqual([]);
  });
});
