/**
 * The lines a byte range owns, cut out of the bytes as they arrive: the one place that decides
 * which lines belong to a range (src/plan/lines.ts readOwnedLines feeds it whole buffers or a
 * ranged GET's body, piece by piece).
 *
 * Bytes are decoded a batch of whole lines at a time (BATCH), not as one buffer per chunk: at
 * lines("s3://...")'s tens of MB a chunk, a buffer and a string of the chunk's size each
 * (external memory, many at once in a process running chunks side by side) made the garbage
 * collector mark the whole heap over and over, which in a process with a large heap (a warm
 * worker's) doubled the read's CPU time; batches of this size stay on the V8 heap's
 * large-object space and are reused. The batches are split into line strings only when the
 * lines are asked for: made while the body arrives, millions of small strings outlived every
 * young-generation collection of the download and were copied by each (bench/run.js, case g,
 * measured in its notes).
 */
import { isAscii } from "node:buffer";

const NL = 0x0a;
const CR = 0x0d;
/** Bytes of whole lines decoded at once; a longer line grows the batch to fit it. */
const BATCH = 256 * 1024;

export class OwnedLineCutter {
  /** Absolute offset of the next byte fed. */
  private at: number;
  /** Past the partial line before the range's first line start. */
  private owning: boolean;
  /** The last owned line has ended: later bytes are not the range's. */
  done = false;
  /** Owned bytes not decoded yet, from a line start. */
  private batch: Buffer;
  private n = 0;
  /** Decoded batches of whole lines, split only when the lines are asked for. */
  private readonly texts: string[] = [];
  /** Some batch holds a "\r". */
  private cr = false;

  /**
   * Bytes are fed from offset `from` on: `start` itself when it is 0, else `start - 1`, so
   * that a newline just before the range says a line starts exactly at `start`.
   */
  constructor(
    from: number,
    start: number,
    private readonly end: number,
  ) {
    this.at = from;
    this.owning = start === 0;
    // A small range (a prefix of small objects is thousands of them) needs no full batch: it grows if a line runs on.
    this.batch = Buffer.allocUnsafe(Math.min(BATCH, end - from + 1024));
  }

  /** Feed the next bytes; true once the range's last line has ended (what follows is not needed). */
  feed(piece: Uint8Array): boolean {
    const base = this.at;
    this.at += piece.length;
    if (this.done) return true;
    const p = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    let i = 0;
    if (!this.owning) {
      const nl = p.indexOf(NL);
      if (nl === -1) return false;
      // The first line start after `from`: none of the range's own if it is at or past `end`.
      if (base + nl + 1 >= this.end) return (this.done = true);
      this.owning = true;
      i = nl + 1;
    }
    // The range's last line is the one that starts before `end`: it ends at the first newline at or after end - 1.
    const searchAt = Math.max(base + i, this.end - 1) - base;
    const nl = searchAt < p.length ? p.indexOf(NL, searchAt) : -1;
    this.append(p, i, nl === -1 ? p.length : nl);
    if (nl !== -1) this.done = true;
    return this.done;
  }

  /** The owned lines, once every byte has been fed (or feed said done); "\r\n" endings lose the "\r". */
  lines(): string[] {
    if (!this.owning) return [];
    this.flush(this.n);
    const last = this.texts.length - 1;
    const parts = this.texts.map((text, t) => {
      const pieces = text.split("\n");
      // Every batch but the last ends just past a newline: its final empty piece is not a line.
      if (t < last) pieces.pop();
      return pieces;
    });
    this.texts.length = 0;
    // Not parts.flat(): V8's flat copies element by element, concat in bulk (bench/run.js, case g).
    const out = parts.length === 1 ? parts[0]! : ([] as string[]).concat(...parts);
    if (this.cr) for (let j = 0; j < out.length; j++) if (out[j]!.endsWith("\r")) out[j] = out[j]!.slice(0, -1);
    return out;
  }

  private append(p: Buffer, from: number, to: number): void {
    while (from < to) {
      if (this.n === this.batch.length) this.makeRoom();
      const take = Math.min(to - from, this.batch.length - this.n);
      p.copy(this.batch, this.n, from, from + take);
      this.n += take;
      from += take;
    }
  }

  /** The batch is full: decode its whole lines, or grow it while one line fills it. */
  private makeRoom(): void {
    const nl = this.batch.lastIndexOf(NL, this.n - 1);
    if (nl === -1) {
      const bigger = Buffer.allocUnsafe(this.batch.length * 2);
      this.batch.copy(bigger, 0, 0, this.n);
      this.batch = bigger;
      return;
    }
    this.flush(nl + 1);
  }

  /**
   * Decode batch bytes [0, k) as one string and keep the rest for later: k is just past a
   * newline, or the end of the range's last line (which may be empty).
   */
  private flush(k: number): void {
    const b = this.batch.subarray(0, k);
    this.texts.push(b.toString(isAscii(b) ? "latin1" : "utf8"));
    this.cr ||= b.includes(CR);
    this.batch.copy(this.batch, 0, k, this.n);
    this.n -= k;
  }
}
