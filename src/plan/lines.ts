import type { ObjectStore } from "../store/types.js";
import { OwnedLineCutter } from "./line-cutter.js";

/** How far past its range a chunk first reads to finish its last line; doubled while a line goes on. */
const TAIL_READ = 64 * 1024;

/**
 * Where a range's bytes come from: a store's whole-buffer reads, or, where the bytes can be
 * streamed (a ranged GET's body), `streamRange`, so they are cut into lines as they arrive.
 */
export type RangeReader = Pick<ObjectStore, "getRange"> | { streamRange(key: string, start: number, end: number): Promise<AsyncIterable<Uint8Array>> };

/** Feed bytes [start, end) of `key` to the cutter; true if it said done. */
async function feedRange(store: RangeReader, key: string, start: number, end: number, cutter: OwnedLineCutter): Promise<boolean> {
  if (!("streamRange" in store)) return cutter.feed(await store.getRange(key, start, end));
  // Read the body to its end even after done: the tail is small, and a body left unread costs the connection.
  for await (const piece of await store.streamRange(key, start, end)) cutter.feed(piece);
  return cutter.done;
}

/**
 * The lines owned by the byte range [start, end) of an object of `size` bytes: every line whose
 * first byte lies in the range. Line starts are offset 0 and each offset after a "\n", so
 * adjacent ranges own disjoint lines and together own every line exactly once, whatever the
 * split points. Only bytes from start-1 up to the end of the last owned line (and at most a
 * read's tail beyond) are read.
 */
export async function readOwnedLines(store: RangeReader, key: string, start: number, end: number, size: number): Promise<string[]> {
  if (start >= end || start >= size) return [];
  // Read one byte before the range: if it is a newline, a line starts exactly at `start`.
  const from = start === 0 ? 0 : start - 1;
  const cutter = new OwnedLineCutter(from, start, end);
  let readTo = Math.min(size, end + TAIL_READ);
  let done = await feedRange(store, key, from, readTo, cutter);
  // Extend until the line that begins before `end` is complete.
  for (let extra = 2 * TAIL_READ; !done && readTo < size; extra *= 2) {
    const to = Math.min(size, readTo + extra);
    done = await feedRange(store, key, readTo, to, cutter);
    readTo = to;
  }
  return cutter.lines();
}

/** The reference split, for tests and the sequential baseline: lines of a whole text. */
export function splitLines(text: string): string[] {
  if (text.length === 0) return [];
  const out = text.split("\n");
  if (text.endsWith("\n")) out.pop();
  return out.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}
