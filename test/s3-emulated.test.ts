// s3:// inputs on the emulated stack: the user's bucket on the stack's s3rver, apart from the
// run bucket; the client lists through AWS_ENDPOINT_URL_S3 and the Lambda workers read it
// with their own ranged GETs. examples/logs.ts counts status codes against a known answer,
// on the emulated backend and on the local backend over the same objects.
import { gzipSync } from "node:zlib";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "fanout";
import { emulatorForFile } from "./helpers/emulator.js";
import { ROOT } from "./helpers/cli.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const stack = emulatorForFile();
const STORE = tmpDir("s3-emulated");
const BUCKET = "user-logs";
const want: Record<string, number> = {};
const saved: Record<string, string | undefined> = {};

function logLine(i: number, status: number): string {
  return `10.0.${i % 256}.${i % 7} - - [10/Oct/2024:13:55:${String(i % 60).padStart(2, "0")} +0000] "GET /p/${i}?q=é HTTP/1.1" ${status} ${i * 3}`;
}

beforeAll(async () => {
  const { emu } = stack.current;
  const client = new S3Client({ region: "us-east-1", endpoint: emu.s3Endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const statuses = [200, 200, 200, 301, 404, 500, 503];
  let i = 0;
  for (let d = 0; d < 6; d++) {
    for (let h = 0; h < 5; h++) {
      const rows: string[] = [];
      for (let n = 0; n < 40 + d * 7 + h; n++, i++) {
        const s = statuses[(i * 7 + d) % statuses.length]!;
        want[s] = (want[s] ?? 0) + 1;
        rows.push(logLine(i, s));
      }
      const body = rows.join(h % 2 ? "\r\n" : "\n") + "\n";
      const gz = d === 5 && h === 0;
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `access/2024-10-0${d + 1}/h${h}.log${gz ? ".gz" : ""}`, Body: gz ? gzipSync(body) : Buffer.from(body) }));
    }
  }
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "access/empty.log", Body: Buffer.alloc(0) }));
  client.destroy();
  for (const k of ["AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "FANOUT_LOGS_URL"]) saved[k] = process.env[k];
  Object.assign(process.env, { AWS_ENDPOINT_URL_S3: emu.s3Endpoint, AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1", FANOUT_LOGS_URL: `s3://${BUCKET}/access/` });
}, 120_000);

afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmDir(STORE);
});

const sorted = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

describe("examples/logs.ts over an S3 prefix", () => {
  it("on the emulated stack: the Lambda workers read their ranges themselves; the known answer", async () => {
    const notices: string[] = [];
    const r = await run<Record<string, number>>("examples/logs.ts", { backend: "emulated", chunks: 9, cwd: ROOT, onNotice: (l) => notices.push(l) });
    expect(r.result).toEqual(sorted(want));
    expect(notices).toContain("1 gzip object cannot be split by byte range: each is read whole by one chunk of its own");
    expect(r.summary.chunks).toBe(9);
  }, 180_000);

  it("on the local backend, over the same objects", async () => {
    const r = await run<Record<string, number>>("examples/logs.ts", { chunks: 5, cwd: ROOT, store: STORE });
    expect(r.result).toEqual(sorted(want));
  }, 120_000);
});
