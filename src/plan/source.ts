import { readOwnedLines } from "./lines.js";
import { readObjectLines } from "./objects.js";
import { readRunResults } from "./run-input.js";
import type { ObjectStore } from "../store/types.js";
import type { ChunkSource } from "../types.js";

/**
 * The chunk value a ChunkSource stands for: carried inline, a JSON slice of the run's payloads
 * object, the lines a byte range owns, or an earlier run's results. Workers and the sequential baseline both use it, so
 * the baseline resolves chunks exactly as a run's workers do.
 */
export async function resolveChunk(source: ChunkSource, store: Pick<ObjectStore, "getRange" | "getIfExists" | "list">): Promise<unknown> {
  switch (source.kind) {
    case "inline":
      return source.value;
    case "stored": {
      const buf = await store.getRange(source.key, source.offset, source.offset + source.length);
      return JSON.parse(buf.toString("utf8"));
    }
    case "lines":
      return readOwnedLines(store, source.key, source.start, source.end, source.size);
    case "object-lines":
      return readObjectLines(source.parts, store);
    case "results":
      return readRunResults(store, source.runId, source.indexes);
  }
}
