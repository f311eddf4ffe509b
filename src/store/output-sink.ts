/** What an output location can do, shared by the folder and S3 sinks (a leaf: no cycle between them). */
import { Readable } from "node:stream";
import type { OutputBody } from "../job/index.js";

/** One object under an output location, by its key relative to the location. */
export interface OutputObject {
  rel: string;
  size: number;
}

/** An output location: a bucket prefix or a folder, spoken to by keys relative to it. */
export interface OutputSink {
  /** The absolute key (S3) or path (folder) of a relative key. */
  keyOf(rel: string): string;
  /** Write `body` at `rel`; resolves to the bytes written. */
  write(rel: string, body: OutputBody): Promise<number>;
  /** Put `from` (of `bytes` bytes) at `to` and drop `from` (S3: copy, then delete; a folder: rename). */
  move(from: string, to: string, bytes: number): Promise<void>;
  remove(rels: string[]): Promise<void>;
  /** Every object under a relative prefix. */
  list(relPrefix: string): Promise<OutputObject[]>;
  /** Remove everything under a relative prefix (a folder: the directory too). */
  clear(relPrefix: string): Promise<void>;
  /**
   * Create `rel` holding `body` only if nothing is there: true for the one caller that made
   * it, false for every other (S3: PutObject with If-None-Match: *; a folder: a hard link,
   * which fails when the name exists).
   */
  claim(rel: string, body: string): Promise<boolean>;
  /** The body at `rel`, or undefined when there is none. */
  read(rel: string): Promise<Buffer | undefined>;
}

/** The body as Buffers, counted as they pass. */
export function counted(body: OutputBody): { stream: Readable; bytes: () => number } {
  let n = 0;
  const bufs = async function* () {
    const src: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string> = typeof body === "string" || body instanceof Uint8Array ? [body] : body;
    for await (const c of src) {
      const b = typeof c === "string" ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      n += b.length;
      yield b;
    }
  };
  return { stream: Readable.from(bufs()), bytes: () => n };
}
