/**
 * Group commit of small ok results: each run's pending result bodies go out as one segment
 * file, and a result's reply leaves only after its segment is on disk.
 */
import { toRemoteError } from "../src/errors.js";
import { attemptKey } from "../src/compute/local/protocol.js";
import { segmentKey } from "../src/store/results.js";
import type { ObjectStore } from "../src/store/types.js";
import type { Reply, Task } from "../src/types.js";

/** Bodies larger than this are stored as their own object by the handler. */
export const SEGMENT_MAX_BODY = 8 * 1024;

type Pending = Map<string, { lines: string[]; ids: Set<number> }>;

export class SegmentWriter {
  private pending: Pending = new Map();
  private seq = 0;

  /** `writer` names this writer in segment keys (the process id), so writers never collide. */
  constructor(
    private readonly store: ObjectStore,
    private readonly writer: string,
  ) {}

  /** Takes a small ok result to write in the next segment; false leaves it to the handler to store. */
  offer(task: Task, ok: boolean, body: string): boolean {
    if (!ok || body.length > SEGMENT_MAX_BODY) return false;
    let seg = this.pending.get(task.runId);
    if (!seg) this.pending.set(task.runId, (seg = { lines: [], ids: new Set() }));
    seg.lines.push(body);
    seg.ids.add(attemptKey(task.index, task.attempt));
    return true;
  }

  get empty(): boolean {
    return this.pending.size === 0;
  }

  /**
   * Write every pending segment (taken at the call, so results offered meanwhile wait for the
   * next commit) and return `batch` with each reply whose segment failed turned into an outage.
   */
  async commit(batch: Reply[]): Promise<Reply[]> {
    const segs = this.pending;
    this.pending = new Map();
    const failed = new Map<number, unknown>();
    await Promise.all(
      [...segs].map(async ([runId, seg]) => {
        try {
          await this.store.put(segmentKey(runId, this.writer, ++this.seq), seg.lines.join("\n") + "\n");
        } catch (err) {
          for (const id of seg.ids) failed.set(id, err);
        }
      }),
    );
    if (failed.size === 0) return batch;
    // A result whose segment could not be written exists only here: report an outage instead.
    return batch.map((r) => {
      const err = failed.get(attemptKey(r.index, r.attempt));
      if (err === undefined) return r;
      const { value: _drop, ...rest } = r;
      return { ...rest, ok: false, error: toRemoteError(err, "transient") };
    });
  }
}
