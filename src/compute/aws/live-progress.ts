/**
 * `ctx.progress` from Lambda. A synchronous invocation says nothing until it ends, so the
 * worker puts a running chunk's latest fraction into its live log parts (worker/live-log.ts,
 * one numbered object every 2 s while something is new) and the client reads them back: for
 * each attempt that has run past the first flush, a GET of its next part number. A GET, not a
 * LIST: the part numbers are known in advance, and S3 bills a LIST at 12.5 times a GET. The
 * local pool sends progress over IPC instead.
 */
import { keys } from "../../store/keys.js";
import type { ObjectStore } from "../../store/types.js";
import type { LivePart, Task } from "../../types.js";

/** The worker's first flush comes 2 s into a chunk (worker/live-log.ts LIVE_LOG_MS). */
const FIRST_LOOK_MS = 2_000;
/** How often each watched attempt is looked at: the worker's flush interval. */
const LOOK_EVERY_MS = 2_000;
/** Reads in flight at once, whatever the number of running chunks. */
const MAX_READS = 16;
/** Parts read for one attempt in one look, to catch up after a slow store. */
const CATCH_UP = 4;

interface Watched {
  task: Task;
  report: (fraction: number) => void;
  /** The next part number to read. */
  next: number;
  /** When to look next. */
  due: number;
  reading: boolean;
}

/** Reads the live parts of running attempts and reports their progress; one timer for all. */
export class LiveProgress {
  private readonly watched = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;
  private reads = 0;

  constructor(private readonly store: ObjectStore) {}

  /** Report the attempt's progress as its parts appear, until the function returned is called. */
  watch(task: Task, report: (fraction: number) => void): () => void {
    const w: Watched = { task, report, next: 1, due: Date.now() + FIRST_LOOK_MS, reading: false };
    this.watched.add(w);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), LOOK_EVERY_MS / 4);
      // The invocations keep the process alive; the poll must not.
      this.timer.unref();
    }
    return () => {
      this.watched.delete(w);
      if (this.watched.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private tick(): void {
    const now = Date.now();
    for (const w of this.watched) {
      if (this.reads >= MAX_READS) return;
      if (w.reading || now < w.due) continue;
      void this.look(w);
    }
  }

  /** Read the parts that appeared since the last look; a failed read is a convenience lost, tried again later. */
  private async look(w: Watched): Promise<void> {
    w.reading = true;
    this.reads++;
    try {
      let latest: number | undefined;
      for (let n = 0; n < CATCH_UP && this.watched.has(w); n++) {
        const body = await this.store.getIfExists(keys.livePart(w.task.runId, w.task.index, w.task.attempt, w.next));
        if (!body) break;
        w.next++;
        const part = JSON.parse(body.toString("utf8")) as LivePart;
        if (typeof part.progress === "number") latest = part.progress;
      }
      if (latest !== undefined && this.watched.has(w)) w.report(latest);
    } catch {
      // Progress is shown, not relied on: the reply carries the outcome.
    } finally {
      w.reading = false;
      w.due = Date.now() + LOOK_EVERY_MS;
      this.reads--;
    }
  }
}
