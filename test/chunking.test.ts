import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "fanout";
import { FolderStore } from "../dist/src/store/folder.js";
import { keys } from "../dist/src/store/keys.js";
import { planChunks, uploadInputs } from "../dist/src/plan/plan.js";
import { splitPoints } from "../dist/src/plan/split.js";
import { readOwnedLines, splitLines } from "../dist/src/plan/lines.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

// Chunk boundaries, as properties: the pure planner and line reader directly, then the same
// properties through real runs (real worker processes, real folder store).
const DIR = tmpDir("chunking");
const STORE = path.join(DIR, "store");
afterAll(() => rmDir(DIR));

let fileSeq = 0;
function writeTemp(name: string, body: string | Buffer): string {
  const file = path.join(DIR, `${++fileSeq}-${name}`);
  fs.writeFileSync(file, body);
  return file;
}

// ---------- text generators ----------

/** A line: any unicode (multibyte included), sometimes with a stray \r inside, sometimes long. */
const lineArb = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }).map((s) => s.replace(/\n/g, "")) },
  { weight: 2, arbitrary: fc.constantFrom("", "", " ", "\r", "a\rb", "é", "日本語", "🙂🙂") },
  {
    weight: 1,
    // > 64 KiB: longer than the reader's first tail window, so it must read on.
    arbitrary: fc.tuple(fc.integer({ min: 66_000, max: 140_000 }), fc.constantFrom("x", "é", "語", "🙂")).map(([bytes, ch]) =>
      ch.repeat(Math.ceil(bytes / Buffer.byteLength(ch))),
    ),
  },
);

/** A whole text: lines joined by \n or \r\n, with or without a final newline. */
const textArb = fc
  .record({
    lines: fc.array(lineArb, { maxLength: 25 }),
    crlf: fc.boolean(),
    trailing: fc.boolean(),
  })
  .map(({ lines, crlf, trailing }) => {
    const sep = crlf ? "\r\n" : "\n";
    return lines.join(sep) + (trailing && lines.length ? sep : "");
  });

/** Small texts (no long lines) for real runs. */
const smallTextArb = fc
  .record({
    lines: fc.array(
      fc.oneof(fc.string({ unit: "grapheme", maxLength: 10 }).map((s) => s.replace(/\n/g, "")), fc.constantFrom("", "é語🙂", "\r")),
      { maxLength: 40 },
    ),
    crlf: fc.boolean(),
    trailing: fc.boolean(),
  })
  .map(({ lines, crlf, trailing }) => lines.join(crlf ? "\r\n" : "\n") + (trailing && lines.length ? (crlf ? "\r\n" : "\n") : ""));

/** The reference: the lines of the text as it is stored (UTF-8 bytes, decoded back). */
function referenceLines(text: string): string[] {
  return splitLines(Buffer.from(text, "utf8").toString("utf8"));
}

const jsonItemArb = fc.oneof(
  fc.integer(),
  fc.string({ maxLength: 6 }),
  fc.boolean(),
  fc.constant(null),
  fc.record({ k: fc.integer(), s: fc.string({ maxLength: 4 }) }),
  fc.array(fc.integer(), { maxLength: 3 }),
);

// ---------- pure functions ----------

