// Inputs that live in S3 (and in local folders): lines() over an s3:// key or prefix,
// objects() and files() with ctx.read. The user's bucket is on an s3rver this file starts,
// apart from the run store; the client and the local workers reach it through the SDK's
// standard AWS_ENDPOINT_URL_S3. Answers are exact: every line counted once.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "fanout";
import { startS3rver, stopS3rver, type EmulatedS3 } from "../dist/src/compute/aws/s3rver.js";
import { planChunks } from "../dist/src/plan/plan.js";
import { resolveChunk } from "../dist/src/plan/source.js";
import { splitLines } from "../dist/src/plan/lines.js";
import { FolderStore } from "../dist/src/store/folder.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const DIR = tmpDir("s3-inputs");
const STORE = path.join(DIR, "store");
const BUCKET = "user-data";
let s3: EmulatedS3;
let client: S3Client;
const saved: Record<string, string | undefined> = {};
const ENV = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" };

async function put(key: string, body: string | Buffer, extra: { ContentEncoding?: string } = {}): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.from(body), ...extra }));
}

/** An order-free fingerprint of a multiset of lines: count, and the sum of their hashes. */
function fingerprint(lines: string[]): { n: number; h: string } {
  let h = 0n;
  for (const l of lines) h += BigInt("0x" + createHash("sha1").update(l).digest("hex").slice(0, 12));
  return { n: lines.length, h: h.toString() };
}
/** The same, as the job's map computes it (bundled: node:crypto is fine in a worker). */
const FINGERPRINT_JOB = `
import { createHash } from "node:crypto";
const fp = (lines: string[]) => { let h = 0n; for (const l of lines) h += BigInt("0x" + createHash("sha1").update(l).digest("hex").slice(0, 12)); return { n: lines.length, h: h.toString() }; };
const add = (rs: { n: number; h: string }[]) => rs.reduce((a, r) => ({ n: a.n + r.n, h: (BigInt(a.h) + BigInt(r.h)).toString() }), { n: 0, h: "0" });
`;

let jobSeq = 0;
function writeJob(body: string): string {
  const file = path.join(DIR, `job-${++jobSeq}.ts`);
  fs.writeFileSync(file, `import { defineJob, lines, objects, files } from "fanout";\n${FINGERPRINT_JOB}\n${body}\n`);
  return file;
}

/** The big CSV: > 50 MB, CRLF endings, multibyte lines, and one line longer than a chunk's range. */
let bigLines: string[] = [];
const SMALL = { count: 0, bytes: 0, keys: [] as string[] };

beforeAll(async () => {
  for (const k of Object.keys(ENV)) saved[k] = process.env[k];
  saved.AWS_ENDPOINT_URL_S3 = process.env.AWS_ENDPOINT_URL_S3;
  s3 = await startS3rver(path.join(DIR, "s3"), BUCKET);
  Object.assign(process.env, ENV, { AWS_ENDPOINT_URL_S3: s3.endpoint });
  client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  await client.send(new CreateBucketCommand({ Bucket: "other-bucket" })).catch(() => {});

  // 1,100 small objects under nested prefixes, three lines each.
  const jobs: Promise<void>[] = [];
  for (let a = 0; a < 10; a++)
    for (let b = 0; b < 10; b++)
      for (let f = 0; f < 11; f++) {
        const key = `many/y${a}/m${b}/f${f}.log`;
        const body = `GET /a ${200 + ((a + b + f) % 3)}\nGET /b 404\nPOST /c ${f % 2 ? 500 : 200}\n`;
        SMALL.count += 3;
        SMALL.bytes += body.length;
        SMALL.keys.push(key);
        jobs.push(put(key, body));
        if (jobs.length >= 64) await Promise.all(jobs.splice(0));
      }
  await Promise.all(jobs);

  // The big CSV, built from a fixed seed.
  const rows: string[] = ["id,name,note"];
  let rnd = 12345;
  const next = () => (rnd = (rnd * 1103515245 + 12345) % 2147483648);
  let bytes = 0;
  while (bytes < 52 * 1024 * 1024) {
    const i = rows.length;
    const row = i === 40_000 ? `${i},long,${"語".repeat(900_000)}` : `${i},${["alpha", "βήτα", "日本語", "🙂x"][next() % 4]},${"n".repeat(next() % 120)}`;
    rows.push(row);
    bytes += Buffer.byteLength(row) + 2;
  }
  bigLines = rows;
  await put("big/data.csv", rows.join("\r\n") + "\r\n");

  // A prefix with a gzip object (by name and by Content-Encoding), an empty one, and no final newline.
  await put("mixed/a.txt", "one\ntwo\r\nthree");
  await put("mixed/b.txt.gz", gzipSync("g1\ng2\n"));
  await put("mixed/c.bin", gzipSync("e1\r\ne2"), { ContentEncoding: "gzip" });
  await put("mixed/d-empty.txt", "");
  await put("mixed/e.txt", "\nfive\n");
}, 300_000);

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  client?.destroy();
  if (s3) await stopS3rver(s3);
  rmDir(DIR);
});

