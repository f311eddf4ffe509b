// S3 answers 503 SlowDown while a prefix scales up ("retry with backoff":
// https://repost.aws/knowledge-center/http-5xx-errors-s3,
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/ErrorBestPractices.html). The worker's
// result PUT must ride that out in the SDK, not fail the chunk (which would recompute it).
// A loopback proxy in front of s3rver answers the first K result PUTs with SlowDown.
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3rver, stopS3rver, type EmulatedS3 } from "../../../dist/src/compute/aws/s3rver.js";
import { makeS3Client, RESULT_PUT_RETRY, S3Store } from "../../../dist/src/store/s3.js";

const BUCKET = "fanout-runs-slowdown";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-slowdown-"));
let s3: EmulatedS3;
let proxy: http.Server;
let proxyUrl = "";
/** SlowDown answers still to give, and how many PUTs reached s3rver. */
let slowDowns = 0;
let putsForwarded = 0;

beforeAll(async () => {
  s3 = await startS3rver(dir, BUCKET);
  proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      if (req.method === "PUT" && /\/results\//.test(req.url ?? "") && slowDowns > 0) {
        slowDowns--;
        res.writeHead(503, { "content-type": "application/xml" });
        res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>1</RequestId><HostId>h</HostId></Error>');
        return;
      }
      if (req.method === "PUT") putsForwarded++;
      const up = http.request({ host: "127.0.0.1", port: s3.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}, 90_000);

afterAll(async () => {
  proxy?.close();
  if (s3) await stopS3rver(s3);
  fs.rmSync(dir, { recursive: true, force: true });
});

const creds = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const KEY = "runs/20260101T000000Z-aaaaaa/results/7.json";

describe("the worker's result PUT under 503 SlowDown", () => {
  it("retries with the worker's adaptive retry until S3 takes it; the object is exact", async () => {
    const client = makeS3Client({ region: "us-east-1", endpoint: proxyUrl, credentials: creds, retry: RESULT_PUT_RETRY });
    try {
      const store = new S3Store(client, BUCKET);
      slowDowns = 5;
      putsForwarded = 0;
      await store.put(KEY, '{"v":1,"value":42}');
      expect(slowDowns).toBe(0);
      expect(putsForwarded).toBe(1);
      expect((await store.get(KEY)).toString()).toBe('{"v":1,"value":42}');
    } finally {
      client.destroy();
    }
  }, 60_000);

  it("(the SDK's default of 3 attempts gives up: the chunk would have been recomputed)", async () => {
    const client = makeS3Client({ region: "us-east-1", endpoint: proxyUrl, credentials: creds });
    try {
      slowDowns = 5;
      await expect(new S3Store(client, BUCKET).put(KEY, "{}")).rejects.toMatchObject({ name: "SlowDown" });
    } finally {
      client.destroy();
    }
  }, 60_000);
});
