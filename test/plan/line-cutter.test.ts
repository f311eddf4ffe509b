import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readOwnedLines, splitLines } from "../../dist/src/plan/lines.js";

// readOwnedLines over a streamed body (lines("s3://...") reads a ranged GET's body this way):
// whatever sizes the body's pieces come in (one byte, cutting a multibyte character or a
// "\r\n" pair, or far larger than the cutter's 256 KiB decode batch), every line is owned by
// exactly one range of any partition, and the lines are the text's.

/** A line: short unicode, a stray "\r", or longer than the reader's tail window or its decode batch. */
const lineArb = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }).map((s) => s.replace(/\n/g, "")) },
  { weight: 3, arbitrary: fc.constantFrom("", " ", "\r", "a\rb", "é", "日本語", "🙂🙂", "x".repeat(90)) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 60_000, max: 600_000 }), fc.constantFrom("x", "é", "語", "🙂")).map(([bytes, ch]) =>
      ch.repeat(Math.ceil(bytes / Buffer.byteLength(ch))),
    ),
  },
);

/** Lines joined by "\n" or "\r\n", with or without a final newline; `many` pads with thousands of short lines (several decode batches). */
const textArb = fc
  .record({ lines: fc.array(lineArb, { maxLength: 12 }), many: fc.nat({ max: 12_000 }), crlf: fc.boolean(), trailing: fc.boolean() })
  .map(({ lines, many, crlf, trailing }) => {
    const all = [...lines, ...Array.from({ length: many }, (_, i) => `line ${i} ${"ab".repeat(i % 17)}`)];
    const sep = crlf ? "\r\n" : "\n";
    return all.join(sep) + (trailing && all.length ? sep : "");
  });

/** A reader that streams bytes [start, end) of `body` in pieces of the given sizes (cycled), some as plain Uint8Arrays. */
function streamed(body: Buffer, sizes: number[]) {
  const ranges: Array<[number, number]> = [];
  return {
    ranges,
    reader: {
      async streamRange(_key: string, start: number, end: number) {
        ranges.push([start, end]);
        const pieces: Uint8Array[] = [];
        for (let at = start, i = 0; at < end; i++) {
          const n = Math.min(end - at, sizes[i % sizes.length]!);
          const piece = body.subarray(at, at + n);
          pieces.push(i % 3 === 2 ? new Uint8Array(piece) : piece);
          at += n;
        }
        return (async function* () {
          yield* pieces;
        })();
      },
    },
  };
}

describe("readOwnedLines over a streamed body", () => {
  it("any partition into byte ranges, any piece sizes: every line exactly once, as the text's lines", async () => {
    await fc.assert(
      fc.asyncProperty(
        textArb,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 }),
        fc.array(fc.oneof(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 70_000 }), fc.integer({ min: 200_000, max: 900_000 })), { minLength: 1, maxLength: 5 }),
        async (text, fracs, sizes) => {
          const body = Buffer.from(text, "utf8");
          const size = body.length;
          // Cut points anywhere, including inside multibyte characters and "\r\n" pairs.
          const cuts = [...new Set([0, ...fracs.map((f) => Math.floor(f * size)), size])].sort((a, b) => a - b);
          const { reader, ranges } = streamed(body, sizes);
          const got: string[] = [];
          for (let i = 0; i + 1 < cuts.length; i++) got.push(...(await readOwnedLines(reader, "k", cuts[i]!, cuts[i + 1]!, size)));
          expect(got).toEqual(splitLines(text));
          // Every read stays inside the object.
          for (const [s, e] of ranges) expect(0 <= s && s < e && e <= size).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("known cases: a range that owns no line start, an empty last line, a line that ends exactly at the range's end", async () => {
    const body = Buffer.from("ab\n\ncd\r\nef");
    const { reader } = streamed(body, [1]);
    const own = (s: number, e: number) => readOwnedLines(reader, "k", s, e, body.length);
    expect(await own(1, 2)).toEqual([]); // inside "ab": its line starts at 0
    expect(await own(0, 2)).toEqual(["ab"]);
    expect(await own(0, 3)).toEqual(["ab"]); // its newline is the range's last byte: the empty line after it starts at 3, the next range's
    expect(await own(3, 4)).toEqual([""]);
    expect(await own(4, 10)).toEqual(["cd", "ef"]);
    expect(await own(0, 10)).toEqual(["ab", "", "cd", "ef"]);
  });
});