/** Every chunk of a plan, resolved as a worker would (ranged reads from S3). */
async function planAndRead(spec: Parameters<typeof planChunks>[0], chunks: number) {
  const plan = await planChunks(spec, chunks, DIR);
  const store = new FolderStore(STORE);
  const values: unknown[] = [];
  for (const src of plan.sources) values.push(await resolveChunk(src, store));
  return { plan, values };
}

describe("lines() over S3: exact by property", () => {
  it("random texts as objects under a prefix: every line once, in order, for any chunk count", async () => {
    let seq = 0;
    const text = fc
      .record({ lines: fc.array(fc.oneof(fc.string({ unit: "grapheme", maxLength: 12 }).map((s) => s.replace(/\n/g, "")), fc.constantFrom("", "é語🙂", "\r")), { maxLength: 30 }), crlf: fc.boolean(), trailing: fc.boolean() })
      .map(({ lines, crlf, trailing }) => lines.join(crlf ? "\r\n" : "\n") + (trailing && lines.length ? (crlf ? "\r\n" : "\n") : ""));
    await fc.assert(
      fc.asyncProperty(fc.array(text, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 40 }), async (texts, chunks) => {
        const prefix = `prop/${++seq}/`;
        for (let i = 0; i < texts.length; i++) await put(`${prefix}${i}.txt`, texts[i]!);
        const { values } = await planAndRead({ kind: "lines", path: `s3://${BUCKET}/${prefix}` }, chunks);
        expect((values as string[][]).flat()).toEqual(texts.flatMap((t) => splitLines(t)));
      }),
      { numRuns: 25 },
    );
  }, 120_000);

  it("a prefix with a gzip object, a Content-Encoding gzip object, an empty object and no final newline", async () => {
    const notices: string[] = [];
    const { plan, values } = await planAndRead({ kind: "lines", path: `s3://${BUCKET}/mixed/` }, 4);
    notices.push(...plan.notes);
    expect((values as string[][]).flat().sort()).toEqual(["", "e1", "e2", "five", "g1", "g2", "one", "three", "two"]);
    expect(notices).toContain("2 gzip objects cannot be split by byte range: each is read whole by one chunk of its own");
    expect(plan.listing!.objects.map((o) => o.key)).toEqual(["mixed/a.txt", "mixed/b.txt.gz", "mixed/c.bin", "mixed/d-empty.txt", "mixed/e.txt"]);
    expect(plan.listing!.objects.every((o) => /^"[0-9a-f]{32}"$/.test(o.etag))).toBe(true);
  });

  it("an object changed after the listing is a clear error, not different data", async () => {
    await put("changing/x.txt", "a\nb\n");
    const plan = await planChunks({ kind: "lines", path: `s3://${BUCKET}/changing/x.txt` }, 2, DIR);
    await put("changing/x.txt", "a\nB\n");
    await expect(resolveChunk(plan.sources[0]!, new FolderStore(STORE))).rejects.toThrow(
      /^s3:\/\/user-data\/changing\/x\.txt changed after the run listed it \(etag "[0-9a-f]+", now "[0-9a-f]+"\): its chunks would read different data/,
    );
  });

  it("a missing bucket and an empty prefix are errors, not empty results", async () => {
    await expect(planChunks({ kind: "lines", path: "s3://no-such-bucket-zz/x/" }, 2, DIR)).rejects.toThrow('input bucket "no-such-bucket-zz" does not exist');
    await expect(planChunks({ kind: "objects", url: `s3://${BUCKET}/nothing-here/` }, 2, DIR)).rejects.toThrow(`objects("s3://${BUCKET}/nothing-here/") found no objects in bucket ${BUCKET}`);
  });
});

