// Issue 11, committing a chunk's outputs. When two attempts of a chunk both succeed (a speculative copy and its original),
// exactly one commits its outputs. Each attempt claims the chunk before it moves its staged
// objects; the claim is an S3 PutObject with If-None-Match: * (a folder: a hard link). s3rver
// ignores that header, so the S3 case runs through a loopback proxy that enforces it as S3
// documents ("How to prevent object overwrites with conditional writes",
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
// A staged object bigger than CopyObject's 5 GB limit is committed with a multipart
// UploadPartCopy, which s3rver lacks and the same proxy serves as S3 documents; the size
// threshold is made small here.
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { CreateBucketCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3rver, stopS3rver, type EmulatedS3 } from "../dist/src/compute/aws/s3rver.js";
import { openOutput } from "../dist/src/store/output.js";
import { S3Output } from "../dist/src/store/s3-output.js";
import { ChunkOutputs } from "../dist/worker/outputs.js";
import { InfraError } from "../dist/src/errors.js";
import { claimAbandoned, releaseAbandonedClaims, releaseDeadClaim, workerGone } from "../dist/src/run/outputs.js";
import type { Task } from "../dist/src/types.js";
import { startS3Proxy } from "./helpers/s3-proxy.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const DIR = tmpDir("output-claim");
const BUCKET = "claim-out";
let s3: EmulatedS3;
let proxy: Awaited<ReturnType<typeof startS3Proxy>>;

beforeAll(async () => {
  s3 = await startS3rver(path.join(DIR, "s3"), BUCKET);
  proxy = await startS3Proxy(s3.endpoint, { conditionalWrites: true, uploadPartCopy: true });
  const client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET })).catch(() => {});
  client.destroy();
  // The workers' S3 client for outputs is the environment's (as on Lambda).
  Object.assign(process.env, { AWS_ENDPOINT_URL_S3: proxy.url, AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" });
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  if (s3) await stopS3rver(s3);
  rmDir(DIR);
});

const task = (output: string, attempt: number) => ({ runId: "20261128T000000Z-claims", index: 3, attempt, output }) as unknown as Task;

/** Two attempts of chunk 3 write different sets, both succeed and commit at the same time. */
async function bothSucceed(output: string) {
  const a = new ChunkOutputs(task(output, 1));
  const b = new ChunkOutputs(task(output, 2));
  await Promise.all([a.write("same.txt", "from attempt 1"), a.write("only-1.txt", "one"), b.write("same.txt", "from attempt 2!"), b.write("only-2.txt", "two")]);
  const [ra, rb] = await Promise.all([a.commit(), b.commit()]);
  const sink = await openOutput(output);
  const all = await sink.list("20261128T000000Z-claims/");
  const finals = all.filter((o) => !o.rel.includes("/."));
  // Attempt 1's same.txt is 14 bytes, attempt 2's 15: the size says whose was committed.
  const winner = finals.find((o) => o.rel.endsWith("/same.txt"))?.size === 14 ? 1 : 2;
  return { ra, rb, all, finals, winner };
}

const SETS = {
  1: [{ rel: "20261128T000000Z-claims/3/only-1.txt", size: 3 }, { rel: "20261128T000000Z-claims/3/same.txt", size: 14 }],
  2: [{ rel: "20261128T000000Z-claims/3/only-2.txt", size: 3 }, { rel: "20261128T000000Z-claims/3/same.txt", size: 15 }],
};

describe("two successful attempts of one chunk: exactly one commits", () => {
  it("a local folder", async () => {
    const out = path.join(DIR, "out");
    const { ra, rb, all, finals, winner } = await bothSucceed(out);
    expect(finals.sort((x, y) => (x.rel < y.rel ? -1 : 1))).toEqual(SETS[winner]);
    // Both attempts report the winner's outputs; nothing is left staged.
    expect(ra).toEqual(rb);
    expect(ra.map((r) => r.name).sort()).toEqual([`only-${winner}.txt`, "same.txt"]);
    expect(all.filter((o) => o.rel.includes("/.staging/"))).toEqual([]);
  });

  it("an S3 prefix (conditional writes as S3 enforces them)", async () => {
    proxy.log.length = 0;
    const { ra, rb, all, finals, winner } = await bothSucceed(`s3://${BUCKET}/out/`);
    expect(finals.sort((x, y) => (x.rel < y.rel ? -1 : 1))).toEqual(SETS[winner]);
    expect(ra).toEqual(rb);
    expect(ra.map((r) => r.key).sort()).toEqual([`out/20261128T000000Z-claims/3/only-${winner}.txt`, "out/20261128T000000Z-claims/3/same.txt"]);
    expect(all.filter((o) => o.rel.includes("/.staging/"))).toEqual([]);
    // Two claims were sent with If-None-Match: *, and one was refused.
    expect(proxy.log.filter((r) => r.method === "PUT" && r.headers["if-none-match"] === "*")).toHaveLength(2);
  });
});

