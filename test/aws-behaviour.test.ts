// Lambda as AWS documents it, on the emulated stack behind test/helpers/lambda-proxy.ts (the
// answers and their sources are in test/helpers/lambda-answers.ts): dropped connections, the
// 6 MB reply limit, IAM denials, init errors, the runtime's own handling of stray errors, and
// account concurrency. Each test proves the chunk ran once and the answer is exact.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccessDeniedError, ChunkFailedError, ConfigError, run, type RunResult } from "fanout";
import { makeS3Client, S3Store } from "../dist/src/store/s3.js";
import { ROOT } from "./helpers/cli.js";
import { emulatorForFile } from "./helpers/emulator.js";
import { startLambdaProxy, type LambdaProxy, type LambdaProxyOptions } from "./helpers/lambda-proxy.js";
import { withEnv } from "./helpers/env.js";

const emulated = emulatorForFile();
let store: S3Store;
beforeAll(() => {
  const { emu } = emulated.current;
  store = new S3Store(makeS3Client({ region: emu.region, endpoint: emu.s3Endpoint, credentials: { accessKeyId: emu.accessKeyId, secretAccessKey: emu.secretAccessKey } }), emu.bucket);
});
afterAll(() => store?.client.destroy());

/** Runs `body` with the emulated stack's Lambda endpoint behind a proxy with `options`. */
async function behindProxy<T>(options: LambdaProxyOptions, body: (proxy: LambdaProxy) => Promise<T>): Promise<T> {
  const proxy = await startLambdaProxy(emulated.current.emu.lambdaEndpoint, options);
  const saved = process.env.FANOUT_EMULATOR!;
  process.env.FANOUT_EMULATOR = JSON.stringify({ ...JSON.parse(saved), lambdaEndpoint: proxy.url });
  try {
    return await body(proxy);
  } finally {
    process.env.FANOUT_EMULATOR = saved;
    await proxy.idle();
    await proxy.close();
  }
}