describe("real runs on the local backend, reading s3:// through AWS_ENDPOINT_URL_S3", () => {
  it("lines() of a 50 MB+ CSV (CRLF, multibyte, a line longer than a chunk's range): every line once, for random chunk counts", async () => {
    const want = fingerprint(bigLines);
    const job = writeJob(`export default defineJob({ input: lines("s3://${BUCKET}/big/data.csv"), map: (ls) => fp(ls), reduce: add });`);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 60, max: 400 }), async (chunks) => {
        const res = await run<{ n: number; h: string }>(job, { cwd: DIR, store: STORE, chunks });
        expect(res.result).toEqual(want);
        expect(res.summary.chunks).toBe(chunks);
      }),
      { numRuns: 2 },
    );
  }, 300_000);

  it("lines() over a prefix of 1,100 objects: every line once; the manifest records the listing", async () => {
    const job = writeJob(`export default defineJob({ input: lines("s3://${BUCKET}/many/"), map: (ls) => ls.length, reduce: (ns) => ns.reduce((a, b) => a + b, 0) });`);
    const res = await run<number>(job, { cwd: DIR, store: STORE, chunks: 37 });
    expect(res.result).toBe(SMALL.count);
    const { readManifest } = await import("fanout");
    const manifest = await readManifest(new FolderStore(STORE), res.runId);
    expect(manifest.listing!.url).toBe(`s3://${BUCKET}/many/`);
    expect(manifest.listing!.objects.map((o) => o.key)).toEqual([...SMALL.keys].sort());
  }, 120_000);

  it("objects() with match: one item per object, chunks balanced by bytes, ctx.read streams each", async () => {
    const job = writeJob(`export default defineJob({
      input: objects("s3://${BUCKET}/many/", { match: "y3/**/*.log" }),
      async map(objs, ctx) {
        const out: [string, number][] = [];
        for (const o of objs) { let n = 0; for await (const b of ctx.read(o)) n += b.length; out.push([o.key, n]); }
        return out;
      },
      reduce: (rs) => rs.flat(),
    });`);
    const res = await run<[string, number][]>(job, { cwd: DIR, store: STORE, chunks: 8 });
    const keys = SMALL.keys.filter((k) => k.startsWith("many/y3/")).sort();
    expect(res.result.map(([k]) => k)).toEqual(keys);
    expect(res.summary.chunks).toBe(8);
    for (const [, n] of res.result) expect(n).toBeGreaterThan(20);
  }, 120_000);
});

describe("local folders and globs: the same two shapes", () => {
  it("lines() over a folder and files() with ctx.read", async () => {
    const data = path.join(DIR, "data");
    fs.mkdirSync(path.join(data, "sub"), { recursive: true });
    fs.writeFileSync(path.join(data, "a.csv"), "1\r\n2\r\n3");
    fs.writeFileSync(path.join(data, "sub", "b.csv"), "4\n5\n");
    fs.writeFileSync(path.join(data, "sub", "c.txt"), "6\n");
    const linesJob = writeJob(`export default defineJob({ input: lines("data"), map: (ls) => ls, reduce: (rs) => rs.flat() });`);
    for (const chunks of [1, 3, 7]) {
      const res = await run<string[]>(linesJob, { cwd: DIR, store: STORE, chunks });
      expect(res.result).toEqual(["1", "2", "3", "4", "5", "6"]);
    }
    const filesJob = writeJob(`export default defineJob({
      input: files("data/**/*.csv"),
      async map(objs, ctx) { const out: string[] = []; for (const o of objs) { let s = ""; for await (const b of ctx.read(o)) s += Buffer.from(b).toString(); out.push(o.key + "=" + s.length); } return out; },
      reduce: (rs) => rs.flat(),
    });`);
    const res = await run<string[]>(filesJob, { cwd: DIR, store: STORE, chunks: 2 });
    expect(res.result).toEqual(["data/a.csv=7", "data/sub/b.csv=4"]);
  }, 120_000);
});