describe("committing a staged object bigger than one CopyObject may copy", () => {
  const MiB = 1024 * 1024;
  const limits = { singleAtMost: 5 * MiB, partBytes: 5 * MiB };

  async function body(key: string): Promise<Buffer> {
    const client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
    try {
      const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    } finally {
      client.destroy();
    }
  }
  const copies = () => proxy.log.filter((r) => r.method === "PUT" && r.headers["x-amz-copy-source"]);

  it("past the threshold: UploadPartCopy in 5 MiB ranges, then the exact bytes at the final key and nothing staged", async () => {
    const sink = new S3Output(`s3://${BUCKET}/big/`, undefined, limits);
    const data = randomBytes(12 * MiB + 3);
    expect(await sink.write("staged/x.bin", data)).toBe(data.length);
    proxy.log.length = 0;
    await sink.move("staged/x.bin", "final/x.bin", data.length);
    expect(copies().map((r) => [r.url.includes("uploadId="), r.headers["x-amz-copy-source-range"]])).toEqual([
      [true, "bytes=0-5242879"],
      [true, "bytes=5242880-10485759"],
      [true, "bytes=10485760-12582914"],
    ]);
    const post = (url: string) => (url.includes("uploads") ? "create" : url.includes("uploadId=") ? "complete" : url.includes("delete") ? "delete staged" : url);
    expect(proxy.log.filter((r) => r.method === "POST").map((r) => post(r.url))).toEqual(["create", "complete", "delete staged"]);
    expect((await body("big/final/x.bin")).equals(data)).toBe(true);
    expect((await sink.list("staged/")).length).toBe(0);
  });

  it("at or under the threshold: one CopyObject", async () => {
    const sink = new S3Output(`s3://${BUCKET}/big/`, undefined, limits);
    const data = randomBytes(5 * MiB);
    await sink.write("staged/y.bin", data);
    proxy.log.length = 0;
    await sink.move("staged/y.bin", "final/y.bin", data.length);
    expect(copies().map((r) => r.url.includes("uploadId="))).toEqual([false]);
    expect((await body("big/final/y.bin")).equals(data)).toBe(true);
  });
});

