// Real faults on the emulated AWS stack: S3 (s3rver) stopped mid-run and restarted, and the
// Lambda endpoint answering 429 for a while (a loopback proxy in front of serverless-offline).
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, type RunResult } from "fanout";
import { ROOT } from "./helpers/cli.js";
import { useEmulator } from "./helpers/emulator.js";

let stack: Awaited<ReturnType<typeof useEmulator>>;
beforeAll(async () => {
  stack = await useEmulator();
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

function countedOnce(r: RunResult, chunks: number): void {
  const winners = r.attempts.filter((a) => a.won).map((a) => a.index);
  expect(new Set(winners).size).toBe(chunks);
  expect(winners.length).toBe(chunks);
  expect(r.summary.succeeded).toBe(chunks);
}

/**
 * A proxy in front of the Lambda endpoint that answers like a throttled account (HTTP 429,
 * TooManyRequestsException) for its first `throttled` requests, then passes everything on.
 */
async function throttlingProxy(target: string, throttled: number): Promise<{ url: string; refused: () => number; close: () => Promise<void> }> {
  const dest = new URL(target);
  let refused = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const server = http.createServer((req, res) => {
    if (refused < throttled) {
      refused++;
      req.resume();
      res.writeHead(429, { "content-type": "application/json", "x-amzn-errortype": "TooManyRequestsException" });
      res.end(JSON.stringify({ Reason: "ConcurrentInvocationLimitExceeded", Type: "User", message: "Rate Exceeded." }));
      return;
    }
    const up = http.request(
      { host: dest.hostname, port: dest.port, method: req.method, path: req.url, headers: req.headers, agent },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on("error", (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refused: () => refused,
    close: () =>
      new Promise((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const N = 2000;
const EXACT = ((N - 1) * N * (2 * N - 1)) / 6;

describe("fault injection on the emulated AWS stack", () => {
  it("Lambda answers 429 for a while: invocations back off and the run finishes exactly", async () => {
    const proxy = await throttlingProxy(stack.emu.lambdaEndpoint, 30);
    const saved = process.env.FANOUT_EMULATOR!;
    process.env.FANOUT_EMULATOR = JSON.stringify({ ...JSON.parse(saved), lambdaEndpoint: proxy.url });
    try {
      const r = await run<number>("test/fixtures/faults/throw-first.ts", {
        backend: "emulated",
        chunks: 12,
        cwd: ROOT,
        speculate: false,
      });
      expect(r.result).toBe(EXACT);
      countedOnce(r, 12);
      expect(proxy.refused()).toBe(30);
      const throttled = r.attempts.filter((a) => a.outcome === "throttled").length;
      expect(throttled).toBe(30);
      // Throttles have their own budget: they are counted as retries but exhaust nothing.
      expect(r.summary.retries).toBeGreaterThanOrEqual(30);
    } finally {
      process.env.FANOUT_EMULATOR = saved;
      await proxy.close();
    }
  }, 120_000);

  it("S3 stopped for three seconds mid-run and restarted: workers and client retry, nothing is lost", async () => {
    let outage: Promise<void> | undefined;
    const old = { ms: process.env.FANOUT_SLOW_MS, n: process.env.FANOUT_SLOW_COUNT };
    process.env.FANOUT_SLOW_MS = "150";
    process.env.FANOUT_SLOW_COUNT = "48";
    try {
      const r = await run<number>("test/fixtures/faults/slow.ts", {
        backend: "emulated",
        chunks: 48,
        concurrency: 4,
        cwd: ROOT,
        speculate: false,
        onProgress: (p) => {
          if (!outage && p.done >= 8) outage = stack.emu.outageS3(3000);
        },
      });
      await outage;
      expect(outage).toBeDefined();
      expect(r.result).toBe((48 * 47) / 2);
      countedOnce(r, 48);
      expect(r.attempts.some((a) => a.outcome === "transient")).toBe(true);
    } finally {
      process.env.FANOUT_SLOW_MS = old.ms ?? "";
      process.env.FANOUT_SLOW_COUNT = old.n ?? "";
      if (old.ms === undefined) delete process.env.FANOUT_SLOW_MS;
      if (old.n === undefined) delete process.env.FANOUT_SLOW_COUNT;
    }
  }, 120_000);
});
