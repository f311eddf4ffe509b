// A GetObject whose body is cut off mid-way (the connection reset after the headers): the SDK's
// retries cover a request until its response headers arrive, not the body after them
// (https://github.com/aws/aws-sdk-js-v3/issues/8098), so S3Store asks for the object again.
// A loopback fake S3 sends the headers and part of the body, then resets the connection, as a
// dropped connection to S3 does.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeS3Client, S3Store } from "../../dist/src/store/s3.js";

const BODY = Buffer.from("0123456789".repeat(1000));
let cutsLeft = 0;
const asked: string[] = [];
let server: http.Server;
let store: S3Store;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    asked.push(`${req.method} ${req.url} ${req.headers.range ?? ""}`.trim());
    const range = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? "");
    const body = range ? BODY.subarray(Number(range[1]), Number(range[2]) + 1) : BODY;
    res.writeHead(range ? 206 : 200, { "content-length": String(body.length), "content-type": "application/octet-stream", etag: '"e"' });
    if (cutsLeft > 0) {
      cutsLeft--;
      res.write(body.subarray(0, 100));
      setTimeout(() => req.socket.resetAndDestroy(), 20);
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  store = new S3Store(makeS3Client({ region: "us-east-1", endpoint, credentials: { accessKeyId: "k", secretAccessKey: "s" } }), "bucket");
});

afterAll(async () => {
  store?.client.destroy();
  await new Promise((r) => server?.close(r));
});

describe("S3Store reads whose body is cut off", () => {
  it("asks again and returns the whole object, whole or ranged", async () => {
    cutsLeft = 2;
    asked.length = 0;
    expect((await store.get("data/x.bin")).equals(BODY)).toBe(true);
    expect(asked).toEqual(["GET /bucket/data/x.bin?x-id=GetObject", "GET /bucket/data/x.bin?x-id=GetObject", "GET /bucket/data/x.bin?x-id=GetObject"]);
    cutsLeft = 1;
    expect((await store.getRange("data/x.bin", 5000, 6000)).equals(BODY.subarray(5000, 6000))).toBe(true);
  });

  it("gives up after three cut bodies, with the connection's error", async () => {
    cutsLeft = 3;
    asked.length = 0;
    await expect(store.get("data/x.bin")).rejects.toMatchObject({ message: "aborted" });
    expect(asked).toHaveLength(3);
    cutsLeft = 0;
  });
});