// A claim left by a dead attempt (test/output-commit-dead.test.ts runs the whole path).
describe("a claim whose holder is gone", () => {
  const RUN = "20261128T000000Z-dead";
  const deadTask = (output: string, attempt: number) => ({ runId: RUN, index: 4, attempt, output }) as unknown as Task;

  /** Attempt 1 claims chunk 4 and moves one of its two outputs, then its worker dies (as if). */
  async function diedMidMove(output: string) {
    const sink = await openOutput(output);
    await sink.write(`${RUN}/.staging/4-1/a.txt`, "aaa");
    await sink.write(`${RUN}/.staging/4-1/b.txt`, "bbbb");
    const records = [{ name: "a.txt", key: sink.keyOf(`${RUN}/4/a.txt`), bytes: 3 }, { name: "b.txt", key: sink.keyOf(`${RUN}/4/b.txt`), bytes: 4 }];
    expect(await sink.claim(`${RUN}/.claims/4`, JSON.stringify({ attempt: 1, records }))).toBe(true);
    await sink.move(`${RUN}/.staging/4-1/a.txt`, `${RUN}/4/a.txt`, 3);
    return sink;
  }

  for (const where of ["a local folder", "an S3 prefix"]) {
    const location = () => (where === "a local folder" ? path.join(DIR, "dead-out") : `s3://${BUCKET}/dead/`);

    it(`${where}: a loser never reports the dead holder's missing outputs; it fails as transient (EBUSY) so the chunk is retried`, async () => {
      await diedMidMove(location());
      const b = new ChunkOutputs(deadTask(location(), 2));
      await b.write("c.txt", "cc");
      await expect(b.commit()).rejects.toMatchObject({ code: "EBUSY" });
      // The loser dropped its own staging; the holder's claim and its moved output stay for the client to release.
      const left = (await (await openOutput(location())).list(`${RUN}/`)).map((o) => o.rel).sort();
      expect(left).toEqual([`${RUN}/.claims/4`, `${RUN}/.staging/4-1/b.txt`, `${RUN}/4/a.txt`]);
    }, 30_000);

    it(`${where}: the client releases the claim only for the attempt that holds it, with what it moved and staged; the retry then commits`, async () => {
      const sink = await openOutput(location());
      // Attempt 2 (a live copy, say) did not hold the claim: nothing changes.
      expect(await releaseDeadClaim(sink, RUN, 4, 2)).toBe(false);
      expect(JSON.parse((await sink.read(`${RUN}/.claims/4`))!.toString()).attempt).toBe(1);
      expect(await releaseDeadClaim(sink, RUN, 4, 1)).toBe(true);
      expect(await sink.list(`${RUN}/`)).toEqual([]);
      const c = new ChunkOutputs(deadTask(location(), 3));
      await c.write("c.txt", "cc");
      expect((await c.commit()).map((r) => [r.name, r.bytes])).toEqual([["c.txt", 2]]);
      expect((await sink.list(`${RUN}/`)).filter((o) => !o.rel.includes("/.")).map((o) => [o.rel, o.size])).toEqual([[`${RUN}/4/c.txt`, 2]]);
      await sink.clear(`${RUN}/`);
    });

    it(`${where}: a loser waiting on a dead holder claims the chunk once the client releases it, and commits its own outputs`, async () => {
      const sink = await diedMidMove(location());
      const b = new ChunkOutputs(deadTask(location(), 2));
      await b.write("c.txt", "cc");
      const committing = b.commit();
      await new Promise((r) => setTimeout(r, 300));
      expect(await releaseDeadClaim(sink, RUN, 4, 1)).toBe(true);
      expect((await committing).map((r) => [r.name, r.bytes])).toEqual([["c.txt", 2]]);
      const left = (await sink.list(`${RUN}/`)).map((o) => [o.rel, o.size]);
      expect(left).toEqual([[`${RUN}/.claims/4`, expect.any(Number)], [`${RUN}/4/c.txt`, 2]]);
      await sink.clear(`${RUN}/`);
    });
  }

  it("a resume releases the claims no worker can still hold: local workers died with their client; on Lambda, claims older than 15 minutes", async () => {
    const location = `s3://${BUCKET}/abandoned/`;
    const sink = await openOutput(location);
    const at = 1_795_000_000_000;
    // Chunks 1-4 claimed by attempt 1; chunk 4's claim predates claim times; chunk 2 is finished (not to do).
    for (const [index, body] of [[1, { attempt: 1, at }], [2, { attempt: 1, at }], [3, { attempt: 1, at: at + 120_000 }], [4, { attempt: 1 }]] as const) {
      await sink.write(`${RUN}/.staging/${index}-1/a.txt`, "aaa");
      expect(await sink.claim(`${RUN}/.claims/${index}`, JSON.stringify({ ...body, records: [] }))).toBe(true);
      await sink.move(`${RUN}/.staging/${index}-1/a.txt`, `${RUN}/${index}/a.txt`, 3);
    }
    const todo = [0, 1, 3, 4, 5];
    // Five minutes on, a Lambda attempt may still be moving: nothing goes.
    expect(await releaseAbandonedClaims(location, RUN, todo, false, undefined, at + 300_000)).toEqual([]);
    // 15 min 11 s after chunk 1's claim, not yet two minutes more for chunk 3's.
    expect(await releaseAbandonedClaims(location, RUN, todo, false, undefined, at + 911_000)).toEqual([1]);
    expect((await sink.list(`${RUN}/`)).map((o) => o.rel).sort()).toEqual([`${RUN}/.claims/2`, `${RUN}/.claims/3`, `${RUN}/.claims/4`, `${RUN}/2/a.txt`, `${RUN}/3/a.txt`, `${RUN}/4/a.txt`]);
    // Local workers exit with their client: every unfinished chunk's claim goes, timed or not.
    expect((await releaseAbandonedClaims(location, RUN, todo, true)).sort()).toEqual([3, 4]);
    expect((await sink.list(`${RUN}/`)).map((o) => o.rel).sort()).toEqual([`${RUN}/.claims/2`, `${RUN}/2/a.txt`]);
    await sink.clear(`${RUN}/`);
  });

  it("claimAbandoned: a claim without its time is kept on Lambda", () => {
    expect(claimAbandoned({ attempt: 1 }, false, Date.now())).toBe(false);
    expect(claimAbandoned({ attempt: 1 }, true, Date.now())).toBe(true);
    expect(claimAbandoned({ attempt: 1, at: 0 }, false, 910_000)).toBe(false);
    expect(claimAbandoned({ attempt: 1, at: 0 }, false, 910_001)).toBe(true);
  });

  it("which outcomes mean the worker is gone: crash, oom, timeout; not a lost connection, a 429 or a cancel", () => {
    const kinds = ["crash", "oom", "timeout", "transient", "throttled", "cancelled"] as const;
    expect(kinds.filter((k) => workerGone(new InfraError(k, "x")))).toEqual(["crash", "oom", "timeout"]);
  });
});
