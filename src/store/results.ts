import { indexOfKey, keys } from "./keys.js";
import type { ObjectStore } from "./types.js";
import type { ResultEnvelope } from "../types.js";

/**
 * Reading a run's results back. A result is either its own object, `results/<index>.json`
 * (every Lambda chunk, every large value), or a line of a segment,
 * `results/seg-<writer>-<seq>.jsonl`, in which a local worker writes all the small results it
 * finished in one go: one file write for hundreds of no-op chunks instead of one each.
 * Both are keyed by run and chunk index, so a duplicate is harmless: any complete copy is
 * the chunk's result.
 */
export class RunResults {
  private segments: Map<number, ResultEnvelope> | undefined;
  private singles: Set<number> | undefined;

  constructor(private readonly store: ObjectStore, private readonly runId: string) {}

  private async load(): Promise<void> {
    if (this.singles) return;
    const listed = await this.store.list(keys.resultsPrefix(this.runId));
    // Filled locally and kept only when complete, so a failed read can simply be retried.
    const singles = new Set<number>();
    const segments = new Map<number, ResultEnvelope>();
    for (const key of listed) {
      if (isSegmentKey(key)) {
        const body = await this.store.getIfExists(key);
        if (!body) continue;
        for (const line of body.toString("utf8").split("\n")) {
          if (!line) continue;
          try {
            const env = JSON.parse(line) as ResultEnvelope;
            if (env.ok && !segments.has(env.index)) segments.set(env.index, env);
          } catch {
            // A torn last line (writer killed mid-write) is skipped; its chunk simply reruns.
          }
        }
      } else {
        const i = indexOfKey(key);
        if (i >= 0) singles.add(i);
      }
    }
    this.singles = singles;
    this.segments = segments;
  }

  /** Indices of chunks that have a complete result. */
  async done(): Promise<Set<number>> {
    await this.load();
    return new Set([...this.singles!, ...this.segments!.keys()]);
  }

  async envelope(index: number): Promise<ResultEnvelope | undefined> {
    await this.load();
    const seg = this.segments!.get(index);
    if (seg) return seg;
    const body = await this.store.getIfExists(keys.result(this.runId, index));
    return body ? (JSON.parse(body.toString("utf8")) as ResultEnvelope) : undefined;
  }
}

export function isSegmentKey(key: string): boolean {
  return /\/seg-[^/]+\.jsonl$/.test(key);
}

export function segmentKey(runId: string, writer: string, seq: number): string {
  return `${keys.resultsPrefix(runId)}seg-${writer}-${seq}.jsonl`;
}