/** Each chunk won once, by its only attempt: nothing reran. */
function ranOnce(r: RunResult, chunks: number): void {
  expect(r.attempts.map((a) => [a.index, a.attempt, a.outcome]).sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual(
    Array.from({ length: chunks }, (_, i) => [i, 1, "ok"]),
  );
}


const catchErr = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe("Lambda's behaviour on the emulated stack", () => {
  it("a connection dropped mid-invoke: the chunk runs once, its result is read from S3", async () => {
    // A client that disconnects does not stop a synchronous invocation (research-aws.md §5).
    await behindProxy({ drop: (t) => t.index === 1 && t.attempt === 1 }, async (proxy) => {
      const r = await withEnv({ FANOUT_WAIT_MS: "300", FANOUT_WAIT_ITEMS: "6" }, () =>
        run<number>("test/fixtures/aws/wait.ts", { backend: "emulated", chunks: 6, cwd: ROOT, speculate: false }),
      );
      expect(r.result).toBe(6);
      expect(proxy.stats.dropped).toBe(1);
      // Worker executions: one per chunk, the dropped one included.
      expect(proxy.stats.invoked).toBe(6);
      ranOnce(r, 6);
    });
  }, 120_000);

  it("a chunk logging one 7 MB line: the log is cut with a marker, the reply fits, nothing reran", async () => {
    // Lambda's response limit, 6,291,556 bytes (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), enforced by the proxy.
    await behindProxy({}, async (proxy) => {
      const r = await run<number>("test/fixtures/aws/big-log.ts", { backend: "emulated", chunks: 4, cwd: ROOT, speculate: false });
      expect(r.result).toBe(60);
      expect(proxy.stats.responsesTooLarge).toBe(0);
      ranOnce(r, 4);
      const envelope = JSON.parse((await store.get(`runs/${r.runId}/results/1.json`)).toString("utf8")) as { logs: string[] };
      expect(envelope.logs).toHaveLength(1);
      expect(envelope.logs[0]).toBe("x".repeat(16 * 1024) + ` [fanout: line truncated, ${7 * 1024 * 1024} bytes in all]`);
    });
  }, 120_000);

  it("Function.ResponseSizeTooLarge: the result already in S3 is read from there, not rerun", async () => {
    // A limit the 16 KB log line of chunk 1 passes, so Lambda's answer is the too-large error.
    await behindProxy({ responseLimit: 8 * 1024 }, async (proxy) => {
      const r = await run<number>("test/fixtures/aws/big-log.ts", { backend: "emulated", chunks: 4, cwd: ROOT, speculate: false });
      expect(r.result).toBe(60);
      expect(proxy.stats.responsesTooLarge).toBe(1);
      expect(proxy.stats.invoked).toBe(4);
      ranOnce(r, 4);
    });
  }, 120_000);

  it("403 AccessDeniedException: the run stops at once, naming the permission to add", async () => {
    await behindProxy({ deny: () => true }, async (proxy) => {
      const err = await catchErr(run("test/fixtures/aws/throws.ts", { backend: "emulated", chunks: 8, concurrency: 2, cwd: ROOT, speculate: false }));
      expect(err).toBeInstanceOf(AccessDeniedError);
      const e = err as AccessDeniedError;
      const fn = `arn:aws:lambda:${emulated.current.emu.region}:123456789012:function:${emulated.current.emu.functionName}`;
      expect([e.message, e.hint, e.exitCode]).toEqual([
        `AWS denied lambda:InvokeFunction on ${fn}`,
        `allow lambda:InvokeFunction on ${fn} in the IAM policy of the user or role that runs fanout`,
        3,
      ]);
      // The two invocations in flight when the first 403 came, and no retry.
      expect(proxy.stats.denied).toBeLessThanOrEqual(2);
      expect(proxy.stats.invoked).toBe(0);
    });
  }, 120_000);

  it("an init error (Runtime.ImportModuleError) stops the run instead of retrying each chunk", async () => {
    await behindProxy({ initError: { type: "Runtime.ImportModuleError" } }, async (proxy) => {
      const err = await catchErr(run("test/fixtures/aws/throws.ts", { backend: "emulated", chunks: 8, concurrency: 2, cwd: ROOT, speculate: false }));
      expect(err).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect([e.message, e.hint]).toEqual([
        "the deployed worker function cannot start (Runtime.ImportModuleError: Error: Cannot find module 'index')",
        "redeploy it with `npx fanout deploy` (same --stage and --region)",
      ]);
      expect(proxy.stats.initErrors).toBeLessThanOrEqual(2);
    });
  }, 120_000);

  it("a stray error from a chunk's callback, reported by the runtime as Unhandled: a user error, not retried", async () => {
    // The Node runtime reports an uncaught exception as {errorType: err.name} and exits (research-aws.md §2).
    await behindProxy({ uncaught: (_t, e) => e.name === "TypeError" }, async (proxy) => {
      const err = await catchErr(run("test/fixtures/aws/stray.ts", { backend: "emulated", chunks: 4, cwd: ROOT, speculate: false }));
      expect(err).toBeInstanceOf(ChunkFailedError);
      const e = err as ChunkFailedError;
      expect([e.index, e.remote.kind, e.remote.name, e.remote.message, e.attempts]).toEqual([2, "user", "TypeError", "stray boom", 1]);
      expect(proxy.stats.uncaught).toBe(1);
      expect(e.attemptLog!.filter((a) => a.index === 2).map((a) => a.outcome)).toEqual(["user"]);
    });
  }, 120_000);

  it("10 concurrent invocations allowed, 429 beyond: 300 chunks at --concurrency 200 finish exactly, limit found near 10", async () => {
    await behindProxy({ concurrency: 10 }, async (proxy) => {
      const r = await withEnv({ FANOUT_WAIT_MS: "100", FANOUT_WAIT_ITEMS: "300" }, () =>
        run<number>("test/fixtures/aws/wait.ts", { backend: "emulated", chunks: 300, concurrency: 200, cwd: ROOT, speculate: false }),
      );
      expect(r.result).toBe(300);
      expect(r.summary.failed).toBe(0);
      expect(proxy.stats.inFlightPeak).toBeLessThanOrEqual(10);
      expect(r.summary.throttle!.limitFound).toBeGreaterThanOrEqual(5);
      expect(r.summary.throttle!.limitFound).toBeLessThanOrEqual(20);
    });
  }, 180_000);

  it("GetAccountSettings allows 10: the run starts at 10 in flight and is never throttled", async () => {
    await behindProxy({ concurrency: 10, accountConcurrency: 10 }, async (proxy) => {
      const notices: string[] = [];
      const r = await withEnv({ FANOUT_WAIT_MS: "100", FANOUT_WAIT_ITEMS: "60" }, () =>
        run<number>("test/fixtures/aws/wait.ts", { backend: "emulated", chunks: 60, concurrency: 200, cwd: ROOT, speculate: false, onNotice: (n) => notices.push(n) }),
      );
      expect(r.result).toBe(60);
      expect(proxy.stats.refused).toBe(0);
      expect(notices).toContain("the AWS account allows 10 concurrent executions: at most 10 chunks run at once (--concurrency 200)");
    });
  }, 120_000);
});
