/**
 * A stored object's bytes in order without holding it whole: an asset or a dependency archive
 * may be larger than the function's memory allows twice over. Whole when small (or of unknown
 * size), else ranged GETs a few at a time.
 */
import type { ObjectStore } from "../src/store/types.js";

/** Bytes of an object held at once while it is read: a few pieces, whatever its size. */
const PIECE_BYTES = 8 * 1024 * 1024;
const PIECES_IN_FLIGHT = 3;

/**
 * The bytes of `key`, recorded as `size` bytes long. The last range asks one byte past that
 * size, so an object that grew shows in the caller's hash.
 */
export async function* objectPieces(store: Pick<ObjectStore, "get" | "getRange">, key: string, size: number | undefined): AsyncGenerator<Buffer> {
  if (size === undefined || size <= PIECE_BYTES) {
    yield await store.get(key);
    return;
  }
  const fetchAt = (at: number) => {
    const p = store.getRange(key, at, at + PIECE_BYTES >= size ? size + 1 : at + PIECE_BYTES);
    // Awaited in turn below; a failure ahead of its turn must not surface as unhandled meanwhile.
    p.catch(() => {});
    return p;
  };
  const queue: Promise<Buffer>[] = [];
  let next = 0;
  const ask = () => {
    for (; queue.length < PIECES_IN_FLIGHT && next < size; next += PIECE_BYTES) queue.push(fetchAt(next));
  };
  ask();
  while (queue.length) {
    const piece = await queue.shift()!;
    ask();
    yield piece;
  }
}
