import { isAscii } from "node:buffer";
import type { ObjectStore } from "../store/types.js";

const NL = 0x0a;
const CR = 0x0d;
/** How far past its range a chunk first reads to finish its last line; doubled while a line goes on. */
const TAIL_READ = 64 * 1024;

/**
 * The lines owned by the byte range [start, end) of an object of `size` bytes: every line whose
 * first byte lies in the range. Line starts are offset 0 and each offset after a "\n", so
 * adjacent ranges own disjoint lines and together own every line exactly once, whatever the
 * split points. Only bytes from start-1 up to the end of the last owned line are read.
 */
export async function readOwnedLines(
  store: Pick<ObjectStore, "getRange">,
  key: string,
  start: number,
  end: number,
  size: number,
): Promise<string[]> {
  if (start >= end || start >= size) return [];
  // Read one byte before the range: if it is a newline, a line starts exactly at `start`.
  const from = start === 0 ? 0 : start - 1;
  let buf = await store.getRange(key, from, Math.min(size, end + TAIL_READ));
  let first: number;
  if (start === 0) first = 0;
  else {
    const nl = buf.indexOf(NL);
    if (nl === -1 || from + nl + 1 >= end) return [];
    first = nl + 1;
  }
  // Extend until the line that begins before `end` is complete.
  const lastStartLimit = end - from;
  let searchFrom = Math.max(first, lastStartLimit - 1);
  let readTo = from + buf.length;
  let extra = TAIL_READ;
  for (;;) {
    const nl = buf.indexOf(NL, searchFrom);
    if (nl !== -1 || readTo >= size) break;
    extra *= 2;
    const more = await store.getRange(key, readTo, Math.min(size, readTo + extra));
    if (more.length === 0) break;
    searchFrom = buf.length;
    buf = Buffer.concat([buf, more]);
    readTo += more.length;
  }
  // Cut at the end of the last line that starts before `end`.
  const tailNl = buf.indexOf(NL, Math.max(first, lastStartLimit - 1));
  const stop = tailNl === -1 ? buf.length : tailNl;
  const out = decode(buf, first, stop).split("\n");
  // Only a range with a "\r" in it needs the per-line pass (bench/run.js, case g).
  const cr = buf.indexOf(CR, first);
  if (cr !== -1 && cr < stop) {
    for (let i = 0; i < out.length; i++) {
      const l = out[i]!;
      if (l.endsWith("\r")) out[i] = l.slice(0, -1);
    }
  }
  return out;
}

/**
 * Bytes [from, to) of `buf` as text. ASCII (most logs and CSVs) is the same in Latin-1 and
 * UTF-8, and Latin-1 skips the UTF-8 decoder's validation: a cheaper decode of the same
 * string (bench/run.js, case g).
 */
function decode(buf: Buffer, from: number, to: number): string {
  return buf.toString(isAscii(buf.subarray(from, to)) ? "latin1" : "utf8", from, to);
}

/** The reference split, for tests and the sequential baseline: lines of a whole text. */
export function splitLines(text: string): string[] {
  if (text.length === 0) return [];
  const out = text.split("\n");
  if (text.endsWith("\n")) out.pop();
  return out.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}