describe("splitPoints", () => {
  it("splits [0, n) into k contiguous parts whose sizes differ by at most one", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 1, max: 1000 }), (n, k) => {
        const pts = splitPoints(n, k);
        expect(pts).toHaveLength(k + 1);
        expect(pts[0]).toBe(0);
        expect(pts[k]).toBe(n);
        const sizes = pts.slice(1).map((p, i) => p - pts[i]!);
        for (const s of sizes) expect(s).toBeGreaterThanOrEqual(0);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        for (const p of pts) expect(Number.isInteger(p)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe("splitPoints with large n", () => {
  it("is exact for any safe-integer n (range() accepts any safe integers)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 1, max: 1000 }), (n, k) => {
        const pts = splitPoints(n, k);
        expect(pts[0]).toBe(0);
        expect(pts[k]).toBe(n);
        for (let i = 1; i <= k; i++) expect(pts[i]!).toBeGreaterThanOrEqual(pts[i - 1]!);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("planChunks", () => {
  const values = (lines: string[]) => lines.map((l) => (JSON.parse(l) as { kind: string; value: unknown }).value);

  it("range: chunks cover [start, end) exactly once, contiguously; fewer integers than chunks gives a notice", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 600 }), fc.integer({ min: 1, max: 700 }), async (start, n, chunks) => {
        const plan = await planChunks({ kind: "range", start, end: start + n }, chunks, DIR);
        const parts = values(plan.lines) as { start: number; end: number }[];
        expect(parts).toHaveLength(Math.min(chunks, n));
        let at = start;
        for (const p of parts) {
          expect(p.start).toBe(at);
          expect(p.end).toBeGreaterThan(p.start); // no empty chunk
          at = p.end;
        }
        expect(at).toBe(start + n);
        if (n < chunks) expect(plan.notes).toEqual([`the input has only ${n} integers, so ${n} chunks are used instead of ${chunks}`]);
        else expect(plan.notes).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("items (array or function): slices concatenate to the array; fewer items than chunks gives a notice", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(jsonItemArb, { maxLength: 80 }), fc.integer({ min: 1, max: 100 }), fc.boolean(), async (list, chunks, asFn) => {
        const plan = await planChunks({ kind: "items", items: asFn ? async () => list : list }, chunks, DIR);
        const parts = values(plan.lines) as unknown[][];
        expect(parts).toHaveLength(Math.min(chunks, list.length));
        for (const p of parts) expect(p.length).toBeGreaterThan(0);
        expect(parts.flat()).toEqual(list);
        if (list.length < chunks) expect(plan.notes).toEqual([`the input has only ${list.length} items, so ${list.length} chunks are used instead of ${chunks}`]);
        else expect(plan.notes).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it("lines: byte ranges cover the file exactly; each chunk's lines concatenate to splitLines(text)", async () => {
    const store = new FolderStore(path.join(DIR, "unit-store"));
    await fc.assert(
      fc.asyncProperty(textArb, fc.integer({ min: 1, max: 64 }), async (text, chunks) => {
        const file = writeTemp("lines.txt", text);
        const size = fs.statSync(file).size;
        const plan = await planChunks({ kind: "lines", path: file }, chunks, DIR);
        const sources = plan.lines.map((l) => JSON.parse(l) as { kind: string; key: string; start: number; end: number; size: number });
        expect(sources).toHaveLength(size === 0 ? 0 : Math.min(chunks, size));
        let at = 0;
        for (const s of sources) {
          expect(s.kind).toBe("lines");
          expect(s.start).toBe(at);
          expect(s.size).toBe(size);
          at = s.end;
        }
        if (size > 0) expect(at).toBe(size);
        expect(size > 0 && size < chunks).toBe(plan.notes.length === 1);
        await uploadInputs(store, plan.uploads);
        const got: string[] = [];
        for (const s of sources) got.push(...(await readOwnedLines(store, s.key, s.start, s.end, s.size)));
        expect(got).toEqual(referenceLines(text));
      }),
      { numRuns: 100 },
    );
  });

  it("a missing lines() file is a UsageError naming the path", async () => {
    await expect(planChunks({ kind: "lines", path: "no/such/file.txt" }, 4, DIR)).rejects.toMatchObject({
      name: "UsageError",
      message: expect.stringContaining("no/such/file.txt"),
    });
  });
});

describe("readOwnedLines", () => {
  it("any partition of [0, size) into byte ranges owns every line exactly once", async () => {
    const store = new FolderStore(path.join(DIR, "unit-store-2"));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(textArb, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }), async (text, fracs) => {
        const body = Buffer.from(text, "utf8");
        const key = `inputs/t${++n}`;
        await store.put(key, body);
        const size = body.length;
        // Cut points anywhere, including inside multibyte characters and \r\n pairs.
        const cuts = [...new Set([0, ...fracs.map((f) => Math.floor(f * size)), size])].sort((a, b) => a - b);
        const got: string[] = [];
        for (let i = 0; i + 1 < cuts.length; i++) got.push(...(await readOwnedLines(store, key, cuts[i]!, cuts[i + 1]!, size)));
        expect(got).toEqual(referenceLines(text));
      }),
      { numRuns: 200 },
    );
  });

  it("splitLines: known cases", () => {
    expect(splitLines("")).toEqual([]);
    expect(splitLines("\n")).toEqual([""]);
    expect(splitLines("a")).toEqual(["a"]);
    expect(splitLines("a\n")).toEqual(["a"]);
    expect(splitLines("a\r\nb\r\n")).toEqual(["a", "b"]);
    expect(splitLines("a\n\nb")).toEqual(["a", "", "b"]);
    expect(splitLines("a\r\r\n")).toEqual(["a\r"]);
  });
});

// ---------- real runs ----------

/** Writes a job module (importing "fanout") into the temp dir and runs it for real. */
async function runJob(body: string, chunks: number) {
  const file = writeTemp("job.ts", `import { defineJob, range, lines } from "fanout";\n${body}\n`);
  const notices: string[] = [];
  const res = await run<unknown[]>(file, { cwd: DIR, store: STORE, chunks, onNotice: (l) => notices.push(l) });
  return { res, notices: notices.filter((l) => l.startsWith("the input has only")) };
}

const RUNS = { numRuns: 10 };

describe("chunk boundaries through real runs", () => {
  it("range: every chunk gets a contiguous, non-empty {start, end}; together exactly [start, end)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -50, max: 50 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 24 }), async (start, n, chunks) => {
        const { res, notices } = await runJob(
          `export default defineJob({ input: range(${start}, ${start + n}), map: (c, ctx) => [c.start, c.end, ctx.index, ctx.count] });`,
          chunks,
        );
        const k = Math.min(n, chunks);
        const parts = res.result as [number, number, number, number][];
        expect(parts).toHaveLength(k);
        expect(res.summary.chunks).toBe(k);
        let at = start;
        parts.forEach(([s, e, index, count], i) => {
          expect([s, index, count]).toEqual([at, i, k]);
          expect(e).toBeGreaterThan(s);
          at = e;
        });
        expect(at).toBe(start + n);
        expect(notices).toHaveLength(n < chunks ? 1 : 0);
      }),
      RUNS,
    );
  }, 60_000);

  it("array input: the chunks' slices concatenate to the array, in order", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(jsonItemArb, { maxLength: 40 }), fc.integer({ min: 1, max: 24 }), async (list, chunks) => {
        const { res, notices } = await runJob(`export default defineJob({ input: () => ${JSON.stringify(list)}, map: (c) => c });`, chunks);
        const parts = res.result as unknown[][];
        expect(parts).toHaveLength(Math.min(list.length, chunks));
        expect(parts.flat()).toEqual(list);
        expect(notices).toHaveLength(list.length < chunks ? 1 : 0);
      }),
      RUNS,
    );
  }, 60_000);

  it("lines() input: the chunks' lines concatenate to splitLines(text)", async () => {
    await fc.assert(
      fc.asyncProperty(smallTextArb, fc.integer({ min: 1, max: 24 }), async (text, chunks) => {
        const input = writeTemp("input.txt", text);
        const { res } = await runJob(`export default defineJob({ input: lines(${JSON.stringify(input)}), map: (c) => c });`, chunks);
        const size = Buffer.byteLength(text);
        const parts = res.result as string[][];
        expect(parts).toHaveLength(size === 0 ? 0 : Math.min(chunks, size));
        expect(parts.flat()).toEqual(referenceLines(text));
      }),
      RUNS,
    );
  }, 60_000);

  it("a huge range (near 2^53) is still covered exactly, to the last integer", async () => {
    const n = 5903527788694189;
    const { res } = await runJob(`export default defineJob({ input: range(0, ${n}), map: (c) => [c.start, c.end] });`, 796);
    const parts = res.result as [number, number][];
    expect(parts).toHaveLength(796);
    let at = 0;
    for (const [s, e] of parts) {
      expect(s).toBe(at);
      at = e;
    }
    expect(at).toBe(n);
  });

  it("lines() input with lines longer than 64 KiB and multibyte characters, through a real run", async () => {
    const text = ["short", "é".repeat(50_000), "", "語".repeat(30_000) + "\r", "🙂".repeat(20_000), "tail"].join("\n");
    const input = writeTemp("long.txt", text);
    for (const chunks of [1, 3, 17]) {
      const { res } = await runJob(`export default defineJob({ input: lines(${JSON.stringify(input)}), map: (c) => c });`, chunks);
      expect((res.result as string[][]).flat()).toEqual(referenceLines(text));
    }
  });

  it("the lines() file is stored once, content-addressed, under inputs/", async () => {
    const input = writeTemp("stored.txt", "one\ntwo\nthree\n");
    const { res } = await runJob(`export default defineJob({ input: lines(${JSON.stringify(input)}), map: (c) => c.length });`, 2);
    expect(res.result).toEqual([2, 1]);
    const { createHash } = await import("node:crypto");
    const sha = createHash("sha256").update(fs.readFileSync(input)).digest("hex");
    expect(fs.readFileSync(path.join(STORE, ...keys.input(sha).split("/")), "utf8")).toBe("one\ntwo\nthree\n");
  });
});
