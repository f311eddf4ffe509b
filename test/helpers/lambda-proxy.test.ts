// The Lambda proxy itself, against a tiny loopback upstream that stands in for
// serverless-offline, and through @aws-sdk/client-lambda (maxAttempts 1) to prove the SDK reads
// each answer as it reads Lambda's.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { GetAccountSettingsCommand, GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RESPONSE_LIMIT, startLambdaProxy, type LambdaProxy } from "./lambda-proxy.js";

/** What the fake upstream reads from a task: which reply to give, and whether to wait for release. */
interface FakeTask {
  index: number;
  attempt: number;
  bytes?: number;
  fail?: boolean;
  hold?: boolean;
}

/** A fake Invoke endpoint: replies like fanout's worker; `hold` tasks wait until release(). */
async function fakeUpstream() {
  const finished: number[] = [];
  let held: (() => void)[] = [];
  let arrived: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => parts.push(d));
    req.on("end", async () => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ FunctionName: "f", MemorySize: 1769 }));
      }
      const t = JSON.parse(Buffer.concat(parts).toString("utf8")) as FakeTask;
      if (t.hold) {
        await new Promise<void>((r) => {
          held.push(r);
          for (const a of arrived.splice(0)) a();
        });
      }
      const body = t.bytes
        ? JSON.stringify({ ok: true, value: "x".repeat(t.bytes - 22) }) // 22 bytes of JSON around the value
        : t.fail
          ? JSON.stringify({ ok: false, error: { kind: "user", name: "TypeError", message: "stray boom", stack: "TypeError: stray boom\n    at Timeout._onTimeout (job.js:3:9)" } })
          : JSON.stringify({ ok: true, value: t.index });
      res.writeHead(200, { "content-type": "application/json", "x-amzn-requestid": `req-${t.index}` });
      res.end(body);
      finished.push(t.index);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    finished,
    /** Resolves once `n` held tasks are waiting upstream. */
    async waitHeld(n: number) {
      while (held.length < n) await new Promise<void>((r) => arrived.push(r));
    },
    release() {
      for (const r of held.splice(0)) r();
    },
    close: () =>
      new Promise<void>((r) => {
        held = [];
        arrived = [];
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

let upstream: Awaited<ReturnType<typeof fakeUpstream>>;
let proxy: LambdaProxy;
let lambda: LambdaClient;

beforeAll(async () => {
  upstream = await fakeUpstream();
});
afterAll(() => upstream.close());
afterEach(async () => {
  lambda?.destroy();
  await proxy?.close();
  upstream.finished.length = 0;
});

async function start(options: Parameters<typeof startLambdaProxy>[1]) {
  proxy = await startLambdaProxy(upstream.url, options);
  lambda = new LambdaClient({
    endpoint: proxy.url,
    region: "eu-west-3",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    maxAttempts: 1,
  });
}

const invoke = (task: Partial<FakeTask>) =>
  lambda.send(new InvokeCommand({ FunctionName: "fanout-dev-worker", Payload: Buffer.from(JSON.stringify({ index: 0, attempt: 1, ...task })) }));
const payload = (out: { Payload?: Uint8Array }) => JSON.parse(Buffer.from(out.Payload!).toString("utf8")) as unknown;
const failure = (p: Promise<unknown>) => p.then(() => expect.unreachable("the call succeeded"), (e: unknown) => e as Record<string, unknown> & { $metadata: { httpStatusCode?: number } });

describe("the Lambda proxy, through @aws-sdk/client-lambda", () => {
  it("passes an ordinary invocation and other calls through unchanged", async () => {
    await start({});
    const out = await invoke({ index: 7 });
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(payload(out)).toEqual({ ok: true, value: 7 });
    const cfg = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: "f" }));
    expect(cfg.MemorySize).toBe(1769);
    expect(proxy.stats).toMatchObject({ invoked: 1, refused: 0, inFlight: 0, inFlightPeak: 1 });
  });

  it("answers 429 TooManyRequestsException beyond the concurrency limit, with Reason and Retry-After", async () => {
    await start({ concurrency: 2, retryAfterSeconds: 3 });
    const running = [invoke({ index: 0, hold: true }), invoke({ index: 1, hold: true })];
    await upstream.waitHeld(2);
    const err = await failure(invoke({ index: 2 }));
    expect(err.name).toBe("TooManyRequestsException");
    expect(err.$metadata.httpStatusCode).toBe(429);
    expect(err.Reason).toBe("ReservedFunctionConcurrentInvocationLimitExceeded");
    expect(err.Type).toBe("User");
    expect(err.message).toBe("Rate Exceeded.");
    expect(err.retryAfterSeconds).toBe("3");
    upstream.release();
    expect((await Promise.all(running)).map(payload)).toEqual([{ ok: true, value: 0 }, { ok: true, value: 1 }]);
    expect(await invoke({ index: 3 }).then(payload)).toEqual({ ok: true, value: 3 });
    expect(proxy.stats).toMatchObject({ refused: 1, inFlightPeak: 2, invoked: 3 });
  });

  it("throttles the first K invocations whatever is in flight", async () => {
    await start({ throttle: 2 });
    expect((await failure(invoke({}))).name).toBe("TooManyRequestsException");
    expect((await failure(invoke({}))).name).toBe("TooManyRequestsException");
    expect(payload(await invoke({ index: 5 }))).toEqual({ ok: true, value: 5 });
    expect(proxy.stats.refused).toBe(2);
  });

  it("turns a reply over 6,291,556 bytes into Function.ResponseSizeTooLarge; one at the limit passes", async () => {
    await start({});
    const atLimit = await invoke({ bytes: RESPONSE_LIMIT });
    expect(atLimit.FunctionError).toBeUndefined();
    expect(atLimit.Payload!.length).toBe(RESPONSE_LIMIT);
    const over = await invoke({ bytes: RESPONSE_LIMIT + 1 });
    expect(over.StatusCode).toBe(200);
    expect(over.FunctionError).toBe("Unhandled");
    expect(payload(over)).toEqual({
      errorType: "Function.ResponseSizeTooLarge",
      errorMessage: "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    });
    expect(proxy.stats.responsesTooLarge).toBe(1);
  });

  it("resets the connection mid-invoke while the invocation runs on upstream", async () => {
    await start({ drop: (t) => t.index === 4 && t.attempt === 1 });
    const err = await failure(invoke({ index: 4, attempt: 1, hold: true }));
    expect(err.code).toBe("ECONNRESET");
    expect(proxy.stats.dropped).toBe(1);
    // The dropped invocation still holds its place until it finishes upstream.
    await upstream.waitHeld(1);
    expect(proxy.stats).toMatchObject({ inFlight: 1, droppedFinished: 0 });
    upstream.release();
    await proxy.idle();
    expect(upstream.finished).toEqual([4]);
    expect(proxy.stats).toMatchObject({ inFlight: 0, droppedFinished: 1 });
    expect(payload(await invoke({ index: 4, attempt: 2 }))).toEqual({ ok: true, value: 4 });
  });

  it("answers 403 AccessDeniedException as IAM does without lambda:InvokeFunction", async () => {
    await start({ deny: () => true });
    const err = await failure(invoke({}));
    expect(err.name).toBe("AccessDeniedException");
    expect(err.$metadata.httpStatusCode).toBe(403);
    expect(err.message).toBe(
      "User: arn:aws:iam::123456789012:user/x is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:eu-west-3:123456789012:function:fanout-dev-worker because no identity-based policy allows the lambda:InvokeFunction action",
    );
    expect(upstream.finished).toEqual([]);
    expect(proxy.stats.denied).toBe(1);
  });

  it("reports init errors as Unhandled function errors without running the handler", async () => {
    await start({ initError: { type: "Runtime.HandlerNotFound" } });
    const out = await invoke({});
    expect(out.FunctionError).toBe("Unhandled");
    expect(payload(out)).toMatchObject({ errorType: "Runtime.HandlerNotFound", errorMessage: "index.handler is undefined or not exported" });
    proxy.setOptions({ initError: { type: "Runtime.ImportModuleError", when: 1 } });
    const imp = await invoke({});
    expect(payload(imp)).toMatchObject({ errorType: "Runtime.ImportModuleError", errorMessage: "Error: Cannot find module 'index'\nRequire stack:\n- /var/runtime/index.mjs" });
    expect(payload(await invoke({ index: 1 }))).toEqual({ ok: true, value: 1 });
    expect(upstream.finished).toEqual([1]);
    expect(proxy.stats.initErrors).toBe(2);
  });

  it("reports a stray error as the Node runtime does: the error itself, Unhandled; a rejection wrapped", async () => {
    await start({ uncaught: (t, e) => (t.index === 1 ? /stray/.test(e.message) : t.index === 2 ? "rejection" : false) });
    const out = await invoke({ index: 1, fail: true });
    expect(out.FunctionError).toBe("Unhandled");
    expect(payload(out)).toEqual({ errorType: "TypeError", errorMessage: "stray boom", trace: ["TypeError: stray boom", "    at Timeout._onTimeout (job.js:3:9)"] });
    expect(payload(await invoke({ index: 2, fail: true }))).toMatchObject({ errorType: "Runtime.UnhandledPromiseRejection", errorMessage: "TypeError: stray boom" });
    // A chunk error the test does not pick stays the worker's own reply.
    const kept = await invoke({ index: 3, fail: true });
    expect(kept.FunctionError).toBeUndefined();
    expect(payload(kept)).toMatchObject({ ok: false });
    expect(proxy.stats.uncaught).toBe(2);
  });

  it("reports a runtime exit after the invocation ran: OOM by default, any signal on request", async () => {
    await start({ runtimeExit: { when: (t) => t.index === 6 } });
    const out = await invoke({ index: 6 });
    expect(out.FunctionError).toBe("Unhandled");
    expect(payload(out)).toEqual({ errorType: "Runtime.ExitError", errorMessage: "RequestId: req-6 Error: Runtime exited with error: signal: aborted" });
    proxy.setOptions({ runtimeExit: { when: 1, error: "signal: segmentation fault" } });
    expect(payload(await invoke({ index: 8 }))).toMatchObject({ errorMessage: "RequestId: req-8 Error: Runtime exited with error: signal: segmentation fault" });
    expect(upstream.finished).toEqual([6, 8]);
    expect(proxy.stats.runtimeExits).toBe(2);
  });

  it("answers GetAccountSettings with the account's concurrency, or denies it", async () => {
    await start({ accountConcurrency: 10 });
    const s = await lambda.send(new GetAccountSettingsCommand({}));
    expect(s.AccountLimit).toMatchObject({ ConcurrentExecutions: 10, UnreservedConcurrentExecutions: 10 });
    expect(s.AccountUsage).toMatchObject({ FunctionCount: 1 });
    proxy.setOptions({ accountConcurrency: "denied" });
    const err = await failure(lambda.send(new GetAccountSettingsCommand({})));
    expect(err.name).toBe("AccessDeniedException");
    expect(err.$metadata.httpStatusCode).toBe(403);
  });
});
