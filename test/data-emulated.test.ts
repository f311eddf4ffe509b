// Issue 11, local data on a remote backend: files("glob") and lines(folder) on the emulated
// stack. Its Lambda workers cannot read the calling machine's files, so each file goes to the
// run store once, by content hash, and the workers read it there (ranged, as a lines() file).
// Answers are exact: every line counted once, whatever the chunk count. The emulated workers
// share this machine, so a file:// URL would still open there (a real Lambda has no such
// file): the tests also check that what the workers read is the run store's copy.
import * as fs from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "fanout";
import { splitLines } from "../dist/src/plan/lines.js";
import { emulatorForFile } from "./helpers/emulator.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const stack = emulatorForFile();
const DIR = tmpDir("data-emulated");
/** Every line of the data folder (gzip files unzipped), in no particular order. */
const allLines: string[] = [];
/** files("data/**\/*.log"): key -> [bytes, lines]. */
const logs = new Map<string, [number, number]>();

function write(rel: string, text: string, gz = false): void {
  const file = path.join(DIR, "data", rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, gz ? gzipSync(text) : text);
  allLines.push(...splitLines(text));
  if (rel.endsWith(".log")) logs.set(`data/${rel}`, [Buffer.byteLength(text), splitLines(text).length]);
}

let seq = 0;
function writeJob(body: string): string {
  const file = path.join(DIR, `job-${++seq}.ts`);
  fs.writeFileSync(file, `import { defineJob, lines, files } from "fanout";\n${body}\n`);
  return file;
}

beforeAll(() => {
  for (let d = 0; d < 4; d++) {
    for (let f = 0; f < 9; f++) {
      const rows = Array.from({ length: 20 + d * 5 + f }, (_, i) => `${d}/${f}/${i} naïve café ☕ ${"x".repeat((i * 37) % 90)}`);
      write(`day${d}/part${f}.${f % 3 === 0 ? "txt" : "log"}`, rows.join(f % 2 ? "\r\n" : "\n") + (f === 4 ? "" : "\n"));
    }
  }
  // Two files with the same bytes: one stored object. A gzip file: a chunk of its own. An empty file.
  write("dup/a.log", "same\nbytes\n");
  write("dup/b.log", "same\nbytes\n");
  write("zipped/z.txt.gz", "g1\ng2\ng3\n", true);
  write("empty.txt", "");
});
afterAll(() => rmDir(DIR));

const counts = (ls: string[]) => [...ls.reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>())].sort(([a], [b]) => (a < b ? -1 : 1));

describe("local files on the emulated stack: uploaded once by hash, read by the Lambda workers", () => {
  it("lines(folder): every line exactly once, for several chunk counts", async () => {
    const job = writeJob(`export default defineJob({ input: lines("data"), map: (ls) => ls, reduce: (rs) => rs.flat() });`);
    for (const chunks of [1, 6, 23]) {
      const res = await run<string[]>(job, { backend: "emulated", cwd: DIR, chunks });
      expect(counts(res.result)).toEqual(counts(allLines));
    }
    // The 40 files hold 39 distinct contents (the two dup/ files are one object), besides the job's own uploads.
    const { emu } = stack.current;
    const s3 = new S3Client({ region: emu.region, endpoint: emu.s3Endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: emu.bucket, Prefix: "inputs/" }));
    s3.destroy();
    expect(listed.KeyCount).toBe(39);
  }, 300_000);

  it("files(glob) with ctx.read, whole and ranged: each file's exact bytes and lines", async () => {
    const job = writeJob(`export default defineJob({
      input: files("data/**/*.log"),
      async map(objs, ctx) {
        const out: [string, number, number, string, string][] = [];
        for (const o of objs) {
          const bufs: Buffer[] = [];
          for await (const b of ctx.read(o)) bufs.push(Buffer.from(b));
          const text = Buffer.concat(bufs).toString("utf8");
          let head = "";
          for await (const b of ctx.read(o, { start: 0, end: 4 })) head += Buffer.from(b).toString("latin1");
          out.push([o.key, Buffer.byteLength(text), text === "" ? 0 : text.replace(/\\r?\\n$/, "").split(/\\r?\\n/).length, head, o.url]);
        }
        return out;
      },
      reduce: (rs) => rs.flat(),
    });`);
    const res = await run<[string, number, number, string, string][]>(job, { backend: "emulated", cwd: DIR, chunks: 5 });
    expect(res.summary.chunks).toBe(5);
    expect(res.result.map(([k, b, n]) => [k, [b, n]])).toEqual([...logs].sort(([a], [b]) => (a < b ? -1 : 1)));
    for (const [k, , , head, url] of res.result) {
      expect(head).toBe(fs.readFileSync(path.join(DIR, k)).subarray(0, 4).toString("latin1"));
      // Read from the run store's copy, named by the file's SHA-256.
      expect(url).toMatch(/^store:inputs\/[0-9a-f]{64}$/);
    }
  }, 300_000);
});
